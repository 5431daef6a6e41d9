"""BasicSR 1.4's module path of the training sampler (``from basicsr.data.data_sampler import EnlargedSampler``)."""
from basicsr.data.sampler import EnlargedSampler

__all__ = ['EnlargedSampler']
