# Imports every *_arch.py file of this folder, in name order, as Real-ESRGAN's archs/__init__.py does. These files
# import basicsr.utils.registry only, so they register before basicsr.archs (the built-ins) is imported.
import importlib
import sys
from os import path as osp

from basicsr.utils import scandir

arch_folder = osp.dirname(osp.abspath(__file__))
arch_filenames = [osp.splitext(osp.basename(v))[0] for v in scandir(arch_folder) if v.endswith('_arch.py')]
_arch_modules = [importlib.import_module(f'gansr.archs.{file_name}') for file_name in sorted(arch_filenames)]
BASICSR_ARCHS_LOADED = 'basicsr.archs' in sys.modules  # for the test: were the built-ins registered before?
