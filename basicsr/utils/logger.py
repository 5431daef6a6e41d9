"""The run's logger (console + file), the periodic training message, the TensorBoard writer and the optional
Weights & Biases run."""
import datetime
import logging
import os
import time
from typing import Any

from basicsr.utils.dist_util import get_dist_info, master_only
from basicsr.utils.errors import OptionError

LOGGER_NAME = 'basicsr'
_FORMAT = '%(asctime)s %(levelname)s: %(message)s'
_initialized: set[str] = set()


def get_root_logger(logger_name: str = LOGGER_NAME, log_level: int = logging.INFO,
                    log_file: str | os.PathLike | None = None) -> logging.Logger:
    """The package logger. The first call configures it: console output, plus ``log_file`` on rank 0.

    Other ranks only report errors, so a distributed run writes one log.
    """
    logger = logging.getLogger(logger_name)
    if logger_name in _initialized:
        if log_file is not None and get_dist_info()[0] == 0:
            _add_file_handler(logger, log_file, log_level)
        return logger
    logger.propagate = False
    stream = logging.StreamHandler()
    stream.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(stream)
    rank, _ = get_dist_info()
    if rank != 0:
        logger.setLevel(logging.ERROR)
    else:
        logger.setLevel(log_level)
        if log_file is not None:
            _add_file_handler(logger, log_file, log_level)
    _initialized.add(logger_name)
    return logger


def _add_file_handler(logger: logging.Logger, log_file: str | os.PathLike, log_level: int) -> None:
    path = os.path.abspath(log_file)
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler):
            if handler.baseFilename == path:
                return
            logger.removeHandler(handler)  # a new run in the same process logs to its own file
            handler.close()
    handler = logging.FileHandler(path, 'a')
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.setLevel(log_level)
    logger.addHandler(handler)


@master_only
def init_tb_logger(log_dir: str | os.PathLike) -> Any:
    """A TensorBoard ``SummaryWriter`` writing to ``log_dir`` (rank 0 only; None elsewhere)."""
    from torch.utils.tensorboard import SummaryWriter
    return SummaryWriter(log_dir=str(log_dir))


def init_wandb_logger(opt: dict) -> Any:
    """Start a Weights & Biases run for ``logger.wandb.project`` (rank 0 only; None elsewhere).

    As in BasicSR, the run mirrors the TensorBoard writer (``sync_tensorboard``), so call this before
    :func:`init_tb_logger`; ``logger.wandb.resume_id`` continues an existing run. ``wandb`` is imported only here,
    so it is needed only when configured; ``WANDB_MODE=offline`` keeps the run on disk (``wandb sync`` later).
    Every rank checks the options and the import, so that a problem stops all of them alike.
    """
    wandb_opt = opt['logger']['wandb']
    if not opt['logger']['use_tb_logger']:
        raise OptionError('logger.wandb.project is set, which mirrors TensorBoard: set logger.use_tb_logger: true '
                          '(or logger.wandb.project: ~).', key_path='logger.use_tb_logger')
    try:
        import wandb
    except ImportError as err:
        raise OptionError(f"logger.wandb.project is '{wandb_opt['project']}' but the wandb package is not "
                          'installed: pip install wandb, or set logger.wandb.project: ~.',
                          key_path='logger.wandb.project') from err
    if get_dist_info()[0] != 0:
        return None
    resume_id = wandb_opt['resume_id']
    run = wandb.init(project=wandb_opt['project'], name=opt['name'], id=resume_id,
                     resume='allow' if resume_id else 'never', config=opt, dir=opt['path']['root'],
                     sync_tensorboard=True)
    get_root_logger().info(f"Weights & Biases: project {wandb_opt['project']}, run id {run.id}"
                           f"{' (resumed)' if resume_id else ''}; set logger.wandb.resume_id to it to continue.")
    return run


class MessageLogger:
    """Formats the periodic training line and sends the same scalars to TensorBoard.

    The line reads ``[name][epoch:  1, iter:     100, lr:(2.000e-04,)] [eta: 0:10:00, time (data): 0.1 (0.01)]
    l_pix: 1.2e-02``; TensorBoard gets ``losses/<name>`` for every ``l_*`` value, ``lr`` and the others as they are.
    """

    def __init__(self, opt: dict, start_iter: int = 1, tb_logger: Any = None) -> None:
        self.exp_name = opt['name']
        self.interval = opt['logger']['print_freq']
        self.start_iter = start_iter
        self.max_iters = opt['train']['total_iter']
        self.tb_logger = tb_logger
        self.start_time = time.time()
        self.logger = get_root_logger()

    def reset_start_time(self) -> None:
        self.start_time = time.time()

    @master_only
    def __call__(self, log_vars: dict[str, Any]) -> None:
        epoch, current_iter, lrs = log_vars.pop('epoch'), log_vars.pop('iter'), log_vars.pop('lrs')
        message = f"[{self.exp_name[:5]}..][epoch:{epoch:3d}, iter:{current_iter:8,d}, lr:("
        message += ', '.join(f'{lr:.3e}' for lr in lrs) + ')] '
        if 'time' in log_vars:
            iter_time, data_time = log_vars.pop('time'), log_vars.pop('data_time')
            elapsed = time.time() - self.start_time
            done = max(current_iter - self.start_iter + 1, 1)
            eta = datetime.timedelta(seconds=int(elapsed / done * (self.max_iters - current_iter)))
            message += f'[eta: {eta}, time (data): {iter_time:.3f} ({data_time:.3f})] '
        for name, value in log_vars.items():
            message += f'{name}: {value:.4e} '
        self.logger.info(message.rstrip())
        if self.tb_logger is not None:
            self.tb_logger.add_scalar('lr', lrs[0], current_iter)
            for name, value in log_vars.items():
                tag = f'losses/{name}' if name.startswith('l_') else name
                self.tb_logger.add_scalar(tag, value, current_iter)


class AvgTimer:
    """Times successive intervals (BasicSR's iteration timer): :meth:`record` ends one and starts the next;
    :meth:`get_avg_time` is the mean over the intervals since the count last restarted (every ``window``)."""

    def __init__(self, window: int = 200) -> None:
        self.window = window
        self.current_time = self.total_time = self.avg_time = 0.0
        self.count = 0
        self.start()

    def start(self) -> None:
        self.start_time = self.tic = time.time()

    def record(self) -> None:
        now = time.time()
        self.current_time = now - self.tic
        self.count += 1
        self.total_time += self.current_time
        self.avg_time = self.total_time / self.count
        if self.count > self.window:
            self.count, self.total_time = 0, 0.0
        self.tic = now

    def get_current_time(self) -> float:
        return self.current_time

    def get_avg_time(self) -> float:
        return self.avg_time


def get_env_info() -> str:
    """Versions of the packages a run depends on, for the top of the log."""
    from importlib.metadata import version  # torchvision's version without importing it (seconds of start-up)

    import numpy
    import torch

    from basicsr.version import __version__
    cuda = torch.version.cuda if torch.cuda.is_available() else 'not available'
    return (f"basicsr {__version__}, PyTorch {torch.__version__}, TorchVision {version('torchvision')}, "
            f'numpy {numpy.__version__}, CUDA {cuda}')
