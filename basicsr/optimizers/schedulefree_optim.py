"""Schedule-free AdamW, SGD and RAdam (Defazio et al. 2024; the authors' ``schedulefree`` package, Apache-2.0).

They need no learning-rate schedule (a constant rate, optionally their own ``warmup_steps``), but evaluate at other
weights than they train at: see :mod:`basicsr.optimizers.mode`.
"""
from basicsr.optimizers.registration import register_package_optimizers

register_package_optimizers('schedulefree', ('AdamWScheduleFree', 'SGDScheduleFree', 'RAdamScheduleFree'),
                            distribution='schedulefree')
