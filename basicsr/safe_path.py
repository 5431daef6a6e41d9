"""``python -m basicsr.<module>`` must not import code from the working folder.

``python -m`` puts the working folder first on ``sys.path``, so a ``tensorboard.py`` (or ``numpy.py``) lying in the
data folder a run is started from would be imported instead of the real package, and run. Imported first by
``basicsr/__init__.py``: while Python is still locating a ``-m`` module (``sys.argv[0] == '-m'``) and that module is
basicsr's, the working folder is taken off ``sys.path`` before anything else is imported (as ``python -P`` would).
basicsr itself has been found by then; a program that imports basicsr keeps its ``sys.path``.
"""
import os
import sys


def running_basicsr_module() -> bool:
    """Whether this process is ``python -m basicsr[.something]`` and Python is still locating that module."""
    if sys.argv[:1] != ['-m']:
        return False
    args = list(getattr(sys, 'orig_argv', []))
    for index, arg in enumerate(args):
        module = args[index + 1] if arg == '-m' and index + 1 < len(args) else arg[2:] if arg.startswith('-m') else ''
        if module:
            return module == 'basicsr' or module.startswith('basicsr.')
    return False


def drop_working_folder() -> None:
    """Remove the working folder that ``python -m`` put first on ``sys.path``."""
    if sys.path and sys.path[0] in ('', os.getcwd()):
        del sys.path[0]


if running_basicsr_module():
    drop_working_folder()
