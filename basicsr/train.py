"""Training entry point: ``python train.py -opt options/X.yml [--auto_resume] [--debug] [--force_yml k:k=v]``."""
import contextlib
import logging
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from basicsr.utils.flags import parse_args
from basicsr.data import build_dataloader, build_dataset, build_prefetcher
from basicsr.data.demo_data import prepare_demo_data
from basicsr.data.sampler import EnlargedSampler
from basicsr.models import build_model
from basicsr.optimizers import eval_weights, eval_weights_read_only
from basicsr.config import RunContext, dict2str, read_options, resolve_options, save_options
from basicsr.config.preflight import check_inputs
from basicsr.config.sanity import sanity_warnings
from basicsr.utils.checkpoint import last_complete_checkpoint_hint
from basicsr.utils.dist_util import close_dist, init_dist
from basicsr.utils.errors import BasicSRError, CheckpointError, OptionError, TrainingInterrupted
from basicsr.utils.logger import MessageLogger, get_env_info, get_root_logger, init_tb_logger, init_wandb_logger
from basicsr.utils.threads import set_thread_defaults
from basicsr.utils.misc import (get_time_str, mkdir_and_rename, random_state_kept, set_random_seed,
                                use_deterministic_algorithms)
from basicsr.utils.run_lock import RunLock, acquire_run_lock

INTERRUPTED_EXIT_STATUS = 128 + signal.SIGINT  # what a shell reports for a process stopped by Ctrl-C


def init_run(argv: Sequence[str] | None, root_path: str | None,
             is_train: bool) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Parse the command line and options; join the process group; resolve the options; seed; check every input
    file. Shared by training and testing; returns the options and the training state to resume from. Nothing is
    written yet (except the built-in demo data when the options ask for it).

    Every rank uses rank 0's ``manual_seed`` (drawn at random when absent), so they agree on the data order;
    the global generators are seeded with ``manual_seed + rank``.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv, is_train)
    validated, lines = read_options(args.opt, is_train, args.force_yml, args.lenient)
    init_dist(args.launcher, validated['dist_params']['backend'], validated['dist_params']['port'])
    context = RunContext(is_train=is_train, root_path=root_path, debug=args.debug, launcher=args.launcher,
                         auto_resume=args.auto_resume, argv=tuple(argv))
    opt, resume_state = resolve_options(validated, lines, context)
    set_random_seed(opt['manual_seed'] + opt['rank'])
    if opt['deterministic']:
        use_deterministic_algorithms()
    else:  # the autotuner may pick different algorithms from run to run, so never in deterministic mode
        torch.backends.cudnn.benchmark = opt['cudnn_benchmark'] and torch.cuda.is_available()
    if opt['prepare_demo_data']:
        if opt['rank'] == 0:
            prepare_demo_data(opt['prepare_demo_data'])
        if opt['dist']:
            torch.distributed.barrier()
    check_inputs(opt)
    return opt, resume_state


def create_train_val_dataloaders(opt: dict[str, Any], datasets: dict[str, Any], logger: logging.Logger) -> tuple:
    """The training loader and sampler, and ``[(name, loader)]`` for validation, over the built ``datasets``."""
    train_loader = sampler = None
    val_loaders = []
    for phase, dataset_opt in opt['datasets'].items():
        dataset = datasets[phase]
        if phase.split('_')[0] == 'train':
            sampler = EnlargedSampler(len(dataset), opt['world_size'], opt['rank'],
                                      dataset_opt['dataset_enlarge_ratio'], dataset_opt['use_shuffle'],
                                      opt['manual_seed'])
            train_loader = build_dataloader(dataset, dataset_opt, sampler, opt['manual_seed'])
            accum = opt['train']['accum_iter']
            iters_per_epoch = len(sampler) // (dataset_opt['batch_size_per_gpu'] * accum)
            if iters_per_epoch == 0:
                raise OptionError(f"datasets.{phase}: {len(sampler)} samples per epoch are fewer than "
                                  f"batch_size_per_gpu {dataset_opt['batch_size_per_gpu']} x train.accum_iter "
                                  f'{accum}; raise dataset_enlarge_ratio or lower the batch size.',
                                  key_path=f'datasets.{phase}')
            total_iters = opt['train']['total_iter']
            logger.info(f"Training set {dataset_opt['name']}: {len(dataset)} images, enlarge ratio "
                        f"{dataset_opt['dataset_enlarge_ratio']}, batch {dataset_opt['batch_size_per_gpu']} x "
                        f"{opt['world_size']} process(es)"
                        + (f' x {accum} accumulated micro-batches' if accum > 1 else '')
                        + f', {iters_per_epoch} iterations per epoch, '
                        f'{total_iters} iterations (~{math.ceil(total_iters / iters_per_epoch)} epochs).')
        else:
            val_loaders.append((dataset_opt['name'], build_dataloader(dataset, dataset_opt)))
            logger.info(f"Validation set {dataset_opt['name']}: {len(dataset)} images.")
    return train_loader, sampler, val_loaders


