"""Training entry point: ``python train.py -opt options/X.yml [--auto_resume] [--debug] [--force_yml k:k=v]``."""
import argparse
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from basicsr.data import build_dataloader, build_dataset, build_prefetcher
from basicsr.data.demo_data import prepare_demo_data
from basicsr.data.sampler import EnlargedSampler
from basicsr.metrics import check_metric_files
from basicsr.models import build_model
from basicsr.utils.checkpoint import load_checkpoint, remove_stale_temporaries, resumable_states
from basicsr.utils.dist_util import LAUNCHERS, broadcast_object, close_dist, get_dist_info, init_dist
from basicsr.utils.errors import BasicSRError, CheckpointError, OptionError
from basicsr.utils.logger import MessageLogger, get_env_info, get_root_logger, init_tb_logger, init_wandb_logger
from basicsr.utils.misc import get_time_str, mkdir_and_rename, set_random_seed, use_deterministic_algorithms
from basicsr.utils.options import check_dataset_paths, dict2str, parse_options, save_options


def build_arg_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('-opt', required=True, help='path to the option YAML file')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help='distributed launcher')
    parser.add_argument('--auto_resume', action='store_true', help='resume from the newest complete checkpoint')
    parser.add_argument('--debug', action='store_true', help="prefix the name with 'debug_' (short frequencies)")
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)  # passed by torch.distributed.launch
    parser.add_argument('--force_yml', nargs='+', default=[], metavar='KEY:KEY=VALUE',
                        help='override options, e.g. train:total_iter=100 path:resume_state=~')
    return parser


def init_run(argv: Sequence[str] | None, root_path: str | None, is_train: bool) -> dict[str, Any]:
    """Parse the command line and options; join the process group; seed. Shared by training and testing.

    Every rank uses rank 0's ``manual_seed`` (drawn at random when absent), so they agree on the data order;
    the global generators are seeded with ``manual_seed + rank``.
    """
    args = build_arg_parser(__doc__ if is_train else 'Test a model.').parse_args(argv)
    opt = parse_options(args.opt, is_train, args.force_yml, root_path, args.debug)
    init_dist(args.launcher, opt['dist_params']['backend'], opt['dist_params']['port'])
    opt['manual_seed'] = broadcast_object(opt['manual_seed'])
    rank, world_size = get_dist_info()
    opt.update(dist=args.launcher != 'none', rank=rank, world_size=world_size, auto_resume=args.auto_resume)
    if opt['num_gpu'] == 'auto':
        opt['num_gpu'] = torch.cuda.device_count()
    set_random_seed(opt['manual_seed'] + rank)
    if opt['deterministic']:
        use_deterministic_algorithms()
    else:  # the autotuner may pick different algorithms from run to run, so never in deterministic mode
        torch.backends.cudnn.benchmark = opt['cudnn_benchmark'] and torch.cuda.is_available()
    if opt['prepare_demo_data']:
        if rank == 0:
            prepare_demo_data(opt['prepare_demo_data'])
        if opt['dist']:
            torch.distributed.barrier()
    check_dataset_paths(opt)
    check_metric_files(opt['val']['metrics'] or {})
    return opt


def find_resume_state(opt: dict[str, Any]) -> dict[str, Any] | None:
    """The training state to resume from (``path.resume_state`` or, with ``--auto_resume``, the newest complete
    one), with ``path.pretrain_network_*`` pointed at the networks saved with it."""
    paths = opt['path']
    state_path, state = paths['resume_state'], None
    if state_path is not None:
        state = load_checkpoint(state_path)
    elif opt['auto_resume']:
        if opt['rank'] == 0:
            for folder in (paths['training_states'], paths['models']):
                for stale in remove_stale_temporaries(folder):
                    get_root_logger().warning(f'Removed {stale}, left by an interrupted checkpoint write.')
            for candidate in resumable_states(paths['training_states'], paths['models']):
                try:
                    state, state_path = load_checkpoint(candidate), candidate
                    break
                except CheckpointError as err:
                    get_root_logger().warning(f'Skipping an unreadable training state: {err}')
        state_path = broadcast_object(state_path)  # every rank resumes from the state rank 0 picked
        if state is None and state_path is not None:
            state = load_checkpoint(state_path)
    if state is None:
        return None
    models = Path(state_path).resolve().parent.parent / 'models'
    for net in ('g', 'd'):
        if f'network_{net}' in opt:
            paths[f'pretrain_network_{net}'] = str(models / f"net_{net}_{state['iter']}.pth")
            paths[f'param_key_{net}'] = 'params'  # the trained weights, not the EMA a fine-tune may start from
    paths['resume_state'] = str(state_path)
    return state


