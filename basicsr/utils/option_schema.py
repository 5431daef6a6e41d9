"""The option-file schema: the keys the framework itself reads, their types, defaults and ranges.

Keys are BasicSR's (a BasicSR option file for a supported model validates unchanged). Plug-in sections
(``network_g``, ``train.pixel_opt``, a dataset, a metric, ...) list only their framework-level keys here; the rest
are checked against the plug-in's constructor signature once its ``type`` is known.

A model (training recipe) declares the keys it reads itself, in its own file, as class attributes built from the
pieces below: ``root_options`` (root level) and ``train_options`` (under ``train:``); see
:class:`basicsr.models.base_model.BaseModel`. The parser merges them with :data:`ROOT` and :data:`TRAIN`.
"""
import copy
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import torch

from basicsr.utils.frequency import FilterType, PaddingMode
from basicsr.utils.path_policy import stays_below

REQUIRED = object()  # marks a key without default


@dataclass
class Key:
    """One option with its annotation (see :mod:`basicsr.utils.typecheck`) and an optional range check."""
    annotation: Any
    default: Any = None
    check: Callable[[Any], str | None] | None = None  # returns an error text, or None when the value is fine
    doc: str = ''
    registry: str | None = None  # the value must name an entry of this registry


@dataclass
class Section:
    """A mapping with fixed keys; an absent optional section stays absent, a required one gets its defaults.

    ``patterns`` maps regular expressions to specs, for keys with a free part (``pretrain_network_<label>``).
    """
    keys: dict[str, Any]
    optional: bool = False
    patterns: dict[str, Any] = field(default_factory=dict)

    def spec_of(self, key: Any) -> Any:
        """The spec of ``key`` (a fixed key or one matching a pattern), or None when the section has no such key."""
        if key in self.keys:
            return self.keys[key]
        return next((spec for pattern, spec in self.patterns.items() if re.fullmatch(pattern, str(key))), None)

    def extended(self, keys: dict[str, Any]) -> 'Section':
        """This section with ``keys`` added (a recipe's own keys)."""
        return Section({**self.keys, **keys}, self.optional, self.patterns)


@dataclass
class MapOf:
    """A mapping from free names (e.g. dataset phases, metric names) to ``item`` sections."""
    item: Any
    name_check: Callable[[str], str | None] | None = None


@dataclass
class Plugin:
    """A plug-in section: ``type`` names an entry of ``registry``; ``keys`` are read by the framework, every
    other key is a constructor argument of the plug-in (``injected`` ones are supplied by the framework)."""
    registry: str
    keys: dict[str, Any] = field(default_factory=dict)
    injected: tuple[str, ...] = ()
    optional: bool = True
    arg_checks: dict[str, Callable[[Any], str | None]] = field(default_factory=dict)  # range checks of arguments
    # checks across the arguments: each takes them all and returns (argument, error text) or None
    cross_checks: tuple[Callable[[dict[str, Any]], tuple[str, str] | None], ...] = ()


@dataclass
class ListOf:
    """A list whose entries are each ``item`` (e.g. the loss terms of ``train.losses``)."""
    item: Any


def positive(value: Any) -> str | None:
    return None if not isinstance(value, (int, float)) or value > 0 else 'must be > 0'


def non_negative(value: Any) -> str | None:
    return None if not isinstance(value, (int, float)) or value >= 0 else 'must be >= 0'


def finite_positive(value: Any) -> str | None:
    """For values an optimiser or loss multiplies with: ``.inf`` or NaN would only surface as non-finite steps."""
    if isinstance(value, (int, float)) and not math.isfinite(value):
        return 'must be a finite number'
    return positive(value)