def make_experiment_folders(opt: dict[str, Any], resuming: bool) -> RunLock | None:
    """Take the run lock of the experiment folder (another live run of the same name is one RunLockError naming
    it), then create the folders; a fresh run moves an existing folder of the same name aside. Returns the lock
    (rank 0; None on the other ranks), to release when the run ends."""
    if opt['rank'] != 0:
        return None
    paths = opt['path']
    lock = acquire_run_lock(paths['experiments_root'], 'training')
    if not resuming and 'debug' not in opt['name']:
        mkdir_and_rename(paths['experiments_root'])
    for key in ('experiments_root', 'models', 'training_states', 'visualization'):
        Path(paths[key]).mkdir(parents=True, exist_ok=True)
    return lock


def train_pipeline(root_path: str | None = None, argv: Sequence[str] | None = None) -> None:
    """Run a whole training as the option file describes (BasicSR's entry point for plug-in repositories:
    ``basicsr.train.train_pipeline(root_path)`` reads the command line)."""
    opt, resume_state = init_run(argv, root_path, is_train=True)
    # the data is checked before any folder is made or an earlier run's folder archived
    datasets = {phase: build_dataset(dataset_opt) for phase, dataset_opt in opt['datasets'].items()}
    lock = make_experiment_folders(opt, resuming=resume_state is not None)
    with lock or contextlib.nullcontext():  # held (rank 0) until the run ends, however it ends
        _run(opt, datasets, resume_state)


def _run(opt: dict[str, Any], datasets: dict[str, Any], resume_state: dict[str, Any] | None) -> None:
    """The run inside its experiment folder: logs, loaders, the model, the loop."""
    log_file = Path(opt['path']['log']) / f"train_{opt['name']}_{get_time_str()}.log"
    logger = get_root_logger(log_file=log_file)
    logger.info(get_env_info())
    logger.info('Options:\n' + dict2str(opt))
    for warning in sanity_warnings(opt):
        logger.warning(warning)
    if opt['rank'] == 0:
        save_options(opt, Path(opt['path']['experiments_root']) / 'options.yml')
    tb_logger = wandb_run = None
    if 'debug' not in opt['name']:
        if opt['logger']['wandb']['project'] is not None:
            wandb_run = init_wandb_logger(opt)  # before the TensorBoard writer, whose scalars it mirrors
        if opt['logger']['use_tb_logger']:
            tb_logger = init_tb_logger(Path(opt['path']['root']) / 'tb_logger' / opt['name'])

    train_loader, sampler, val_loaders = create_train_val_dataloaders(opt, datasets, logger)
    set_thread_defaults(workers_per_rank=train_loader.num_workers, logger=logger)
    model = build_model(opt)
    position = TrainingPosition()
    if resume_state is not None:
        model.resume_training(resume_state)
        position = TrainingPosition(resume_state['epoch'], resume_state['iter'],
                                    resume_state.get('iter_in_epoch', 0), last_saved=resume_state['iter'])
        logger.info(f'Resuming training from epoch {position.epoch}, iteration {position.iter}.')
    try:
        with stop_on_interrupt(not opt['dist']) as stop:
            _train_loop(opt, model, train_loader, sampler, val_loaders, tb_logger, position, stop, logger)
    finally:
        if tb_logger is not None:
            tb_logger.close()
        if wandb_run is not None:
            wandb_run.finish()


