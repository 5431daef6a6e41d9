"""What every training recipe shares: devices, networks, optimisers and the guarded step, schedules, EMA,
validation bookkeeping and the loss log. Checkpoint files are :mod:`basicsr.models.checkpointing`'s."""
import contextlib
import copy
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, ClassVar, Iterable, Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

import basicsr.models.lr_scheduler as lr_scheduler  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.models.inference import autocast
from basicsr.models.lr_scheduler import SCHEDULER_WITH_WARMUP, build_schedule
from basicsr.optimizers import eval_weights, uses_eval_weights
from basicsr.models.speed import build_fast_optimizer, check_amp, compile_network, make_grad_scaler, to_channels_last
from basicsr.archs import ARCH_REGISTRY, build_network
from basicsr.archs.arch_info import registered_name
from basicsr.archs.network_record import build_from_checkpoint, record_entry
from basicsr.models.checkpointing import (load_weights, restore_training_state, save_checkpoint, save_weights,
                                          write_training_state)
from basicsr.utils.dist_util import get_dist_info, master_only, select_device
from basicsr.utils.errors import OptionError, OptionErrors, TrainingError
from basicsr.utils.logger import get_root_logger
from basicsr.utils.option_schema import with_defaults


@dataclass(frozen=True)
class MicroBatch:
    """Which micro-batch of an optimiser step runs (gradient accumulation, ``train.accum_iter``)."""
    index: int = 0
    count: int = 1

    @property
    def first(self) -> bool:
        return self.index == 0

    @property
    def last(self) -> bool:
        return self.index == self.count - 1


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
    train_options: ClassVar[dict[str, Any]] = {'scheduler': SCHEDULER_WITH_WARMUP}

    @classmethod
    def check_options(cls, opt: dict[str, Any]) -> Iterator[tuple[str, str]]:
        """Problems across keys of validated options, as ``(dotted key path, message)``; called at parse time."""
        return iter(())

    def __init__(self, opt: dict[str, Any]) -> None:
        self.opt = with_defaults(opt, type(self))  # options made by hand (BasicSR's tests, plug-ins): a filled copy
        if self.opt is not opt:  # not parsed: the recipe's rules were not checked yet
            problems = [OptionError(f'{key}: {message}', key_path=key)
                        for key, message in type(self).check_options(self.opt)]
            if problems:
                raise OptionErrors(problems)
        self.device = select_device(self.opt['num_gpu'])
        self.is_train = self.opt['is_train']
        self.optimizers: list[torch.optim.Optimizer] = []
        self.schedulers: list[Any] = []
        self.logger = get_root_logger()
        self._loss_sums: dict[str, torch.Tensor] = {}
        self._loss_counts: dict[str, int] = {}
        self._nonfinite_streak = 0
        self._optimizer_labels: dict[torch.optim.Optimizer, str] = {}
        self.micro_batch = MicroBatch()
        train_opt = self.opt['train'] if self.is_train else None
        self.amp = train_opt['amp'] if train_opt else 'none'  # testing: as the val section says
        self.channels_last = bool(train_opt and train_opt['channels_last'])
        self.compile = train_opt['compile'] if train_opt else False
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
        if self.opt['dist'] and any(p.requires_grad for p in net.parameters()):
            name = registered_name(net)  # some networks leave parameters without gradients by design (FDAT)
            find_unused = self.opt['find_unused_parameters'] or bool(
                name and ARCH_REGISTRY.info(name).get('unused_parameters'))
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
        loaded from ``path.pretrain_network_<label>`` when set (``strict_load_<label>``, ``param_key_<label>``).

        Without ``network_<label>`` (testing a file saved by training here, or a file spandrel recognises) the
        network is built from the file itself (:func:`basicsr.archs.network_record.build_from_checkpoint`)."""
        paths = self.opt['path']
        if not self.opt.get(f'network_{label}'):
            net, scale = build_from_checkpoint(paths[f'pretrain_network_{label}'],
                                               paths.get(f'param_key_{label}', 'params'))
            if scale != self.opt['scale']:
                raise OptionError(f"scale: {self.opt['scale']}, but {paths[f'pretrain_network_{label}']} is a x{scale} "
                                  'network.', key_path='scale')
            net = self.model_to_device(net, f'network_{label}')
            self.print_network(net)
            return net
        net = self.model_to_device(build_network(self.opt[f'network_{label}'], f'network_{label}'),
                                   f'network_{label}')
        self.print_network(net)
        if paths.get(f'pretrain_network_{label}'):
            self.load_network(net, paths[f'pretrain_network_{label}'], paths.get(f'strict_load_{label}', True),
                              paths.get(f'param_key_{label}', 'params'))
        return net

    def load_network(self, net: nn.Module, load_path: str, strict: bool = True, param_key: str = 'params') -> None:
        """Load weights from ``load_path`` into ``net`` (see :func:`basicsr.models.checkpointing.load_weights`)."""
        load_weights(self.get_bare_model(net), load_path, strict, param_key, self.logger)

    def save_network(self, nets: nn.Module | list[nn.Module], net_label: str, current_iter: int | str,
                     param_keys: str | list[str] = 'params') -> None:
        """Write ``<models>/<net_label>_<iter>.pth`` (BasicSR's API; see :func:`basicsr.models.checkpointing.
        save_weights`)."""
        nets = nets if isinstance(nets, list) else [nets]
        record = record_entry(self.opt.get(f"network_{net_label.removeprefix('net_')}"), self.opt['scale'])
        save_weights([self.get_bare_model(n) for n in nets], net_label, current_iter, param_keys,
                     self.opt['path']['models'], record)

    def save(self, epoch: int, current_iter: int, **extra: Any) -> None:
        """Save every network and the training state (BasicSR's API; the trainer calls
        :func:`basicsr.models.checkpointing.save_checkpoint` directly)."""
        save_checkpoint(self, epoch, current_iter, **extra)

    def save_training_state(self, epoch: int, current_iter: int, **extra: Any) -> None:
        """Write ``<training_states>/<iter>.state`` (BasicSR's API)."""
        write_training_state(self, epoch, current_iter, **extra)

    def resume_training(self, resume_state: dict[str, Any]) -> None:
        """Restore optimisers, schedules, best metrics, RNG states and the recipe's state (BasicSR's API)."""
        restore_training_state(self, resume_state)

    def on_save_checkpoint(self, state: dict[str, Any]) -> None:
        """Hook: add the recipe's own entries to the training state being saved (called on every rank)."""

    def on_load_checkpoint(self, state: dict[str, Any]) -> None:
        """Hook: restore the recipe's own entries from a loaded training state."""

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
        self._optimizer_labels[optimizer] = key_path.rsplit('optim_', 1)[-1]
        scaler = make_grad_scaler(self.amp, self.device)
        if scaler is not None:
            self.grad_scalers[optimizer] = scaler
        return optimizer

    def setup_schedulers(self) -> None:
        """One schedule (``train.scheduler``; a constant rate without one) per optimiser, set to iteration 0."""
        constant = {'type': 'MultiStepLR', 'milestones': []}
        scheduler_opt = self.opt['train']['scheduler'] or constant
        for optimizer in self.optimizers:
            self.schedulers.append(build_schedule(scheduler_opt, optimizer))
        self.update_learning_rate(0)

    def update_learning_rate(self, current_iter: int, warmup_iter: int = -1) -> None:
        """Set every optimiser's learning rate for ``current_iter`` (with linear warm-up before ``warmup_iter``)."""
        for schedule in self.schedulers:
            schedule.step_to(current_iter, warmup_iter)

    def zero_grad(self, optimizer: torch.optim.Optimizer) -> None:
        """Drop ``optimizer``'s gradients before the first micro-batch of a step (later ones accumulate)."""
        if self.micro_batch.first:
            optimizer.zero_grad(set_to_none=True)

    @contextlib.contextmanager
    def micro_batch_step(self, index: int, count: int) -> Iterator[None]:
        """The trainer's context around ``optimize_parameters`` for micro-batch ``index`` of ``count``
        (``train.accum_iter``): losses are scaled by 1/count, the optimiser steps after the last one, and DDP
        synchronises gradients only then (``no_sync`` on the others)."""
        self.micro_batch = MicroBatch(index, count)
        with contextlib.ExitStack() as stack:
            if not self.micro_batch.last:
                for value in list(vars(self).values()):
                    if isinstance(replica := self.unwrap_compiled(value), DistributedDataParallel):
                        stack.enter_context(replica.no_sync())
            yield
        self.micro_batch = MicroBatch()

    def guarded_step(self, losses: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer,
                     current_iter: int) -> bool:
        """Back-propagate the sum of ``losses`` and, after the last micro-batch, clip the gradients
        (``train.grad_clip``) and step ``optimizer``, unless the loss or a gradient is not finite. Returns whether
        the optimiser stepped. Finite losses are added to the log (with the gradient norm when clipping).

        A non-finite step is skipped (gradients dropped) and logged naming the terms that are not finite; after
        ``train.max_nonfinite_steps`` of them in a row the run stops with a TrainingError. One device
        synchronisation per optimiser step.

        With ``train.amp: fp16`` the loss is scaled before back-propagation and unscaled before clipping; a
        gradient overflow is then the scaler's business (it skips the step and lowers the scale, as happens a few
        times at the start of every fp16 run) and does not count as non-finite: only a non-finite loss does.
        """
        total = sum(losses.values())
        scaler = self.grad_scalers.get(optimizer)
        scaled = total / self.micro_batch.count
        (scaled if scaler is None else scaler.scale(scaled)).backward()
        if not self.micro_batch.last:
            if bool(total.detach().isfinite()):
                self.accumulate_losses(losses)
            return False
        if scaler is not None:
            scaler.unscale_(optimizer)
        params = [p for group in optimizer.param_groups for p in group['params'] if p.grad is not None]
        grad_norm = self._clip_gradients(params)
        grad_norms = torch._foreach_norm([p.grad for p in params])
        norms = torch.stack([total.detach().float(), *[n.float() for n in grad_norms]])
        if self.opt['dist']:  # every rank must take the same decision; a NaN anywhere makes the sum NaN
            dist.all_reduce(norms)
        loss_finite, *grads_finite = norms.isfinite().tolist()
        if loss_finite and (scaler is not None or all(grads_finite)):
            if scaler is None:
                optimizer.step()
            else:
                scaler.step(optimizer)  # skipped by the scaler itself when the gradients overflowed
                scaler.update()
                if not all(grads_finite):
                    self.logger.debug(f'Iteration {current_iter}: fp16 gradient overflow, step skipped; loss scale '
                                      f'lowered to {scaler.get_scale():g}.')
            self._nonfinite_streak = 0
            label = self._optimizer_labels.get(optimizer, str(self.optimizers.index(optimizer)))
            self.accumulate_losses({**losses, **({f'grad_norm_{label}': grad_norm} if grad_norm is not None else {})})
            return all(grads_finite)
        if scaler is not None:
            scaler.update()  # it saw the gradients (unscale_): an overflow lowers the scale
        self._skip_nonfinite_step(optimizer, losses, current_iter)
        return False

    def _clip_gradients(self, params: list[nn.Parameter]) -> torch.Tensor | None:
        """Clip as ``train.grad_clip`` says; return the total gradient norm before clipping (None without)."""
        clip = self.opt['train'].get('grad_clip') if self.is_train else None  # an optional section
        if not clip or not params:
            return None
        if clip['clip_value'] is not None:
            norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm([p.grad for p in params])))
            torch.nn.utils.clip_grad_value_(params, clip['clip_value'])
            return norm
        return torch.nn.utils.clip_grad_norm_(params, clip['max_norm'], clip['norm_type'], foreach=True)

    def _skip_nonfinite_step(self, optimizer: torch.optim.Optimizer, losses: dict[str, torch.Tensor],
                             current_iter: int) -> None:
        optimizer.zero_grad(set_to_none=True)
        self._nonfinite_streak += 1
        values = {name: value.item() for name, value in losses.items()}
        broken = [name for name, value in values.items() if not math.isfinite(value)]
        culprit = (f"non-finite loss term {', '.join(broken)}" if broken
                   else 'finite losses but a non-finite gradient')
        terms = ', '.join(f'{name} {value:.4g}' for name, value in values.items())
        limit = self.opt['train']['max_nonfinite_steps']
        self.logger.warning(f'Iteration {current_iter}: {culprit} ({terms}); step skipped '
                            f'({self._nonfinite_streak} in a row, limit {limit}).')
        if self._nonfinite_streak >= limit:
            raise TrainingError(f'iteration {current_iter}: {self._nonfinite_streak} non-finite steps in a row '
                                f'({culprit}; train.max_nonfinite_steps = {limit}); stopping. Lower the learning '
                                'rate or check the data; the last saved checkpoint is intact.')

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
        """``ema = decay * ema + (1 - decay) * net`` for parameters; buffers (e.g. BatchNorm statistics) copied.
        With a schedule-free optimiser the average is of its evaluation weights."""
        net = self.get_bare_model(self.net_g)
        ema_params = list(self.net_g_ema.parameters())
        switch = eval_weights(self.optimizers) if any(map(uses_eval_weights, self.optimizers)) \
            else contextlib.nullcontext()
        with switch:
            torch._foreach_lerp_(ema_params, [p.detach() for p in net.parameters()], 1 - decay)
            for ema_buffer, buffer in zip(self.net_g_ema.buffers(), net.buffers()):
                ema_buffer.copy_(buffer)

    # ----------------------------------------------------------------------------------------- validation
    def validation(self, dataloader: DataLoader, current_iter: int, tb_logger: Any = None,
                   save_img: bool = False) -> Any:
        """Validate on ``dataloader`` (BasicSR's entry point): :meth:`dist_validation` in distributed runs, else
        :meth:`nondist_validation`. Every rank must call it."""
        if self.opt['dist']:
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
        for name, metric_opt in self.opt['val']['metrics'].items():
            better = metric_opt['better']
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
        if self.opt['dist']:
            dist.all_reduce(means)
            means /= get_dist_info()[1]
        self._loss_sums, self._loss_counts = {}, {}
        return OrderedDict(zip(names, means.tolist()))

    def reduce_loss_dict(self, loss_dict: dict[str, torch.Tensor]) -> 'OrderedDict[str, float]':
        """BasicSR's per-iteration log of plug-in recipes: each loss as a float, averaged over ranks."""
        with torch.no_grad():
            names = list(loss_dict)
            values = torch.stack([loss_dict[n].detach().float().mean() for n in names]) if names else None
            if values is not None and self.opt['dist']:
                dist.all_reduce(values)
                values /= get_dist_info()[1]
        return OrderedDict(zip(names, values.tolist() if values is not None else []))
