import os.path as osp

import torch
from torch.nn import functional as F

from basicsr.metrics import calculate_metric
from basicsr.models.sr_model import SRModel
from basicsr.utils import imwrite, tensor2img
from basicsr.utils.registry import MODEL_REGISTRY

__all__ = ['PlugModel']


@MODEL_REGISTRY.register()
class PlugModel(SRModel):
    """Overrides test() (pads the input to a multiple of the root-level ``window_size``, as HAT's model does) and
    nondist_validation() (BasicSR 1.4.2's loop, written out as plug-ins copy it). Declares no option keys."""

    def test(self):
        window = self.opt['window_size']
        _, _, h, w = self.lq.size()
        pad_h, pad_w = (window - h % window) % window, (window - w % window) % window
        img = F.pad(self.lq, (0, pad_w, 0, pad_h), 'reflect')
        self.net_g.eval()
        with torch.no_grad():
            self.output = self.net_g(img)
        self.net_g.train()
        scale = self.opt.get('scale', 1)
        self.output = self.output[:, :, :h * scale, :w * scale]
        self.tested_shapes = getattr(self, 'tested_shapes', []) + [tuple(img.shape)]

    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img):
        dataset_name = dataloader.dataset.opt['name']
        with_metrics = self.opt['val'].get('metrics') is not None
        if with_metrics:
            if not hasattr(self, 'metric_results'):
                self.metric_results = {metric: 0 for metric in self.opt['val']['metrics'].keys()}
            self._initialize_best_metric_results(dataset_name)
            self.metric_results = {metric: 0 for metric in self.metric_results}
        metric_data = dict()
        for idx, val_data in enumerate(dataloader):
            img_name = osp.splitext(osp.basename(val_data['lq_path'][0]))[0]
            self.feed_data(val_data)
            self.test()
            visuals = self.get_current_visuals()
            sr_img = tensor2img([visuals['result']])
            metric_data['img'] = sr_img
            if 'gt' in visuals:
                metric_data['img2'] = tensor2img([visuals['gt']])
                del self.gt
            del self.lq
            del self.output
            if save_img:
                imwrite(sr_img, osp.join(self.opt['path']['visualization'], img_name, f'{img_name}_{current_iter}.png'))
            if with_metrics:
                for name, opt_ in self.opt['val']['metrics'].items():
                    self.metric_results[name] += calculate_metric(metric_data, opt_)
        if with_metrics:
            for metric in self.metric_results.keys():
                self.metric_results[metric] /= (idx + 1)
                self._update_best_metric_result(dataset_name, metric, self.metric_results[metric], current_iter)
            self._log_validation_metric_values(current_iter, dataset_name, tb_logger)
