"""What every training recipe shares: devices, optimisers, schedules, EMA, checkpoints, loss bookkeeping."""
import copy
import random
from collections import OrderedDict
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from basicsr.models.inference import autocast
from basicsr.models.speed import build_fast_optimizer, check_amp, compile_network, make_grad_scaler, to_channels_last
from basicsr.archs import build_network
from basicsr.utils.checkpoint import (chosen_param_key, extract_state_dict, load_checkpoint, prune_checkpoints,
                                      save_checkpoint)
from basicsr.utils.dist_util import (check_replicas_in_sync, gather_to_master, get_dist_info, master_only,
                                     select_device)
from basicsr.utils.errors import CheckpointError, TrainingError
from basicsr.utils.logger import get_root_logger
from basicsr.utils.options import fill_defaults
from basicsr.utils.registry import SCHEDULER_REGISTRY


class BaseModel:
    """Base of the models (training recipes). Subclasses build their networks and losses and implement
    ``feed_data``, ``optimize_parameters``, ``test`` and ``validation``.

    A recipe declares the option keys it reads, in its own file, with the pieces of
    :mod:`basicsr.utils.option_schema`: ``root_options`` (root level, e.g. ``network_g``) and ``train_options``
    (under ``train:``, e.g. a loss ``'ldl_opt': LOSS``). Subclasses inherit and extend their parents' keys; the
    option parser validates them (file, line, closest-key suggestion). Checks across keys go in
    :meth:`check_options`.

    Networks are the attributes ``net_<label>`` (``net_g``, ``net_d``, any others); ``net_<label>_ema`` is the
    EMA copy of ``net_<label>``. Saving, resuming and pruning walk :meth:`networks`.
    """

    root_options: ClassVar[dict[str, Any]] = {}
    train_options: ClassVar[dict[str, Any]] = {}

    @classmethod
    def check_options(cls, opt: dict[str, Any]) -> Iterator[tuple[str, str]]:
        """Problems across keys of validated options, as ``(dotted key path, message)``; called at parse time."""
        return iter(())

    def __init__(self, opt: dict[str, Any]) -> None:
        fill_defaults(opt, type(self))  # options made by hand (BasicSR's tests, plug-ins) get the defaults
        self.opt = opt
        self.device = select_device(opt['num_gpu'])
        self.is_train = opt['is_train']
        self.optimizers: list[torch.optim.Optimizer] = []
        self.schedulers: list[Any] = []
        self.logger = get_root_logger()
        self._loss_sums: dict[str, torch.Tensor] = {}
        self._loss_counts: dict[str, int] = {}
        self._nonfinite_streak = 0
        train_opt = (opt.get('train') or {}) if self.is_train else {}
        self.amp = train_opt.get('amp', 'none')
        self.channels_last = train_opt.get('channels_last', False)
        self.compile = train_opt.get('compile', False)
        check_amp(self.amp, self.device, self.logger)
        self.grad_scalers: dict[torch.optim.Optimizer, torch.amp.GradScaler] = {}  # fp16: one per optimiser

    # ----------------------------------------------------------------------------------------- networks
    def model_to_device(self, net: nn.Module, name: str = 'network') -> nn.Module:
        """Move ``net`` to the device; in distributed runs wrap it in DistributedDataParallel (which starts every
        rank from rank 0's weights and averages gradients), unless it has nothing to train.

        The root option ``find_unused_parameters`` is for networks whose forward pass leaves some parameters
        without gradients. For training, ``train.channels_last`` stores the weights as NHWC and ``train.compile``
        compiles the network (after the DDP wrapping, as DDP's graph-break optimisation needs).
        """
        net = net.to(self.device)
        if self.channels_last:
            net = to_channels_last(net)
        if self.opt.get('dist') and any(p.requires_grad for p in net.parameters()):
            find_unused = self.opt.get('find_unused_parameters', False)
            device_ids = [self.device.index] if self.device.type == 'cuda' else None
            net = DistributedDataParallel(net, device_ids=device_ids, find_unused_parameters=find_unused)
        return compile_network(net, self.compile, name, self.logger)

    def autocast(self) -> Any:
        """Context for the forward pass and losses of a training step: autocast to ``train.amp`` (none: no-op)."""
        return autocast(self.device, self.amp)

    def to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        """A batch tensor on the device (an asynchronous copy from pinned memory), NHWC with channels_last."""
        if self.channels_last and tensor.dim() == 4:
            return tensor.to(self.device, non_blocking=True, memory_format=torch.channels_last)
        return tensor.to(self.device, non_blocking=True)

    @staticmethod
    def get_bare_model(net: nn.Module) -> nn.Module:
        """The network inside a (Distributed)DataParallel or compiled wrapper."""
        while isinstance(net, (DistributedDataParallel, nn.DataParallel)) or hasattr(net, '_orig_mod'):
            net = net.module if hasattr(net, 'module') else net._orig_mod
        return net

    @staticmethod
    def unwrap_compiled(net: Any) -> Any:
        """What a compiled network wraps (e.g. its DistributedDataParallel wrapper); anything else unchanged."""
        while hasattr(net, '_orig_mod'):
            net = net._orig_mod
        return net

    @master_only
    def print_network(self, net: nn.Module) -> None:
        bare = self.get_bare_model(net)
        count = sum(p.numel() for p in bare.parameters())
        self.logger.info(f'Network {bare.__class__.__name__}, with parameters: {count:,d}')
        self.logger.debug(str(bare))

    def networks(self) -> dict[str, nn.Module]:
        """The trained networks by label: every attribute ``net_<label>`` that is a module (EMA copies excluded)."""
        return {name[len('net_'):]: value for name, value in vars(self).items()
                if name.startswith('net_') and not name.endswith('_ema') and isinstance(value, nn.Module)}

    def build_trained_network(self, label: str) -> nn.Module:
        """``network_<label>`` of the options, on the device (wrapped for DDP/compile), its size logged, and
        loaded from ``path.pretrain_network_<label>`` when set (``strict_load_<label>``, ``param_key_<label>``)."""
        net = self.model_to_device(build_network(self.opt[f'network_{label}'], f'network_{label}'),
                                   f'network_{label}')
        self.print_network(net)
        paths = self.opt['path']
        if paths.get(f'pretrain_network_{label}'):
            self.load_network(net, paths[f'pretrain_network_{label}'], paths.get(f'strict_load_{label}', True),
                              paths.get(f'param_key_{label}', 'params'))
        return net

    def load_network(self, net: nn.Module, load_path: str, strict: bool = True, param_key: str = 'params') -> None:
        """Load weights from ``load_path`` (``params``/``params_ema`` wrapper or bare state dict) into ``net``.

        Strict: shape mismatches, missing and unexpected keys are CheckpointErrors naming the file and tensors.
        Non-strict (BasicSR's ``strict_load_*: false``, e.g. fine-tuning x3 from an x4 network): tensors whose
        shapes differ are skipped, and they and the missing/unexpected keys are named in a warning.
        """
        bare = self.get_bare_model(net)
        checkpoint = load_checkpoint(load_path)
        found = chosen_param_key(checkpoint, param_key)
        if found not in (param_key, None):
            self.logger.warning(f'{load_path} holds no [{param_key}]; loading [{found}] instead.')
        state = extract_state_dict(checkpoint, param_key, load_path)
        try:
            state = self.convert_state_dict(bare, state)
        except CheckpointError as err:  # the network does not know the file: name it here
            raise CheckpointError(f'{load_path}: {err}') from None
        own = bare.state_dict()
        mismatched = {k: f'{k}: {tuple(v.shape)} in file, {tuple(own[k].shape)} in network'
                      for k, v in state.items() if k in own and v.shape != own[k].shape}
        if strict and mismatched:
            raise CheckpointError(f'{load_path}: shapes differ from {bare.__class__.__name__}: '
                                  + '; '.join(list(mismatched.values())[:5])
                                  + '; set path.strict_load_* to false to skip them.')
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if strict and (missing or unexpected):
            raise CheckpointError(f'{load_path}: keys do not match {bare.__class__.__name__} '
                                  f'(missing {missing[:5]}, unexpected {unexpected[:5]}); '
                                  'set path.strict_load_* to false to load what fits.')
        if mismatched:
            self.logger.warning(f'Loading {load_path} non-strictly: skipped tensors whose shapes differ: '
                                + '; '.join(mismatched.values()) + '.')
            state = OrderedDict((k, v) for k, v in state.items() if k not in mismatched)
        if missing or unexpected:
            self.logger.warning(f'Loading {load_path} non-strictly: missing {missing}, unexpected {unexpected}.')
        bare.load_state_dict(state, strict=False)
        self.logger.info(f"Loaded {bare.__class__.__name__} from {load_path} [{found or 'bare state dict'}].")

    @staticmethod
    def convert_state_dict(net: nn.Module, state: 'OrderedDict[str, torch.Tensor]') -> 'OrderedDict[str, torch.Tensor]':
        """Let a network translate other published key layouts into its own (``net.convert_state_dict``)."""
        convert = getattr(net, 'convert_state_dict', None)
        return convert(state) if convert else state

    def save_network(self, nets: nn.Module | list[nn.Module], net_label: str, current_iter: int | str,
                     param_keys: str | list[str] = 'params') -> None:
        """Write ``<models>/<net_label>_<iter>.pth`` holding ``{param_key: state_dict}`` for each network
        (``<net_label>_latest.pth`` for ``current_iter`` -1, as BasicSR)."""
        current_iter = 'latest' if current_iter == -1 else current_iter
        nets = nets if isinstance(nets, list) else [nets]
        param_keys = param_keys if isinstance(param_keys, list) else [param_keys]
        checkpoint = {}
        for net, key in zip(nets, param_keys):
            state = self.get_bare_model(net).state_dict()
            checkpoint[key] = OrderedDict((k, v.detach().cpu()) for k, v in state.items())
            broken = [k for k, v in checkpoint[key].items() if v.is_floating_point() and not v.isfinite().all()]
            if broken:
                raise TrainingError(f'{net_label} ({key}) holds non-finite values in {broken[:5]} at iteration '
                                    f'{current_iter}; it is not saved, the previous checkpoints are kept.')
        if get_dist_info()[0] == 0:
            save_checkpoint(checkpoint, Path(self.opt['path']['models']) / f'{net_label}_{current_iter}.pth')

    def save(self, epoch: int, current_iter: int, **extra: Any) -> None:
        """Save every network of :meth:`networks` (with its EMA copy as ``params_ema``), then the training state
        (after the networks, so an existing ``.state`` means a complete checkpoint). ``current_iter`` -1 writes
        ``net_<label>_latest.pth`` only, as BasicSR does at the end of training."""
        for label, net in self.networks().items():
            ema = getattr(self, f'net_{label}_ema', None)
            if ema is not None:
                self.save_network([net, ema], f'net_{label}', current_iter, ['params', 'params_ema'])
            else:
                self.save_network(net, f'net_{label}', current_iter)
        if current_iter != -1:  # (recipes may gather state for it: skip the call, not only the write)
            self.save_training_state(epoch, current_iter, **extra)

    # ----------------------------------------------------------------------------------------- optimisation
    def get_optimizer(self, optim_type: str, params: Iterable[nn.Parameter], lr: float,
                      **kwargs: Any) -> torch.optim.Optimizer:
        """BasicSR's optimiser factory for plug-in recipes (they append it to ``self.optimizers`` themselves)."""
        return build_fast_optimizer({'type': optim_type, 'lr': lr, **kwargs}, 'train.optim', list(params))

    def build_optimizer(self, optim_opt: dict[str, Any], params: Iterable[nn.Parameter],
                        key_path: str) -> torch.optim.Optimizer:
        """An optimiser of ``torch.optim`` configured by ``optim_opt`` (``type`` plus its arguments), fused where
        possible; with ``train.amp: fp16`` it gets its own gradient scaler."""
        optimizer = build_fast_optimizer(optim_opt, key_path, list(params))
        self.optimizers.append(optimizer)
        scaler = make_grad_scaler(self.amp, self.device)
        if scaler is not None:
            self.grad_scalers[optimizer] = scaler
        return optimizer

    def setup_schedulers(self) -> None:
        """One schedule (``train.scheduler``; a constant rate without one) per optimiser, set to iteration 0."""
        constant = {'type': 'MultiStepLR', 'milestones': []}
        scheduler_opt = self.opt['train'].get('scheduler') or constant
        for optimizer in self.optimizers:
            self.schedulers.append(SCHEDULER_REGISTRY.build(scheduler_opt, 'train.scheduler', optimizer=optimizer))
        self.update_learning_rate(0)

    def update_learning_rate(self, current_iter: int, warmup_iter: int = -1) -> None:
        """Set every optimiser's learning rate for ``current_iter`` (with linear warm-up before ``warmup_iter``)."""
        for schedule in self.schedulers:
            schedule.step_to(current_iter, warmup_iter)

    def guarded_step(self, losses: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer,
                     current_iter: int) -> bool:
        """Back-propagate the sum of ``losses`` and step ``optimizer``, unless the loss or a gradient is not finite.

        A non-finite step is skipped (gradients dropped) and logged with the loss terms; after
        ``train.max_nonfinite_steps`` of them in a row the run stops with a TrainingError. One device
        synchronisation per call. Returns whether the step was taken.

        With ``train.amp: fp16`` the loss is scaled before back-propagation; a gradient overflow is then the
        scaler's business (it skips the step and lowers the scale, as happens a few times at the start of every
        fp16 run) and does not count as non-finite: only a non-finite loss does.
        """
        total = sum(losses.values())
        scaler = self.grad_scalers.get(optimizer)
        if scaler is None:
            total.backward()
        else:
            scaler.scale(total).backward()
            scaler.unscale_(optimizer)
        grads = [p.grad for group in optimizer.param_groups for p in group['params'] if p.grad is not None]
        norms = torch.stack([total.detach().float(), *[n.float() for n in torch._foreach_norm(grads)]])
        if self.opt.get('dist'):  # every rank must take the same decision; a NaN anywhere makes the sum NaN
            dist.all_reduce(norms)
        loss_finite, *grads_finite = norms.isfinite().tolist()
        if loss_finite and scaler is not None:
            scaler.step(optimizer)  # skipped by the scaler itself when the gradients overflowed
            scaler.update()
            self._nonfinite_streak = 0
            if not all(grads_finite):
                self.logger.debug(f'Iteration {current_iter}: fp16 gradient overflow, step skipped; loss scale '
                                  f'lowered to {scaler.get_scale():g}.')
            return all(grads_finite)
        if loss_finite and all(grads_finite):
            optimizer.step()
            self._nonfinite_streak = 0
            return True
        if scaler is not None:
            scaler.update()  # it saw the gradients (unscale_): an overflow lowers the scale
        self._skip_nonfinite_step(optimizer, losses, current_iter)
        return False

    def _skip_nonfinite_step(self, optimizer: torch.optim.Optimizer, losses: dict[str, torch.Tensor],
                             current_iter: int) -> None:
        optimizer.zero_grad(set_to_none=True)
        self._nonfinite_streak += 1
        terms = ', '.join(f'{name} {value.item():.4g}' for name, value in losses.items())
        limit = self.opt['train'].get('max_nonfinite_steps', 5)
        self.logger.warning(f'Iteration {current_iter}: non-finite loss or gradient ({terms}); step skipped '
                            f'({self._nonfinite_streak} in a row, limit {limit}).')
        if self._nonfinite_streak >= limit:
            raise TrainingError(f'iteration {current_iter}: {self._nonfinite_streak} non-finite steps in a row '
                                f'(train.max_nonfinite_steps = {limit}); stopping. Lower the learning rate or '
                                'check the data; the last saved checkpoint is intact.')

    def get_current_learning_rate(self) -> list[float]:
        return [group['lr'] for group in self.optimizers[0].param_groups]

    # ----------------------------------------------------------------------------------------- EMA
    def setup_ema(self, net: nn.Module, net_opt: dict[str, Any], load_path: str | None, strict: bool) -> None:
        """Create ``self.net_g_ema``, an exponential moving average of ``net`` (a copy that is never trained).

        It starts from the ``params_ema`` of ``load_path`` when given, else from ``net``'s current weights.
        """
        self.net_g_ema = copy.deepcopy(self.get_bare_model(net)).to(self.device).eval()
        for param in self.net_g_ema.parameters():
            param.requires_grad_(False)
        if load_path is not None:
            self.load_network(self.net_g_ema, load_path, strict, 'params_ema')

    @torch.no_grad()
    def model_ema(self, decay: float = 0.999) -> None:
        """``ema = decay * ema + (1 - decay) * net`` for parameters; buffers (e.g. BatchNorm statistics) copied."""
        net = self.get_bare_model(self.net_g)
        ema_params = list(self.net_g_ema.parameters())
        torch._foreach_lerp_(ema_params, [p.detach() for p in net.parameters()], 1 - decay)
        for ema_buffer, buffer in zip(self.net_g_ema.buffers(), net.buffers()):
            ema_buffer.copy_(buffer)

    # ----------------------------------------------------------------------------------------- validation
    def validation(self, dataloader: DataLoader, current_iter: int, tb_logger: Any = None,
                   save_img: bool = False) -> Any:
        """Validate on ``dataloader`` (BasicSR's entry point): :meth:`dist_validation` in distributed runs, else
        :meth:`nondist_validation`. Every rank must call it."""
        if self.opt.get('dist'):
            return self.dist_validation(dataloader, current_iter, tb_logger, save_img)
        return self.nondist_validation(dataloader, current_iter, tb_logger, save_img)

    def dist_validation(self, dataloader: DataLoader, current_iter: int, tb_logger: Any,
                        save_img: bool) -> Any:
        raise NotImplementedError

    def nondist_validation(self, dataloader: DataLoader, current_iter: int, tb_logger: Any,
                           save_img: bool) -> Any:
        raise NotImplementedError

    def _initialize_best_metric_results(self, dataset_name: str) -> None:
        """Start the best-value records of ``dataset_name`` (BasicSR's layout: ``{metric: {better, val, iter}}``)."""
        if not hasattr(self, 'best_metric_results'):
            self.best_metric_results = {}
        if dataset_name in self.best_metric_results:
            return
        records = {}
        for name, metric_opt in (self.opt['val'].get('metrics') or {}).items():
            better = metric_opt.get('better', 'higher')
            records[name] = {'better': better, 'val': float('-inf') if better == 'higher' else float('inf'),
                             'iter': -1}
        self.best_metric_results[dataset_name] = records

    def _update_best_metric_result(self, dataset_name: str, metric: str, val: float, current_iter: int) -> None:
        record = self.best_metric_results[dataset_name][metric]
        if (val > record['val']) if record['better'] == 'higher' else (val < record['val']):
            record['val'], record['iter'] = val, current_iter

    def _log_validation_metric_values(self, current_iter: int, dataset_name: str, tb_logger: Any) -> None:
        """Log ``self.metric_results`` (the means of the last validation) with the best values so far, and send
        them to TensorBoard as ``metrics/<dataset>/<metric>``."""
        message = f'Validation {dataset_name}'
        for name, value in self.metric_results.items():
            message += f'\n\t # {name}: {value:.4f}'
            record = getattr(self, 'best_metric_results', {}).get(dataset_name, {}).get(name)
            if record is not None and record['iter'] >= 0:
                message += f"\tBest: {record['val']:.4f} @ {record['iter']} iter"
            if tb_logger is not None:
                tb_logger.add_scalar(f'metrics/{dataset_name}/{name}', value, current_iter)
        self.logger.info(message)

    # ----------------------------------------------------------------------------------------- logging
    def accumulate_losses(self, losses: dict[str, torch.Tensor]) -> None:
        """Add this iteration's losses to the running sums (no device synchronisation happens here).

        ``self.log_dict`` holds this iteration's values, as in BasicSR (tensors: reading one synchronises).
        """
        self.log_dict = OrderedDict((name, value.detach()) for name, value in losses.items())
        for name, value in losses.items():
            value = value.detach().float()
            self._loss_sums[name] = self._loss_sums[name] + value if name in self._loss_sums else value
            self._loss_counts[name] = self._loss_counts.get(name, 0) + 1

    def get_current_log(self) -> 'OrderedDict[str, float]':
        """Mean of each loss since the previous call (averaged over ranks), then reset.

        A BasicSR plug-in recipe that sets ``self.log_dict`` itself (see :meth:`reduce_loss_dict`) gets that.
        """
        names = list(self._loss_sums)
        if not names:
            return OrderedDict((k, float(v)) for k, v in getattr(self, 'log_dict', {}).items())
        means = torch.stack([self._loss_sums[n] / self._loss_counts[n] for n in names])
        if self.opt.get('dist'):
            dist.all_reduce(means)
            means /= get_dist_info()[1]
        self._loss_sums, self._loss_counts = {}, {}
        return OrderedDict(zip(names, means.tolist()))

    def reduce_loss_dict(self, loss_dict: dict[str, torch.Tensor]) -> 'OrderedDict[str, float]':
        """BasicSR's per-iteration log of plug-in recipes: each loss as a float, averaged over ranks."""
        with torch.no_grad():
            names = list(loss_dict)
            values = torch.stack([loss_dict[n].detach().float().mean() for n in names]) if names else None
            if values is not None and self.opt.get('dist'):
                dist.all_reduce(values)
                values /= get_dist_info()[1]
        return OrderedDict(zip(names, values.tolist() if values is not None else []))

    # ----------------------------------------------------------------------------------------- training state
    def save_training_state(self, epoch: int, current_iter: int, **extra: Any) -> None:
        """Write ``<training_states>/<iter>.state``: optimisers, schedules, RNG states, best metrics, ``extra``.

        Written after the networks of the same iteration, so an existing ``.state`` means a complete checkpoint.
        Every rank must call it: the ranks' RNG states are gathered (one entry per rank) and their weights
        checked to be equal before rank 0 writes. ``current_iter`` -1 (BasicSR's final save) writes nothing.
        """
        if current_iter == -1:
            return
        rng_states = gather_to_master(capture_rng_state())
        replicas = {name: replica for name, value in vars(self).items()
                    if isinstance(replica := self.unwrap_compiled(value), DistributedDataParallel)}
        check_replicas_in_sync(replicas, current_iter)
        if get_dist_info()[0] != 0:
            return
        state = {
            'epoch': epoch,
            'iter': current_iter,
            'optimizers': [o.state_dict() for o in self.optimizers],
            'schedulers': [s.state_dict() for s in self.schedulers],
            'grad_scalers': [s.state_dict() for s in self.grad_scalers.values()],
            'rng': rng_states,
            'best_metric_results': getattr(self, 'best_metric_results', {}),
            'networks': list(self.networks()),  # resuming loads net_<label>_<iter>.pth of each
            **extra,
        }
        save_checkpoint(state, Path(self.opt['path']['training_states']) / f'{current_iter}.state')
        keep = self.opt['logger'].get('keep_last_checkpoints')
        if keep:
            prune_checkpoints(self.opt['path']['training_states'], self.opt['path']['models'], keep)

    def resume_training(self, resume_state: dict[str, Any]) -> None:
        """Restore optimisers, schedules, best metrics and RNG states from a loaded training state."""
        if len(resume_state['optimizers']) != len(self.optimizers):
            raise CheckpointError(f"training state holds {len(resume_state['optimizers'])} optimisers, "
                                  f'the model has {len(self.optimizers)}.')
        for optimizer, state in zip(self.optimizers, resume_state['optimizers']):
            optimizer.load_state_dict(state)
        for schedule, state in zip(self.schedulers, resume_state['schedulers']):
            schedule.load_state_dict(state)
        for scaler, state in zip(self.grad_scalers.values(), resume_state.get('grad_scalers', [])):
            scaler.load_state_dict(state)
        if resume_state.get('best_metric_results'):
            self.best_metric_results = resume_state['best_metric_results']
        rank, world_size = get_dist_info()
        rng_states = resume_state.get('rng', [])
        if len(rng_states) == world_size:
            restore_rng_state(rng_states[rank])
        elif rng_states:
            self.logger.warning(f'The training state holds the random generators of {len(rng_states)} '
                                f'process(es), this run has {world_size}: they keep their fresh seeds.')


def capture_rng_state() -> dict[str, Any]:
    """Python, numpy and torch generator states, in types ``torch.load(weights_only=True)`` accepts.

    numpy's uint32 key array is held as int64: torch.distributed cannot send uint32 tensors between ranks.
    """
    np_state = np.random.get_state()
    state = {
        'python': random.getstate(),
        'numpy': (np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]),
        'torch': torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state['python'])
    name, keys, *rest = state['numpy']
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available() and len(state['cuda']) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state['cuda'])