class TrainingPosition:
    """Where a run is: epoch, iteration, iteration inside the epoch, and the last saved iteration (None: none)."""

    def __init__(self, epoch: int = 0, iteration: int = 0, iter_in_epoch: int = 0,
                 last_saved: int | None = None) -> None:
        self.epoch, self.iter, self.iter_in_epoch, self.last_saved = epoch, iteration, iter_in_epoch, last_saved


class StopRequest:
    """Set by the first Ctrl-C: the loop stops after the current step."""
    requested = False


@contextlib.contextmanager
def stop_on_interrupt(enabled: bool) -> Iterator[StopRequest]:
    """While inside, the first SIGINT (Ctrl-C) only sets the yielded :class:`StopRequest`; a second one stops at
    once. Off in distributed runs (ranks would stop at different steps) and outside the main thread."""
    stop = StopRequest()
    try:
        previous = signal.getsignal(signal.SIGINT) if enabled else None
        if enabled:
            def request_stop(signum: int, frame: Any) -> None:  # no logging here: it may interrupt a log write
                stop.requested = True
                signal.signal(signal.SIGINT, previous)  # a second Ctrl-C is a KeyboardInterrupt

            signal.signal(signal.SIGINT, request_stop)
    except ValueError:  # not the main thread: signals cannot be handled here
        enabled = False
    try:
        yield stop
    finally:
        if enabled:
            signal.signal(signal.SIGINT, previous)


def _train_loop(opt: dict[str, Any], model: Any, train_loader: Any, sampler: EnlargedSampler, val_loaders: list,
                tb_logger: Any, position: TrainingPosition, stop: StopRequest, logger: logging.Logger) -> None:
    train_opt, log_opt, val_opt = opt['train'], opt['logger'], opt['val']
    total_iters, warmup_iter = train_opt['total_iter'], train_opt['warmup_iter']
    train_dataset_opt = next(d for p, d in opt['datasets'].items() if p.split('_')[0] == 'train')
    accum = train_opt['accum_iter']
    samples_per_iter = train_dataset_opt['batch_size_per_gpu'] * accum
    prefetcher = build_prefetcher(train_loader, train_dataset_opt, model.device)
    msg_logger = MessageLogger(opt, position.iter + 1, tb_logger)
    logger.info(f'Start training from epoch {position.epoch}, iteration {position.iter + 1}.')
    data_time = iter_time = 0.0
    show_bar = log_opt['pbar'] and opt['rank'] == 0 and sys.stderr.isatty()
    with progress_bar(total_iters, position.iter, show_bar, logger) as bar:
        while position.iter < total_iters:
            sampler.set_epoch(position.epoch, skip=position.iter_in_epoch * samples_per_iter)
            prefetcher.reset()
            tick = time.perf_counter()
            batches = _step_batches(prefetcher, accum)
            while batches is not None and position.iter < total_iters:
                data_time += time.perf_counter() - tick
                position.iter += 1
                position.iter_in_epoch += 1
                current_iter = position.iter
                model.update_learning_rate(current_iter, warmup_iter)
                for index, batch in enumerate(batches):
                    with model.micro_batch_step(index, accum):
                        model.feed_data(batch)
                        model.optimize_parameters(current_iter)
                iter_time += time.perf_counter() - tick
                bar.step(model)
                if current_iter % log_opt['print_freq'] == 0:
                    count = log_opt['print_freq']
                    msg_logger({'epoch': position.epoch, 'iter': current_iter,
                                'lrs': model.get_current_learning_rate(), 'time': iter_time / count,
                                'data_time': data_time / count, **model.get_current_log()})
                    data_time = iter_time = 0.0
                if current_iter % log_opt['save_checkpoint_freq'] == 0 or current_iter == total_iters:
                    _save(model, position, logger)
                if val_loaders and (current_iter % val_opt['val_freq'] == 0 or current_iter == total_iters):
                    for _, loader in val_loaders:
                        with eval_weights_read_only(model.optimizers), random_state_kept():
                            model.validation(loader, current_iter, tb_logger, val_opt['save_img'])
                if stop.requested:
                    _stop(opt, model, position, logger)
                tick = time.perf_counter()
                batches = _step_batches(prefetcher, accum)
            if batches is None:
                position.epoch += 1
                position.iter_in_epoch = 0
    with eval_weights(model.optimizers):
        model.save(position.epoch, -1)  # net_*_latest.pth, as BasicSR
    logger.info(f'End of training: {position.iter} iterations.')


