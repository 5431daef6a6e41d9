"""Supervised single-image SR: one generator trained with pixel losses, validated with PSNR/SSIM."""
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from basicsr.archs import build_network
from basicsr.losses import build_loss
from basicsr.metrics import calculate_metric, mean_metrics
from basicsr.models.base_model import BaseModel
from basicsr.utils.errors import OptionError
from basicsr.utils.img_util import imwrite, tensor2img
from basicsr.utils.matlab_functions import imresize
from basicsr.utils.registry import MODEL_REGISTRY


@MODEL_REGISTRY.register()
class SRModel(BaseModel):
    """Trains ``network_g`` on (LQ, GT) pairs with ``train.pixel_opt`` (and ``perceptual_opt`` when given)."""

    def __init__(self, opt: dict[str, Any]) -> None:
        super().__init__(opt)
        self.net_g = self.model_to_device(build_network(opt['network_g'], 'network_g'))
        self.print_network(self.net_g)
        paths = opt['path']
        if paths.get('pretrain_network_g'):
            self.load_network(self.net_g, paths['pretrain_network_g'], paths['strict_load_g'], paths['param_key_g'])
        self.best_metric_results: dict[str, dict[str, dict[str, Any]]] = {}
        self._bicubic_logged: set[str] = set()
        if self.is_train:
            self.init_training_settings()

    def init_training_settings(self) -> None:
        train_opt = self.opt['train']
        self.net_g.train()
        self.ema_decay = train_opt['ema_decay']
        if self.ema_decay > 0:
            self.setup_ema(self.net_g, self.opt['network_g'], self.opt['path'].get('pretrain_network_g'),
                           self.opt['path']['strict_load_g'])
        self.cri_pix = build_loss(train_opt['pixel_opt'], 'train.pixel_opt') if train_opt.get('pixel_opt') else None
        self.cri_perceptual = (build_loss(train_opt['perceptual_opt'], 'train.perceptual_opt')
                               if train_opt.get('perceptual_opt') else None)
        if self.cri_pix is None and self.cri_perceptual is None:
            raise OptionError('train: give pixel_opt and/or perceptual_opt: there is no loss to train with.',
                              key_path='train.pixel_opt')
        if self.cri_perceptual is not None:
            self.cri_perceptual = self.cri_perceptual.to(self.device)
        self.setup_optimizers()
        self.setup_schedulers()

    def setup_optimizers(self) -> None:
        if 'optim_g' not in self.opt['train']:
            raise OptionError('train.optim_g: required for training but missing.', key_path='train.optim_g')
        params = [p for p in self.net_g.parameters() if p.requires_grad]
        self.optimizer_g = self.build_optimizer(self.opt['train']['optim_g'], params, 'train.optim_g')

    def feed_data(self, data: dict[str, Any]) -> None:
        self.lq = data['lq'].to(self.device, non_blocking=True)
        self.gt = data['gt'].to(self.device, non_blocking=True) if 'gt' in data else None

    def optimize_parameters(self, current_iter: int) -> None:
        self.optimizer_g.zero_grad(set_to_none=True)
        self.output = self.net_g(self.lq)
        losses = OrderedDict()
        if self.cri_pix is not None:
            losses['l_pix'] = self.cri_pix(self.output, self.gt)
        if self.cri_perceptual is not None:
            l_percep, l_style = self.cri_perceptual(self.output, self.gt)
            if l_percep is not None:
                losses['l_percep'] = l_percep
            if l_style is not None:
                losses['l_style'] = l_style
        sum(losses.values()).backward()
        self.optimizer_g.step()
        self.accumulate_losses(losses)
        if self.ema_decay > 0:
            self.model_ema(self.ema_decay)

    @torch.inference_mode()
    def test(self) -> None:
        """``self.output`` = the generator (its EMA copy when there is one) applied to ``self.lq``."""
        net = self.net_g_ema if getattr(self, 'net_g_ema', None) is not None else self.net_g
        was_training = net.training
        net.eval()
        self.output = net(self.lq)
        net.train(was_training)

    def get_current_visuals(self) -> 'OrderedDict[str, torch.Tensor]':
        visuals = OrderedDict(lq=self.lq.detach().cpu(), result=self.output.detach().cpu())
        if self.gt is not None:
            visuals['gt'] = self.gt.detach().cpu()
        return visuals

    def validation(self, dataloader: DataLoader, dataset_name: str, current_iter: int, tb_logger: Any = None,
                   save_img: bool = False) -> dict[str, dict[str, float]]:
        """Run on every image of ``dataloader``; log the mean of each ``val.metrics`` entry and keep the best.

        Returns the per-image metric values, ``{image_name: {metric_name: value}}``.
        """
        val_opt = self.opt['val']
        metrics_opt = val_opt.get('metrics') or {}
        baseline_due = val_opt.get('bicubic_baseline') and dataset_name not in self._bicubic_logged
        per_image: dict[str, dict[str, float]] = {}
        bicubic: dict[str, dict[str, float]] = {}
        for data in tqdm(dataloader, desc=f'Validate {dataset_name}', unit='image', leave=False,
                         disable=not val_opt.get('pbar', True)):
            img_name = Path(data['lq_path'][0]).stem
            self.feed_data(data)
            self.test()
            if save_img:
                self._save_image(self.output, dataset_name, img_name, current_iter)
            if self.gt is not None:
                per_image[img_name] = self._metrics(self.output, metrics_opt)
                if baseline_due:
                    bicubic[img_name] = self._metrics(imresize(self.lq, self.opt['scale']), metrics_opt)
            del self.lq, self.output, self.gt
        if bicubic:
            self._bicubic_logged.add(dataset_name)
            self.logger.info(f'Bicubic baseline on {dataset_name}: ' + ', '.join(
                f'{name} {value:.4f}' for name, value in mean_metrics(bicubic).items()))
        if per_image and metrics_opt:
            means = mean_metrics(per_image)
            self._update_best(dataset_name, means, current_iter)
            self._log_metrics(dataset_name, means, current_iter, tb_logger)
        return per_image

    def _metrics(self, sr: torch.Tensor, metrics_opt: dict[str, dict[str, Any]]) -> dict[str, float]:
        return {name: calculate_metric(sr, self.gt, opt) for name, opt in metrics_opt.items()}

    def _save_image(self, img: torch.Tensor, dataset_name: str, img_name: str, current_iter: int) -> None:
        folder = Path(self.opt['path']['visualization'])
        suffix = self.opt['val'].get('suffix')
        if self.is_train:
            path = folder / img_name / f'{img_name}_{current_iter}.png'
        else:
            path = folder / dataset_name / f"{img_name}_{suffix or self.opt['name']}.png"
        imwrite(tensor2img(img), path)

    def _update_best(self, dataset_name: str, means: dict[str, float], current_iter: int) -> None:
        best = self.best_metric_results.setdefault(dataset_name, {})
        for name, value in means.items():
            better = self.opt['val']['metrics'][name].get('better', 'higher')
            record = best.get(name)
            improved = record is None or (value > record['val'] if better == 'higher' else value < record['val'])
            if improved:
                best[name] = {'better': better, 'val': value, 'iter': current_iter}

    def _log_metrics(self, dataset_name: str, means: dict[str, float], current_iter: int, tb_logger: Any) -> None:
        message = f'Validation {dataset_name}'
        for name, value in means.items():
            message += f'\n\t # {name}: {value:.4f}'
            record = self.best_metric_results.get(dataset_name, {}).get(name)
            if record is not None:
                message += f"\tBest: {record['val']:.4f} @ {record['iter']} iter"
            if tb_logger is not None:
                tb_logger.add_scalar(f'metrics/{dataset_name}/{name}', value, current_iter)
        self.logger.info(message)

    def save(self, epoch: int, current_iter: int, **extra: Any) -> None:
        """Save the generator (with its EMA as ``params_ema``) and the training state of ``current_iter``."""
        if getattr(self, 'net_g_ema', None) is not None:
            self.save_network([self.net_g, self.net_g_ema], 'net_g', current_iter, ['params', 'params_ema'])
        else:
            self.save_network(self.net_g, 'net_g', current_iter)
        self.save_training_state(epoch, current_iter, **extra)
