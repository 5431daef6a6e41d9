"""Adan, ADOPT, SOAP, Lion and StableAdamW from ``pytorch-optimizer`` (Apache-2.0).

One actively maintained collection with all five (releases through 2026) rather than one package per paper: SOAP
and ADOPT have no package of their own on PyPI, and traiNNer-redux draws on the same collection. Its constructors
accept any extra keyword; here a misspelt key is an option error instead. Importing it takes about a second (it
imports torch.distributed.tensor), so it is imported only when an option file names one of these.
"""
from basicsr.optimizers.registration import register_package_optimizers

register_package_optimizers('pytorch_optimizer', ('Adan', 'ADOPT', 'SOAP', 'Lion', 'StableAdamW'),
                            distribution='pytorch-optimizer', lazy=True)