def create_train_val_dataloaders(opt: dict[str, Any], logger: logging.Logger) -> tuple:
    """The training loader and sampler, and ``[(name, loader)]`` for validation."""
    train_loader = sampler = None
    val_loaders = []
    for phase, dataset_opt in opt['datasets'].items():
        dataset = build_dataset(dataset_opt)
        if phase.split('_')[0] == 'train':
            sampler = EnlargedSampler(len(dataset), opt['world_size'], opt['rank'],
                                      dataset_opt['dataset_enlarge_ratio'], dataset_opt['use_shuffle'],
                                      opt['manual_seed'])
            train_loader = build_dataloader(dataset, dataset_opt, sampler, opt['manual_seed'])
            iters_per_epoch = len(sampler) // dataset_opt['batch_size_per_gpu']
            if iters_per_epoch == 0:
                raise OptionError(f"datasets.{phase}: {len(sampler)} samples per epoch are fewer than "
                                  f"batch_size_per_gpu {dataset_opt['batch_size_per_gpu']}; raise "
                                  'dataset_enlarge_ratio or lower the batch size.', key_path=f'datasets.{phase}')
            total_iters = opt['train']['total_iter']
            logger.info(f"Training set {dataset_opt['name']}: {len(dataset)} images, enlarge ratio "
                        f"{dataset_opt['dataset_enlarge_ratio']}, batch {dataset_opt['batch_size_per_gpu']} x "
                        f"{opt['world_size']} process(es), {iters_per_epoch} iterations per epoch, "
                        f'{total_iters} iterations (~{math.ceil(total_iters / iters_per_epoch)} epochs).')
        else:
            val_loaders.append((dataset_opt['name'], build_dataloader(dataset, dataset_opt)))
            logger.info(f"Validation set {dataset_opt['name']}: {len(dataset)} images.")
    return train_loader, sampler, val_loaders


def make_experiment_folders(opt: dict[str, Any], resuming: bool) -> None:
    """Create the experiment folders; a fresh run moves an existing folder of the same name aside."""
    if opt['rank'] != 0:
        return
    paths = opt['path']
    if not resuming and 'debug' not in opt['name']:
        mkdir_and_rename(paths['experiments_root'])
    for key in ('experiments_root', 'models', 'training_states', 'visualization'):
        Path(paths[key]).mkdir(parents=True, exist_ok=True)


def train_pipeline(root_path: str | None = None, argv: Sequence[str] | None = None) -> None:
    """Run a whole training as the option file describes."""
    opt = init_run(argv, root_path, is_train=True)
    resume_state = find_resume_state(opt)
    make_experiment_folders(opt, resuming=resume_state is not None)
    log_file = Path(opt['path']['log']) / f"train_{opt['name']}_{get_time_str()}.log"
    logger = get_root_logger(log_file=log_file)
    logger.info(get_env_info())
    logger.info('Options:\n' + dict2str(opt))
    if opt['rank'] == 0:
        save_options(opt, Path(opt['path']['experiments_root']) / 'options.yml')
    tb_logger = wandb_run = None
    if 'debug' not in opt['name']:
        if opt['logger']['wandb']['project'] is not None:
            wandb_run = init_wandb_logger(opt)  # before the TensorBoard writer, whose scalars it mirrors
        if opt['logger']['use_tb_logger']:
            tb_logger = init_tb_logger(Path(opt['path']['root']) / 'tb_logger' / opt['name'])

    train_loader, sampler, val_loaders = create_train_val_dataloaders(opt, logger)
    model = build_model(opt)
    start_epoch, current_iter, iter_in_epoch = 0, 0, 0
    if resume_state is not None:
        model.resume_training(resume_state)
        start_epoch, current_iter = resume_state['epoch'], resume_state['iter']
        iter_in_epoch = resume_state.get('iter_in_epoch', 0)
        logger.info(f'Resuming training from epoch {start_epoch}, iteration {current_iter}.')
    try:
        _train_loop(opt, model, train_loader, sampler, val_loaders, tb_logger, start_epoch, current_iter,
                    iter_in_epoch, logger)
    finally:
        if tb_logger is not None:
            tb_logger.close()
        if wandb_run is not None:
            wandb_run.finish()