def finite_non_negative(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not math.isfinite(value):
        return 'must be a finite number'
    return non_negative(value)


def adam_betas(value: Any) -> str | None:
    if isinstance(value, (list, tuple)) and all(isinstance(b, (int, float)) and 0 <= b < 1 for b in value):
        return None
    return 'must be numbers in [0, 1)'


def same_length(first: str, second: str) -> Callable[[dict[str, Any]], tuple[str, str] | None]:
    """A cross-check: the lists ``first`` and ``second`` (when both given) have the same length."""

    def check(arguments: dict[str, Any]) -> tuple[str, str] | None:
        a, b = arguments.get(first), arguments.get(second)
        if isinstance(a, list) and isinstance(b, list) and len(a) != len(b):
            return second, f'has {len(b)} entries but {first} has {len(a)}; they must pair up'
        return None

    check.__name__ = f'same_length_{first}_{second}'
    return check


def positive_odd(value: Any) -> str | None:
    return None if value > 0 and value % 2 == 1 else 'must be a positive odd number'


def unit_interval(value: Any) -> str | None:
    return None if 0 <= value < 1 else 'must be in [0, 1)'


def probability(value: Any) -> str | None:
    return None if 0 <= value <= 1 else 'must be a probability in [0, 1]'


def value_range(lowest: float, highest: float = math.inf, open_low: bool = False) -> Callable[[Any], str | None]:
    """A check of ``[low, high]`` with ``lowest <= low <= high <= highest`` (``lowest < low`` when ``open_low``)."""

    def check(value: Any) -> str | None:
        if len(value) == 2 and (lowest < value[0] if open_low else lowest <= value[0]) and \
                value[0] <= value[1] <= highest:
            return None
        upper = f' <= {highest:g}' if math.isfinite(highest) else ''
        return f"must be [low, high] with {lowest:g} {'<' if open_low else '<='} low <= high{upper}"

    return check


def odd_between(smallest: int, largest: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if smallest <= value <= largest and value % 2 == 1 else \
            f'must be an odd number from {smallest} to {largest}'

    return check


def between(smallest: float, largest: float) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if smallest <= value <= largest else f'must be from {smallest:g} to {largest:g}'

    return check


MAX_NAME_BYTES = 100  # folder and file names built from a name (``archived_<name>_<time>``) stay under 255 bytes


def plain_name(value: Any) -> str | None:
    """Names become folder names: no separators or '..', so outputs stay inside their experiment folder, and
    short enough for the file system once a prefix and a time stamp are added."""
    if not value or value in ('.', '..') or any(sep in value for sep in ('/', '\\', '\0')):
        return "must be a plain name (no '/', '\\' or '..')"
    size = len(value.encode('utf-8', 'surrogatepass'))
    if size > MAX_NAME_BYTES:
        return f'must be a plain name of at most {MAX_NAME_BYTES} bytes (has {size})'
    return None


def _dataset_phase(name: str) -> str | None:
    if name.split('_')[0] in ('train', 'val', 'test'):
        return None
    return "dataset names start with 'train', 'val' or 'test' (e.g. val_2, test_set14)"


# Ranges of the degradation arguments of datasets (Real-ESRGAN's kernels): outside them a kernel is singular
# (sigma or beta 0), larger than any image patch, or a sample takes gigabytes (crop_pad_size).
_KERNEL_ROUND_CHECKS = {
    'blur_kernel_size': odd_between(3, 41),
    'blur_sigma': value_range(0, 20, open_low=True),
    'betag_range': value_range(0, 10, open_low=True),
    'betap_range': value_range(0, 10, open_low=True),
    'sinc_prob': probability,
}
DEGRADATION_DATASET_CHECKS = {
    **_KERNEL_ROUND_CHECKS, **{f'{key}2': check for key, check in _KERNEL_ROUND_CHECKS.items()},
    'final_sinc_prob': probability,
    'crop_pad_size': between(1, 2048),
}

DATASET = Plugin('dataset', injected=('phase', 'scale'), optional=False, arg_checks=DEGRADATION_DATASET_CHECKS,
                 keys={
    'name': Key(str, REQUIRED, plain_name, doc='shown in logs; names the result folders'),
    'batch_size_per_gpu': Key(int, 16, positive, doc='batch of each process (the global batch is this x processes)'),
    'num_worker_per_gpu': Key(int, 4, non_negative, doc='dataloader worker processes of each process; 0 loads inline'),
    'use_shuffle': Key(bool, True, doc='shuffle the training set every epoch'),
    'dataset_enlarge_ratio': Key(int, 1, positive, doc='repeat the file list this many times per epoch'),
    'prefetch_mode': Key(Literal['cpu', 'cuda'] | None, None,
                         doc="'cuda' copies the next batch to the GPU during the step; ~: 'cuda' on GPUs"),
    'pin_memory': Key(bool, True, doc='page-locked batches for faster copies to the GPU'),
    'persistent_workers': Key(bool, True, doc='keep the loader workers alive between epochs'),
    'num_prefetch_queue': Key(int, 1, positive, doc='batches the CPU prefetcher keeps ready'),
})

PATH = Section({
    'pretrain_network_g': Key(str | None, doc='weights to start network_g from'),
    'param_key_g': Key(str, 'params', doc='entry of the weights file to load (params or params_ema)'),
    'strict_load_g': Key(bool, True, doc='refuse missing, unexpected or differently shaped tensors'),
    'resume_state': Key(str | None, doc='a training_states/<iter>.state to resume from (--auto_resume finds it)'),
    'root': Key(str | None, doc='base of relative paths; the folder of train.py by default'),
    'experiments_root': Key(str | None, doc='folder of the run (default experiments/<name>)'),
    'results_root': Key(str | None, doc='folder of test.py results (default results/<name>)'),
    # Filled in by the parser from the roots above; accepted so that a saved option file loads again.
    'models': Key(str | None, doc='set by the parser'), 'training_states': Key(str | None, doc='set by the parser'),
    'log': Key(str | None, doc='set by the parser'), 'visualization': Key(str | None, doc='set by the parser'),
}, patterns={  # any network the recipe has: network_<label>
    r'pretrain_network_\w+': Key(str | None, doc='weights to start network_<label> from'),
    r'param_key_\w+': Key(str, 'params', doc='entry of that file to load'),
    r'strict_load_\w+': Key(bool, True, doc='refuse missing, unexpected or differently shaped tensors'),
})

OPTIMIZER = Plugin('optimizer', injected=('params',),
                   arg_checks={'lr': finite_positive, 'weight_decay': finite_non_negative, 'betas': adam_betas})
SCHEDULER = Plugin('scheduler', injected=('optimizer',),
                   arg_checks={'eta_min': finite_non_negative, 'gamma': finite_positive},
                   cross_checks=(same_length('periods', 'restart_weights'),
                                 same_length('restarts', 'restart_weights')))
LOSS = Plugin('loss', arg_checks={'loss_weight': finite_non_negative, 'perceptual_weight': finite_non_negative,
                                  'style_weight': finite_non_negative})
LOSS_TERM = Plugin('loss', arg_checks=LOSS.arg_checks, keys={  # an entry of train.losses
    'target': Key(str | None, None, doc='the image the output is compared with (gt; a recipe may offer more)'),
    'name': Key(str | None, None, plain_name, doc='logged as l_<name>; by default from the type (L1Loss: l1)'),
})

TRAIN = Section({  # the trainer's keys; recipes add theirs (SRModel: optim_g, pixel_opt, ...)
    'scheduler': SCHEDULER,
    'total_iter': Key(int, REQUIRED, positive, doc='iterations (optimiser steps) of the run'),
    'warmup_iter': Key(int, -1, doc='linear learning-rate warm-up over this many iterations; -1 for none'),
    'max_nonfinite_steps': Key(int, 5, positive, doc='stop after this many non-finite losses/gradients in a row'),
    'accum_iter': Key(int, 1, positive, doc='gradient accumulation: micro-batches per optimiser step (an iteration '
                                            'is one optimiser step; the effective batch is batch x accum_iter)'),
    'grad_clip': Section({
        'max_norm': Key(float | None, None, finite_positive, doc='clip the gradient norm to this'),
        'norm_type': Key(float, 2.0, positive, doc='the norm clipped (2: Euclidean; .inf: largest value)'),
        'clip_value': Key(float | None, None, finite_positive, doc='clip each gradient value to +-this instead'),
    }, optional=True),
    'amp': Key(Literal['none', 'bf16', 'fp16'], 'none',
               doc='mixed precision of the forward pass and losses (fp16 adds loss scaling); fast on GPUs, on '
                   'CPUs only with native bf16/fp16 instructions (AVX512-BF16, AMX)'),
    'channels_last': Key(bool, False, doc='NHWC weights and batches: faster convolutions on GPUs and CPUs'),
    'compile': Key(bool | Literal['default', 'reduce-overhead', 'max-autotune', 'max-autotune-no-cudagraphs'],
                   False, doc='torch.compile the networks (true or a mode); falls back to eager with a warning'),
}, optional=True)

FREQUENCY_SEPARATION = Section({  # ESRGAN-FS / DSGAN: pixel loss on low, discriminator on high frequencies
    'filter': Key(FilterType, 'avg', doc='low-pass: avg (box), gaussian, or wavelet (Haar LL band)'),
    'kernel_size': Key(int, 5, positive_odd, doc='window of the avg and gaussian filters'),
    'sigma': Key(float | None, None, positive, doc='gaussian standard deviation; ~ for kernel_size / 6'),
    'padding_mode': Key(PaddingMode, 'reflect', doc='border extension, so constant images stay constant'),
}, optional=True)

NETWORK = Plugin('arch', optional=False)

METRIC = Plugin('metric', injected=('img', 'img2'), optional=False, arg_checks={'crop_border': non_negative}, keys={
    'better': Key(Literal['higher', 'lower'], 'higher', doc='which way is better, for the best-value tracking'),
})

VAL = Section({
    'val_freq': Key(int, 5000, positive, doc='validate every this many iterations (and after the last one)'),
    'save_img': Key(bool, False, doc='save the SR images of validation and test.py'),
    'suffix': Key(str | None, None, plain_name, doc='appended to saved image names'),
    'pbar': Key(bool, True, doc='a progress bar over the validation images'),
    'bicubic_baseline': Key(bool, False, doc='also log the metrics of bicubic upsampling, once per dataset'),
    'tile': Key(int | None, None, positive, doc='run the network on tiles of this size (LQ pixels) to save memory'),
    'tile_pad': Key(int, 16, non_negative, doc='context pixels around each tile'),
    'self_ensemble': Key(bool, False, doc='average the outputs of the 8 flips/rotations (x8 slower)'),
    'amp': Key(Literal['none', 'fp16', 'bf16'], 'none', doc='inference precision (autocast)'),
    'tb_images': Key(int, 4, non_negative,
                     doc='TensorBoard gets bicubic | SR | GT grids of the first this-many images of each set'),
    'metrics': MapOf(METRIC),
})

LOGGER = Section({
    'print_freq': Key(int, 100, positive, doc='log the losses every this many iterations'),
    'save_checkpoint_freq': Key(int, 5000, positive, doc='save networks and training state every this many iterations'),
    'keep_last_checkpoints': Key(int | None, None, positive, doc='prune older networks and states; ~ keeps all'),
    'use_tb_logger': Key(bool, True, doc='write TensorBoard events to tb_logger/<name>'),
    'pbar': Key(bool, True, doc='a progress bar over the iterations (only when the output is a terminal)'),
    'save_on_interrupt': Key(bool, False, doc='on Ctrl-C, save a checkpoint of the current iteration first'),
    'wandb': Section({'project': Key(str | None, doc='send the run to this Weights & Biases project'),
                      'resume_id': Key(str | None, doc='a W&B run id to continue')}),
})

ROOT = Section({
    'name': Key(str, REQUIRED, plain_name, doc='names experiments/<name>, tb_logger/<name>, results/<name>'),
    'model_type': Key(str, REQUIRED, registry='model', doc='the training recipe'),
    'scale': Key(int, 4, positive, doc='upscaling factor (given to the datasets)'),
    'num_gpu': Key(int | Literal['auto'], 'auto', non_negative, doc="0 runs on the CPU; 'auto' uses every GPU"),
    'manual_seed': Key(int | None, doc='seed of every random generator; random when absent'),
    'deterministic': Key(bool, False, doc='deterministic algorithms: a resumed run repeats an uninterrupted one'),
    'cudnn_benchmark': Key(bool, True, doc='let cuDNN pick the fastest convolution algorithms (GPU only; off '
                                           'in deterministic mode)'),
    'strict_options': Key(bool, True, doc='false ignores unknown keys with a warning (as BasicSR), like --lenient'),
    'prepare_demo_data': Key(str | None, None, stays_below,
                             doc='folder to fill with the built-in demo images when missing'),
    'datasets': MapOf(DATASET, _dataset_phase),
    'path': PATH,
    'train': TRAIN,
    'val': VAL,
    'logger': LOGGER,
    'dist_params': Section({
        'backend': Key(str, 'nccl', doc='nccl on GPUs, gloo on CPUs (nccl falls back to gloo without CUDA)'),
        'port': Key(int, 29500, doc='master port of Slurm jobs (torchrun sets its own)'),
    }),
    'find_unused_parameters': Key(bool, False, doc='DDP: allow parameters that get no gradient in a step'),
})


def model_schema(model_cls: type | None) -> Section:
    """The root schema for ``model_cls``: :data:`ROOT` plus the keys the model declares (``root_options``,
    ``train_options``, merged along its class hierarchy)."""
    root_keys, train_keys = {}, {}
    for cls in reversed(getattr(model_cls, '__mro__', ())):
        own = vars(cls)
        root_keys.update(own.get('root_options', {}))
        train_keys.update(own.get('train_options', {}))
    return ROOT.extended({**root_keys, 'train': TRAIN.extended(train_keys)})


# What a single process without a launcher runs with (the resolver writes these for parsed options).
SINGLE_PROCESS = {'is_train': True, 'dist': False, 'rank': 0, 'world_size': 1, 'auto_resume': False}


def with_defaults(opt: dict, model_cls: type) -> dict:
    """``opt`` itself when it lacks no default (parsed options), else a copy with the defaults of every missing
    key and the run-time keys of a single process (options a program builds by hand, as BasicSR's tests and
    plug-ins do). Nothing is checked, and the caller's dict is never changed."""
    filled = copy.deepcopy(opt)
    _fill(filled, model_schema(model_cls))
    for key, default in SINGLE_PROCESS.items():
        filled.setdefault(key, default)
    if filled['num_gpu'] == 'auto':
        filled['num_gpu'] = torch.cuda.device_count()
    return opt if filled == opt else filled


def _fill(opt: dict, section: Section) -> None:
    for key, spec in section.keys.items():
        if isinstance(spec, Key) and key not in opt and spec.default is not REQUIRED:
            opt[key] = copy.deepcopy(spec.default)
        elif isinstance(spec, Section) and (key in opt or not spec.optional):
            if isinstance(opt.setdefault(key, {}), dict):
                _fill(opt[key], spec)
        elif isinstance(spec, MapOf):
            for item in opt.setdefault(key, {}).values():
                if isinstance(item, dict) and isinstance(spec.item, (Section, Plugin)):
                    _fill(item, Section(spec.item.keys))
        elif isinstance(spec, ListOf) and key not in opt:
            opt[key] = []
        elif isinstance(spec, Plugin) and isinstance(opt.get(key), dict):
            _fill(opt[key], Section(spec.keys))
        elif isinstance(spec, (Section, Plugin)):  # an optional section or plug-in: absent reads as None
            opt.setdefault(key, None)
