"""Training pairs made on the model's device from GT batches, as Real-ESRGAN trains: the LQ images come from a
synthetic degradation (:mod:`basicsr.data.degradation_pipeline`: Real-ESRGAN's second-order model or BSRGAN's
shuffled one), pairs are cropped to ``gt_size`` and mixed through Real-ESRGAN's training-pair pool.

:class:`SyntheticPairs` adds this to a recipe (``RealESRNetModel``, ``RealESRGANModel``); it declares the root
option keys of BasicSR's Real-ESRGAN files and keeps the random state of the synthesis in the training state.
"""
import inspect
from typing import Any, Callable, Iterator, Literal

import numpy as np
import torch
from torch.utils.data import DataLoader

from basicsr.data.degradation_pipeline import DEGRADATIONS, BSRGANDegradation, RealESRGANDegradation, build_degradation
from basicsr.data.paired_image_dataset import PairedImageDataset
from basicsr.data.realesrgan_dataset import RealESRGANDataset
from basicsr.data.transforms import paired_random_crop
from basicsr.utils import torch_random
from basicsr.utils.dist_util import gather_to_master, get_dist_info
from basicsr.utils.errors import OptionError
from basicsr.utils.img_process_util import USMSharp
from basicsr.utils.option_schema import Key, Section, non_negative, positive, probability, value_range
from basicsr.utils.registry import DATASET_REGISTRY

KERNEL_KEYS = ('kernel1', 'kernel2', 'sinc_kernel')
_STREAM = 0x5EED_DE6  # tells the synthesis generator's seed apart from the global generators' (same manual_seed)


# ---------------------------------------------------------------------------------------------------- option keys
def resize_weights(value: Any) -> str | None:
    if len(value) == 3 and min(value) >= 0 and sum(value) > 0:
        return None
    return 'must be 3 non-negative weights [up, down, keep] with a positive sum'


def _defaults(cls: type) -> dict[str, Any]:
    """The constructor defaults of a degradation pipeline (tuples as lists, as YAML writes them back)."""
    return {name: list(p.default) if isinstance(p.default, tuple) else p.default
            for name, p in inspect.signature(cls).parameters.items()}


def _pipeline_keys(cls: type, checks: dict[str, tuple[Any, Callable[[Any], str | None]]]) -> dict[str, Key]:
    """Option keys for the arguments of pipeline ``cls``, with its defaults (the published recipes' values)."""
    defaults = _defaults(cls)
    return {name: Key(annotation, defaults[name], check) for name, (annotation, check) in checks.items()}


_ROUND_CHECKS = {  # one round of Real-ESRGAN's degradation; the second round's keys end in 2
    'resize_prob': (list[float], resize_weights),
    'resize_range': (list[float], value_range(0, 4, open_low=True)),  # beyond x4 a patch outgrows memory
    'gaussian_noise_prob': (float, probability),
    'noise_range': (list[float], value_range(0, 255)),  # sigma on the 0-255 scale
    'poisson_scale_range': (list[float], value_range(0, 100)),
    'gray_noise_prob': (float, probability),
    'jpeg_range': (list[float], value_range(1, 100)),
}
REALESRGAN_KEYS = _pipeline_keys(RealESRGANDegradation, {
    **_ROUND_CHECKS, **{f'{key}2': check for key, check in _ROUND_CHECKS.items()},
    'second_blur_prob': (float, probability)})
BSRGAN_SECTION = Section(_pipeline_keys(BSRGANDegradation, {
    'scale2_prob': (float, probability),
    'noise_range': (list[float], value_range(0, 255)),
    'jpeg_range': (list[int], value_range(1, 100)),
    'jpeg_prob': (float, probability),
    'isp_prob': (float, probability),
}), optional=True)

SYNTHESIS_KEYS = {
    'high_order_degradation': Key(bool, True, doc='make the LQ images from the GT on the fly; false: train on the '
                                                  "dataset's LQ/GT pairs (Real-ESRGAN's fine-tuning on real pairs)"),
    'degradation': Key(Literal[tuple(DEGRADATIONS)], 'realesrgan',
                       doc="the pipeline: 'realesrgan' (second-order, the keys below) or 'bsrgan' (shuffled, the "
                           'section bsrgan)'),
    **REALESRGAN_KEYS,
    'bsrgan': BSRGAN_SECTION,
    'gt_size': Key(int | None, None, positive, doc='GT patch side cropped after degrading; ~: the whole GT square'),
    'queue_size': Key(int, 180, non_negative, doc='pairs in the training-pair pool (a multiple of the batch size); '
                                                  '0: no pool'),
}