def _train_loop(opt: dict[str, Any], model: Any, train_loader: Any, sampler: EnlargedSampler, val_loaders: list,
                tb_logger: Any, epoch: int, current_iter: int, iter_in_epoch: int, logger: logging.Logger) -> None:
    train_opt, log_opt, val_opt = opt['train'], opt['logger'], opt['val']
    total_iters, warmup_iter = train_opt['total_iter'], train_opt['warmup_iter']
    train_dataset_opt = next(d for p, d in opt['datasets'].items() if p.split('_')[0] == 'train')
    batch_size = train_dataset_opt['batch_size_per_gpu']
    prefetcher = build_prefetcher(train_loader, train_dataset_opt, model.device)
    msg_logger = MessageLogger(opt, current_iter + 1, tb_logger)
    logger.info(f'Start training from epoch {epoch}, iteration {current_iter + 1}.')
    data_time = iter_time = 0.0
    while current_iter < total_iters:
        sampler.set_epoch(epoch, skip=iter_in_epoch * batch_size)
        prefetcher.reset()
        tick = time.perf_counter()
        batch = prefetcher.next()
        while batch is not None and current_iter < total_iters:
            data_time += time.perf_counter() - tick
            current_iter += 1
            iter_in_epoch += 1
            model.update_learning_rate(current_iter, warmup_iter)
            model.feed_data(batch)
            model.optimize_parameters(current_iter)
            iter_time += time.perf_counter() - tick
            if current_iter % log_opt['print_freq'] == 0:
                count = log_opt['print_freq']
                msg_logger({'epoch': epoch, 'iter': current_iter, 'lrs': model.get_current_learning_rate(),
                            'time': iter_time / count, 'data_time': data_time / count, **model.get_current_log()})
                data_time = iter_time = 0.0
            if current_iter % log_opt['save_checkpoint_freq'] == 0 or current_iter == total_iters:
                logger.info(f'Saving models and training state of iteration {current_iter}.')
                model.save(epoch, current_iter, iter_in_epoch=iter_in_epoch)
            if val_loaders and (current_iter % val_opt['val_freq'] == 0 or current_iter == total_iters):
                for name, loader in val_loaders:
                    model.validation(loader, name, current_iter, tb_logger, val_opt['save_img'])
            tick = time.perf_counter()
            batch = prefetcher.next()
        if batch is None:
            epoch += 1
            iter_in_epoch = 0
    logger.info(f'End of training: {current_iter} iterations.')


def run_cli(pipeline: Callable[..., Any], argv: Sequence[str] | None, root_path: str | None) -> int:
    """Run an entry point; an expected failure (bad options, data or checkpoint) is one clear log line and
    exit status 1 instead of a traceback."""
    try:
        pipeline(root_path, argv)
    except BasicSRError as err:
        get_root_logger().error(f'error: {err}')
        return 1
    finally:
        close_dist()
    return 0


def main(argv: Sequence[str] | None = None, root_path: str | None = None) -> int:
    """Console entry point (``basicsr-train``)."""
    return run_cli(train_pipeline, argv, root_path)


if __name__ == '__main__':
    sys.exit(main())
