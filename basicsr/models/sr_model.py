"""Supervised single-image SR: one generator trained with pixel losses, validated with PSNR/SSIM."""
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any, ClassVar, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from basicsr.metrics import calculate_metric  # noqa: F401
from basicsr.metrics import (build_dataset_metrics, calculate_tensor_metric, gather_dataset_metrics, mean_metrics,
                             split_metrics)
from basicsr.archs import build_network  # noqa: F401  (BasicSR 1.4.2 exposes it here, as the next three)
from basicsr.data.batch_augment import BATCH_AUGMENT, BatchAugment
from basicsr.losses import build_loss  # noqa: F401
from basicsr.models.base_model import BaseModel
from basicsr.models.inference import super_resolve
from basicsr.models.loss_terms import LossTerms
from basicsr.utils.dist_util import all_gather_objects, barrier, gather_to_master, get_dist_info
from basicsr.utils.option_schema import (LOSS, LOSS_TERM, OPTIMIZER, Key, ListOf, Plugin, model_schema,
                                         unit_interval)
from basicsr.utils.img_util import imwrite, tensor2img
from basicsr.utils.logger import get_root_logger  # noqa: F401  (BasicSR 1.4.2 exposes it here)
from basicsr.utils.matlab_functions import imresize
from basicsr.utils.registry import LOSS_REGISTRY, MODEL_REGISTRY