def _train_dataset(opt: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    return next(((name, d) for name, d in opt['datasets'].items() if name.split('_')[0] == 'train'), None)


def synthesis_problems(opt: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """What makes the training pairs impossible to make from ``opt``, as ``(key path, message)``."""
    found = _train_dataset(opt)
    if not opt.get('is_train') or found is None:
        return
    name, dataset = found
    cls = DATASET_REGISTRY.get(dataset['type']) if dataset.get('type') in DATASET_REGISTRY else None
    synthesize = opt['high_order_degradation']
    if synthesize and isinstance(cls, type) and issubclass(cls, PairedImageDataset):
        yield (f'datasets.{name}.type', f"{dataset['type']} gives LQ/GT pairs, but high_order_degradation is true "
                                        '(LQ made from the GT); use RealESRGANDataset, or set '
                                        'high_order_degradation: false to train on the pairs.')
    if not synthesize and isinstance(cls, type) and issubclass(cls, RealESRGANDataset):
        yield ('high_order_degradation', f"is false (train on the dataset's LQ/GT pairs) but {dataset['type']} "
                                         'gives GT images only; set it to true, or use RealESRGANPairedDataset.')
    if not synthesize:
        return
    batch = dataset.get('batch_size_per_gpu')
    if isinstance(batch, int) and batch > 0 and opt['queue_size'] % batch:
        yield 'queue_size', (f"{opt['queue_size']} is not a multiple of datasets.{name}.batch_size_per_gpu "
                             f'({batch}): the pool exchanges whole batches.')
    gt_size = opt['gt_size']
    if gt_size is not None and gt_size % opt['scale']:
        yield 'gt_size', f"must be a multiple of scale {opt['scale']}, got {gt_size}."
    if gt_size is not None and isinstance(cls, type) and issubclass(cls, RealESRGANDataset):
        crop_pad_size = dataset.get('crop_pad_size',
                                    inspect.signature(cls).parameters['crop_pad_size'].default)
        if isinstance(crop_pad_size, int) and gt_size > crop_pad_size:
            yield 'gt_size', (f'{gt_size} is larger than datasets.{name}.crop_pad_size ({crop_pad_size}), the side '
                              'of the GT squares it is cropped from.')


def synthesis_seed(manual_seed: int, rank: int) -> int:
    """The seed of a rank's synthesis generator: from the run's seed and the rank, apart from the global streams."""
    return int(np.random.SeedSequence([manual_seed, rank, _STREAM]).generate_state(1, np.uint64)[0] >> 1)


class _CropPositions:
    """``paired_random_crop``'s ``rng`` drawing from a torch.Generator."""

    def __init__(self, generator: torch.Generator) -> None:
        self.generator = generator

    def randint(self, low: int, high: int) -> int:
        return torch_random.randint_scalar(low, high, self.generator)


class TrainingPairPool:
    """Real-ESRGAN's training-pair pool: a batch shares its size-changing degradation choices, so batches are mixed
    through a pool of ``size`` pairs. Until the pool is full a batch is stored and used as it is; then each batch
    goes into the pool in place of the first ``b`` pairs after a random shuffle, which are used instead."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.lq: torch.Tensor | None = None
        self.gt: torch.Tensor | None = None
        self.filled = 0

    @torch.no_grad()
    def exchange(self, lq: torch.Tensor, gt: torch.Tensor,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if self.size == 0:
            return lq, gt
        b = lq.size(0)
        if self.lq is None:
            if self.size % b:
                raise OptionError(f'queue_size: {self.size} is not a multiple of the batch size {b}.',
                                  key_path='queue_size')
            self.lq = lq.new_zeros((self.size, *lq.shape[1:]))
            self.gt = gt.new_zeros((self.size, *gt.shape[1:]))
        if self.filled < self.size:
            self.lq[self.filled:self.filled + b] = lq
            self.gt[self.filled:self.filled + b] = gt
            self.filled += b
            return lq, gt
        order = torch.randperm(self.size, generator=generator, device=generator.device).to(self.lq.device)
        self.lq, self.gt = self.lq[order], self.gt[order]
        out_lq, out_gt = self.lq[:b].clone(), self.gt[:b].clone()
        self.lq[:b], self.gt[:b] = lq, gt
        return out_lq, out_gt

    def state_dict(self) -> dict[str, Any]:
        return {'size': self.size, 'filled': self.filled,
                'lq': None if self.lq is None else self.lq.cpu(), 'gt': None if self.gt is None else self.gt.cpu()}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        self.filled = state['filled']
        self.lq = None if state['lq'] is None else state['lq'].to(device)
        self.gt = None if state['gt'] is None else state['gt'].to(device)


class SyntheticPairs:
    """Mixin of a recipe (before ``SRModel``/``SRGANModel`` in its bases) that trains on pairs made on the fly.

    During training, with ``high_order_degradation`` (the default), :meth:`feed_data` takes GT batches (with
    RealESRGANDataset's per-sample kernels for the ``realesrgan`` pipeline) and, on the model's device and outside
    autocast: degrades :meth:`degradation_source` of the GT with the pipeline ``degradation``, crops ``gt_size``
    pairs at one random place, and passes them through the :class:`TrainingPairPool` (``queue_size``). Otherwise,
    and always in validation, it feeds the dataset's LQ/GT pairs unchanged (SRModel's ``feed_data``).

    Every random choice of the synthesis draws from one ``torch.Generator`` of the model (on its device), seeded
    from ``manual_seed`` and the rank. Its state is saved in the training state and restored on resume; with
    ``deterministic: true`` the pool is saved too (``queue_size`` GT and LQ patches: about 150 MB for the published
    180 x 256 x 256), so that a resumed run repeats an uninterrupted one exactly. Without it, a resumed run starts
    with an empty pool, as BasicSR's.
    """

    root_options = SYNTHESIS_KEYS

    @classmethod
    def check_options(cls, opt: dict[str, Any]) -> Iterator[tuple[str, str]]:
        yield from super().check_options(opt)
        yield from synthesis_problems(opt)

    def __init__(self, opt: dict[str, Any]) -> None:
        super().__init__(opt)
        self.synthesize = self.is_train and self.opt['high_order_degradation']
        if self.is_train:
            self.usm_sharpener = USMSharp().to(self.device)
        if not self.synthesize:
            return
        self.degradation = build_degradation(self.opt['degradation'], self.opt).to(self.device)
        self.synthesis_generator = torch.Generator(device=self.device)
        seed = self.opt['manual_seed']
        if seed is None:
            self.synthesis_generator.seed()
        else:
            self.synthesis_generator.manual_seed(synthesis_seed(seed, self.opt['rank']))
        self.pair_pool = TrainingPairPool(self.opt['queue_size'])
        self.logger.info(f"Training pairs made on {self.device}: {self.opt['degradation']} degradation, "
                         f"GT patches {self.opt['gt_size'] or 'uncropped'}, pool of {self.opt['queue_size']}.")

    # --------------------------------------------------------------------------------------------- feeding
    def degradation_source(self, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(the GT to train with, the image to degrade)`` for a GT batch; a recipe decides where USM applies."""
        return gt, gt

    def feed_data(self, data: dict[str, Any]) -> None:
        if not (self.is_train and self.synthesize):  # validation sets is_train false, as in Real-ESRGAN
            super().feed_data(data)
            return
        lq, gt = self.synthesize_pairs(data)
        self.lq, self.gt = self.to_device(lq.contiguous()), self.to_device(gt)

    @torch.no_grad()
    def synthesize_pairs(self, data: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(lq, gt)`` made from a batch of GT images (and kernels), through the pool."""
        generator = self.synthesis_generator
        gt, source = self.degradation_source(data['gt'].to(self.device).float())
        kernels = {k: data[k] for k in KERNEL_KEYS if k in data}
        lq = self.degradation(source, generator, kernels=kernels)
        if self.opt['gt_size'] is not None:
            gt, lq = paired_random_crop(gt, lq, self.opt['gt_size'], self.opt['scale'],
                                        rng=_CropPositions(generator))
        return self.pair_pool.exchange(lq, gt, generator)

    def nondist_validation(self, dataloader: DataLoader, current_iter: int, tb_logger: Any = None,
                           save_img: bool = False) -> Any:
        """The validation of the base recipe on the plain LQ/GT pairs (no synthesis)."""
        was_training, self.is_train = self.is_train, False
        try:
            return super().nondist_validation(dataloader, current_iter, tb_logger, save_img)
        finally:
            self.is_train = was_training

    # --------------------------------------------------------------------------------------------- state
    def synthesis_state(self) -> dict[str, Any]:
        """The generator's state (and, in deterministic runs, the pool) of this rank."""
        state = {'device': self.device.type, 'generator': self.synthesis_generator.get_state()}
        if self.opt['deterministic']:
            state['pool'] = self.pair_pool.state_dict()
        return state

    def load_synthesis_state(self, state: dict[str, Any]) -> None:
        if state['device'] != self.device.type:
            self.logger.warning(f"The synthesis generator was saved on {state['device']}, this run is on "
                                f'{self.device.type}: it keeps its fresh seed.')
            return
        self.synthesis_generator.set_state(state['generator'])
        saved_size = state['pool']['size'] if 'pool' in state else None
        if saved_size == self.pair_pool.size:
            self.pair_pool.load_state_dict(state['pool'], self.device)
        elif saved_size is not None:
            self.logger.warning(f'The saved pool holds {saved_size} pairs, queue_size is {self.pair_pool.size}: '
                                'the pool starts empty.')

    def on_save_checkpoint(self, state: dict[str, Any]) -> None:
        super().on_save_checkpoint(state)
        if self.synthesize:
            state['synthesis'] = gather_to_master(self.synthesis_state())  # every rank's, as the RNG states

    def on_load_checkpoint(self, resume_state: dict[str, Any]) -> None:
        super().on_load_checkpoint(resume_state)
        if not self.synthesize:
            return
        states = resume_state.get('synthesis') or []
        rank, world_size = get_dist_info()
        if len(states) == world_size:
            self.load_synthesis_state(states[rank])
        else:
            self.logger.warning(f'The training state holds the synthesis state of {len(states)} process(es), this '
                                f'run has {world_size}: the synthesis keeps its fresh seed and an empty pool.')
