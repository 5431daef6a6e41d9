"""BasicSR 1.4's module path of the prefetchers (``from basicsr.data.prefetch_dataloader import CUDAPrefetcher``).
BasicSR's thread-backed ``PrefetchDataLoader`` is not provided: the DataLoader's workers prefetch."""
from basicsr.data.prefetcher import CPUPrefetcher, CUDAPrefetcher

__all__ = ['CPUPrefetcher', 'CUDAPrefetcher']