@MODEL_REGISTRY.register()
class SRModel(BaseModel):
    """Trains ``network_g`` on (LQ, GT) pairs with its loss terms: ``train.losses`` and BasicSR's slots
    (``pixel_opt``, ``perceptual_opt``, and the ``fft_opt``/``ldl_opt`` of BasicSR forks); see
    :mod:`basicsr.models.loss_terms`."""

    root_options = {'network_g': Plugin('arch')}  # testing may build it from path.pretrain_network_g
    train_options = {
        'ema_decay': Key(float, 0.0, unit_interval, doc='0 disables the EMA copy of the generator'),
        'optim_g': OPTIMIZER,
        'pixel_opt': LOSS,
        'perceptual_opt': LOSS,
        'fft_opt': LOSS,
        'ldl_opt': LOSS,
        'losses': ListOf(LOSS_TERM),
        'batch_augment': BATCH_AUGMENT,
    }
    loss_targets: ClassVar[tuple[str, ...]] = ('gt',)  # the images a loss term may compare the output with
    own_loss_keys: ClassVar[tuple[str, ...]] = ()  # loss keys the recipe computes itself (not content terms)

    @classmethod
    def content_loss_keys(cls) -> list[str]:
        """The recipe's loss slots (``<x>_opt`` keys declared as losses) that are content loss terms."""
        train = model_schema(cls).keys['train'].keys
        return [key for key, spec in train.items()
                if isinstance(spec, Plugin) and spec.registry == 'loss' and key not in cls.own_loss_keys]

    @classmethod
    def check_options(cls, opt: dict[str, Any]) -> Iterator[tuple[str, str]]:
        """The generator's scale and input channels against the data; what training needs."""
        net = opt.get('network_g') or {}
        if not net and (opt['is_train'] or not opt['path']['pretrain_network_g']):
            yield 'network_g', ('required (testing may leave it out when path.pretrain_network_g is a network file '
                                'saved by basicsr training, or one spandrel recognises).')
        upscale = net.get('upscale')
        if isinstance(upscale, int) and upscale != opt['scale']:
            yield 'network_g.upscale', f"is {upscale} but the root scale (of the data) is {opt['scale']}."
        channels = {3 if dataset.get('color') != 'y' else 1 for dataset in opt['datasets'].values()}
        in_ch = net.get('num_in_ch')
        if isinstance(in_ch, int) and len(channels) == 1 and in_ch not in channels:
            yield 'network_g.num_in_ch', (f'is {in_ch} but the datasets give {channels.pop()}-channel images '
                                          "(set the datasets' color: y for 1 channel).")
        if opt['is_train'] and cls.init_training_settings.__module__.startswith('basicsr.'):
            yield from cls._training_problems(opt['train'])

    @classmethod
    def _training_problems(cls, train: dict[str, Any]) -> Iterator[tuple[str, str]]:
        """What SRModel's training setup needs (a recipe that replaces that setup is held to its own)."""
        if not train['optim_g']:
            yield 'train.optim_g', 'required for training but missing.'
        entries = [(f'train.{key}', train[key]) for key in cls.content_loss_keys() if train.get(key)]
        entries += [(f'train.losses.{i}', entry) for i, entry in enumerate(train['losses'])]
        if not entries:
            yield 'train.losses', 'no loss to train with: give train.losses (or pixel_opt / perceptual_opt).'
        for key_path, entry in entries:
            loss_cls = LOSS_REGISTRY.get(entry['type']) if entry['type'] in LOSS_REGISTRY else None
            if not getattr(loss_cls, 'compares_with_target', True):
                yield f'{key_path}.type', f"{entry['type']} does not compare the output with a target image."
            target = entry.get('target')
            if target is not None and target not in cls.loss_targets:
                yield f'{key_path}.target', f"{target!r} is not an image {cls.__name__} offers " \
                                           f"({', '.join(cls.loss_targets)})."
            if 'output_ema' in getattr(loss_cls, 'extra_inputs', ()) and not train['ema_decay']:
                yield f'{key_path}.type', f"{entry['type']} uses the EMA generator's output: set train.ema_decay."

    def __init__(self, opt: dict[str, Any]) -> None:
        super().__init__(opt)
        self.net_g = self.build_trained_network('g')
        self.best_metric_results: dict[str, dict[str, dict[str, Any]]] = {}
        self._bicubic_logged: set[str] = set()
        if self.is_train:  # (here, not in init_training_settings, which plug-in recipes replace)
            self.batch_augment = BatchAugment(self.opt['train']['batch_augment'], self.opt['scale'])
            self.augment_generator = torch.Generator(self.device).manual_seed(self.opt['manual_seed']
                                                                              + self.opt['rank'])
            self.init_training_settings()

    def init_training_settings(self) -> None:
        train_opt = self.opt['train']
        self.net_g.train()
        self.ema_decay = train_opt['ema_decay']
        if self.ema_decay > 0:
            self.setup_ema(self.net_g, self.opt['network_g'], self.opt['path']['pretrain_network_g'],
                           self.opt['path']['strict_load_g'])
        self.loss_terms = LossTerms.from_options(train_opt, self.content_loss_keys(), self.loss_targets,
                                                 self.default_loss_target, self.device)
        pix, percep = self.loss_terms.get('pix'), self.loss_terms.get('percep')
        self.cri_pix = pix.loss if pix else None  # BasicSR's attribute names, read by plug-in recipes
        self.cri_perceptual = percep.loss if percep else None
        self.setup_optimizers()
        self.setup_schedulers()

    def setup_optimizers(self) -> None:
        params = [p for p in self.net_g.parameters() if p.requires_grad]
        self.optimizer_g = self.build_optimizer(self.opt['train']['optim_g'], params, 'train.optim_g')

    def feed_data(self, data: dict[str, Any]) -> None:
        self.lq = self.to_device(data['lq'])
        self.gt = self.to_device(data['gt']) if 'gt' in data else None

    def apply_batch_augment(self) -> None:
        """``train.batch_augment`` on the batch fed (after any online degradation), drawing only from the model's
        own generator (saved with the training state, so resume stays exact)."""
        self.lq, self.gt = self.batch_augment(self.lq, self.gt, self.augment_generator)

    def on_save_checkpoint(self, state: dict[str, Any]) -> None:
        super().on_save_checkpoint(state)
        state['augment_generator'] = gather_to_master(self.augment_generator.get_state())  # one per rank

    def on_load_checkpoint(self, state: dict[str, Any]) -> None:
        super().on_load_checkpoint(state)
        saved = state.get('augment_generator') or []
        if len(saved) == get_dist_info()[1]:
            self.augment_generator.set_state(saved[get_dist_info()[0]])

    def optimize_parameters(self, current_iter: int) -> None:
        self.apply_batch_augment()
        self.zero_grad(self.optimizer_g)
        with self.autocast():
            self.output = self.net_g(self.lq)
            losses = self.content_losses()
        if self.guarded_step(losses, self.optimizer_g, current_iter) and self.ema_decay > 0:
            self.model_ema(self.ema_decay)

    def content_losses(self, prefix: str = 'l_') -> 'OrderedDict[str, torch.Tensor]':
        """The loss terms of ``self.output``, named ``<prefix><name>`` (``l_pix``, ``l_percep``, ``l_style``...)."""
        targets = {name: getattr(self, name) for name in self.loss_targets}
        return self.loss_terms(self.output, targets, {'output_ema': self.ema_output, 'lq': lambda: self.lq},
                               prefix)

    def ema_output(self) -> torch.Tensor:
        """The EMA generator's output for ``self.lq`` (no gradient), e.g. for LDL's artifact map."""
        with torch.no_grad():
            return self.net_g_ema(self.lq)

    def default_loss_target(self, name: str) -> str:
        """The image a loss term named ``name`` compares with when its entry names none: the GT."""
        return 'gt'

    def content_target(self, loss: str) -> torch.Tensor:
        """The image the content loss ``loss`` ('pix', 'percep', ...) compares the output with by default."""
        return getattr(self, self.default_loss_target(loss))

    @torch.inference_mode()
    def test(self) -> None:
        """``self.output`` = the generator (its EMA copy when there is one) applied to ``self.lq``, with the
        inference options of ``val`` (``tile``/``tile_pad``, ``self_ensemble``, ``amp``).

        The bare network runs, not its DDP wrapper: ranks validate different numbers of images, and DDP's
        forward pass may communicate.
        """
        net = self.net_g_ema if getattr(self, 'net_g_ema', None) is not None else self.get_bare_model(self.net_g)
        was_training = net.training
        net.eval()
        val = self.opt['val']
        self.output = super_resolve(net, self.lq, val['tile'], val['tile_pad'], val['self_ensemble'], val['amp'])
        net.train(was_training)

    def get_current_visuals(self) -> 'OrderedDict[str, torch.Tensor]':
        visuals = OrderedDict(lq=self.lq.detach().cpu(), result=self.output.detach().cpu())
        if self.gt is not None:
            visuals['gt'] = self.gt.detach().cpu()
        return visuals

    def nondist_validation(self, dataloader: DataLoader, current_iter: int, tb_logger: Any = None,
                           save_img: bool = False) -> dict[str, dict[str, float]]:
        """Run on every image of ``dataloader``; log the mean of each ``val.metrics`` entry (also left in
        ``self.metric_results``, as BasicSR) and keep the best in ``self.best_metric_results``.

        Works in one process and, on every rank's share, in distributed runs (see :meth:`dist_validation`): each
        rank runs its share of the images (the loader's ShardSampler); the per-image values are gathered on every
        rank in dataset order, each image once, so the means equal one process's. Rank 0 writes the images of all
        ranks. Set-level metrics (FID) see every image of every rank and are computed once over the set. With
        ``tb_logger``, the first ``val.tb_images`` images also go to TensorBoard as bicubic | SR | GT grids.
        Returns the per-image metric values, ``{image_name: {metric_name: value}}``.
        """
        dataset_name = dataset_name_of(dataloader)
        val_opt = self.opt['val']
        all_metrics_opt = val_opt['metrics']
        metrics_opt, _ = split_metrics(all_metrics_opt)  # per image; set-level ones (FID) see every image
        set_metrics = build_dataset_metrics(all_metrics_opt)
        self.metric_results = {}
        baseline_due = val_opt['bicubic_baseline'] and dataset_name not in self._bicubic_logged
        rows = {}  # dataset index -> (image name, metric values, bicubic metric values), for this rank's images
        for index, data in sharded_batches(dataloader, f'Validate {dataset_name}', val_opt['pbar']):
            image = None
            if data is not None:
                img_name = image_name(data['lq_path'][0], dataloader)
                self.feed_data(data)
                self.test()
                image = (img_name, tensor2img(self.output)) if save_img else None
                gt = getattr(self, 'gt', None)
                if tb_logger is not None and index < val_opt['tb_images']:
                    grid = comparison_grid(self.lq, self.output, gt, self.opt['scale'])
                    tb_logger.add_image(f'images/{dataset_name}/{img_name}', grid, current_iter)
                if gt is not None:
                    baseline = (self._metrics(imresize(self.lq, self.opt['scale']), metrics_opt)
                                if baseline_due else {})
                    rows[index] = (img_name, self._metrics(self.output, metrics_opt), baseline)
                for metric in set_metrics.values():
                    metric.update(self.output, gt)
                self.gt = None
                del self.lq, self.output
            if save_img:
                self._save_images_on_master(image, dataset_name, current_iter)
        for rank_rows in all_gather_objects(rows):  # each image once, in dataset order, on every rank
            rows.update(rank_rows)
        set_values = gather_dataset_metrics(set_metrics)  # over every rank's images, on every rank
        ordered = [rows[index] for index in sorted(rows)]
        per_image = {name: values for name, values, _ in ordered}
        bicubic = {name: baseline for name, _, baseline in ordered if baseline}
        if bicubic:
            self._bicubic_logged.add(dataset_name)
            self.logger.info(f'Bicubic baseline on {dataset_name}: ' + ', '.join(
                f'{name} {value:.4f}' for name, value in mean_metrics(bicubic).items())
                + ' (of these GT files as cropped: tables whose HR was cropped to another multiple differ a little, '
                'e.g. Set5 x4 is 28.43 dB cropped to a multiple of 4, 28.40 dB as GTmod12).')
        if metrics_opt and not per_image:
            self.logger.warning(f'Validation {dataset_name}: no GT images, so the metrics '
                                f"({', '.join(metrics_opt)}) were not computed.")
        means = {**(mean_metrics(per_image) if metrics_opt else {}), **set_values}
        if means:
            self.metric_results = {name: means[name] for name in all_metrics_opt if name in means}
            self._initialize_best_metric_results(dataset_name)
            for name, value in self.metric_results.items():
                self._update_best_metric_result(dataset_name, name, value, current_iter)
            self._log_validation_metric_values(current_iter, dataset_name, tb_logger)
        return per_image

    def dist_validation(self, dataloader: DataLoader, current_iter: int, tb_logger: Any = None,
                        save_img: bool = False) -> dict[str, dict[str, float]]:
        """Validation in distributed runs: every rank runs its share (:meth:`nondist_validation`).

        A BasicSR plug-in that overrides ``nondist_validation`` with single-process code gets BasicSR's
        behaviour instead: rank 0 runs it on the whole set while the others wait.
        """
        if type(self).nondist_validation.__module__.startswith('basicsr.'):
            return self.nondist_validation(dataloader, current_iter, tb_logger, save_img)
        result = None
        if get_dist_info()[0] == 0:
            whole = DataLoader(dataloader.dataset, batch_size=1, shuffle=False, num_workers=0)
            result = self.nondist_validation(whole, current_iter, tb_logger, save_img)
        barrier()
        return result

    def _metrics(self, sr: torch.Tensor, metrics_opt: dict[str, dict[str, Any]]) -> dict[str, float]:
        return {name: calculate_tensor_metric(sr, self.gt, opt) for name, opt in metrics_opt.items()}

    def _save_images_on_master(self, image: tuple[str, np.ndarray] | None, dataset_name: str,
                               current_iter: int) -> None:
        """Rank 0 writes the ``(name, image)`` every rank made in this step (None: a rank had none left)."""
        for gathered in gather_to_master(image) or []:
            if gathered is not None:
                self._save_image(gathered[1], dataset_name, gathered[0], current_iter)

    def _save_image(self, img: np.ndarray, dataset_name: str, img_name: str, current_iter: int) -> None:
        folder = Path(self.opt['path']['visualization'])
        suffix = self.opt['val']['suffix']
        if self.opt['is_train']:
            path = folder / img_name / f'{Path(img_name).name}_{current_iter}.png'
        else:
            path = folder / dataset_name / f"{img_name}_{suffix or self.opt['name']}.png"
        imwrite(img, path)