def _step_batches(prefetcher: Any, count: int) -> list[dict[str, Any]] | None:
    """The ``count`` micro-batches of the next optimiser step; None at the end of the epoch (a step that cannot be
    completed is dropped, as a last incomplete batch is)."""
    batches = []
    for _ in range(count):
        batch = prefetcher.next()
        if batch is None:
            return None
        batches.append(batch)
    return batches


def _save(model: Any, position: TrainingPosition, logger: logging.Logger) -> None:
    """Save a checkpoint; a failed write (e.g. a full disk) is one CheckpointError naming the last complete one."""
    logger.info(f'Saving models and training state of iteration {position.iter}.')
    try:
        with eval_weights(model.optimizers):  # schedule-free optimisers: their evaluation weights are saved
            model.save(position.epoch, position.iter, iter_in_epoch=position.iter_in_epoch)
    except CheckpointError as err:
        paths = model.opt['path']
        hint = last_complete_checkpoint_hint(paths['training_states'], paths['models'])
        raise CheckpointError(f'{err} {hint}') from None
    position.last_saved = position.iter


def _stop(opt: dict[str, Any], model: Any, position: TrainingPosition, logger: logging.Logger) -> None:
    """End a run stopped by Ctrl-C, saving first with ``logger.save_on_interrupt``."""
    logger.warning(f'Ctrl-C: stopping after iteration {position.iter}.')
    if opt['logger']['save_on_interrupt'] and position.last_saved != position.iter:
        _save(model, position, logger)
    saved = (f'the last saved checkpoint is iteration {position.last_saved}' if position.last_saved is not None
             else 'nothing was saved yet, so a new run starts over')
    raise TrainingInterrupted(f'Interrupted at iteration {position.iter}; {saved}. Continue with: '
                              f"{opt['resume_command']}")


class _ProgressBar:
    """A tqdm bar over the iterations with the current losses; does nothing when disabled."""

    LOSS_REFRESH_SECONDS = 2.0  # reading the losses synchronises the device: not every step

    def __init__(self, bar: tqdm | None) -> None:
        self.bar = bar
        self.last_refresh = 0.0

    def step(self, model: Any) -> None:
        if self.bar is None:
            return
        self.bar.update(1)
        now = time.monotonic()
        if now - self.last_refresh > self.LOSS_REFRESH_SECONDS and getattr(model, 'log_dict', None):
            self.bar.set_postfix({k: f'{float(v):.4g}' for k, v in model.log_dict.items()}, refresh=False)
            self.last_refresh = now


@contextlib.contextmanager
def progress_bar(total: int, start: int, enabled: bool, logger: logging.Logger) -> Iterator[_ProgressBar]:
    """A training progress bar (iterations, it/s, ETA, losses); log lines print above it while it is shown."""
    if not enabled:
        yield _ProgressBar(None)
        return
    with logging_redirect_tqdm(loggers=[logger]), tqdm(total=total, initial=start, unit='it', dynamic_ncols=True,
                                                       desc='train') as bar:
        yield _ProgressBar(bar)


def run_cli(pipeline: Callable[..., Any], argv: Sequence[str] | None, root_path: str | None) -> int:
    """Run an entry point; an expected failure (bad options, data or checkpoint) is one clear log line and
    exit status 1 instead of a traceback; Ctrl-C is one line and status 130."""
    try:
        pipeline(root_path, argv)
    except TrainingInterrupted as err:
        get_root_logger().warning(str(err))
        return INTERRUPTED_EXIT_STATUS
    except KeyboardInterrupt:
        get_root_logger().warning('Interrupted.')
        return INTERRUPTED_EXIT_STATUS
    except BasicSRError as err:
        get_root_logger().error(str(err))
        return 1
    finally:
        close_dist()
    return 0


def main(argv: Sequence[str] | None = None, root_path: str | None = None) -> int:
    """Console entry point (``basicsr-train``)."""
    return run_cli(train_pipeline, argv, root_path)


if __name__ == '__main__':
    sys.exit(main())
