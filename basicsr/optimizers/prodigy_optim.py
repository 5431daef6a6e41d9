"""Prodigy (Mishchenko and Defazio 2024), the authors' ``prodigyopt`` package (MIT): Adam that estimates its own
step size; keep ``lr: 1.0`` and let it adapt."""
from basicsr.optimizers.registration import register_package_optimizers

register_package_optimizers('prodigyopt', ('Prodigy',), distribution='prodigyopt')