def image_name(lq_path: str, dataloader: DataLoader) -> str:
    """An image's name in tables and saved files: its path below the dataset's LQ folder, without suffix (the plain
    stem for a flat folder; ``sub/img`` for nested ones, so two ``img.png`` in different folders stay apart)."""
    root = (getattr(dataloader.dataset, 'opt', None) or {}).get('dataroot_lq')
    path = Path(lq_path)
    if isinstance(root, str) and path.is_relative_to(root):
        return path.relative_to(root).with_suffix('').as_posix()
    return path.stem


def dataset_name_of(dataloader: DataLoader) -> str:
    """The ``name`` of a loader's dataset as its options give it (BasicSR: ``dataloader.dataset.opt['name']``)."""
    dataset = dataloader.dataset
    return (getattr(dataset, 'opt', None) or {}).get('name') or type(dataset).__name__


def sharded_batches(dataloader: DataLoader, desc: str,
                    show_bar: bool = True) -> Iterator[tuple[int | None, dict[str, Any] | None]]:
    """``(dataset index, batch)`` for this rank's share of a validation loader (its ShardSampler's indices name the
    images' places in the set), then ``(None, None)`` until every rank has stepped as often as the busiest, so that
    the ranks can gather after each step. Rank 0 shows a progress bar over the whole set."""
    rank, world_size = get_dist_info()
    shard = zip(dataloader.sampler, dataloader)
    steps = max(all_gather_objects(len(dataloader)))
    with tqdm(total=len(dataloader.dataset), desc=desc, unit='image', leave=False,
              disable=not show_bar or rank != 0 or not sys.stderr.isatty()) as bar:  # no \r spam in log files
        for _ in range(steps):
            yield next(shard, (None, None))
            bar.update(min(world_size, bar.total - bar.n))


def comparison_grid(lq: torch.Tensor, sr: torch.Tensor, gt: torch.Tensor | None, scale: int) -> torch.Tensor:
    """Bicubic upsampling | SR | GT (when given) of the first image of a batch, side by side: (3, H, k W) in [0, 1].

    Panels are cropped to their common size (a GT that is not a multiple of the scale is a few pixels larger).
    """
    panels = [imresize(lq[0], scale), sr[0]] + ([gt[0]] if gt is not None else [])
    height, width = min(p.shape[-2] for p in panels), min(p.shape[-1] for p in panels)
    return torch.cat([p[:, :height, :width].detach().float().clamp(0, 1).cpu() for p in panels], dim=-1)
