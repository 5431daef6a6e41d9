"""BasicSR 1.4.2's Python API for data, utils, losses and metrics, called the way BasicSR's own tests and plug-in
repositories call it: datasets built from one options dict, the ``basicsr.utils`` re-exports, module paths of
1.4 and 1.3, BasicSR's signatures of the transforms, path helpers, losses and metrics."""
import copy
import inspect
import math
import random
import subprocess
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

import basicsr.utils
from basicsr.data import build_dataset
from basicsr.data.data_util import (paired_paths_from_folder, paired_paths_from_lmdb, paired_paths_from_meta_info_file,
                                    paths_from_folder, paths_from_lmdb)
from basicsr.data.paired_image_dataset import PairedImageDataset
from basicsr.data.single_image_dataset import SingleImageDataset
from basicsr.data.transforms import augment, bicubic_downscale_uint8, img_rotate, mod_crop, paired_random_crop
from basicsr.data.unpaired_image_dataset import UnpairedImageDataset
from basicsr.losses import build_loss
from basicsr.losses.loss_util import reduce_loss, weight_reduce_loss, weighted_loss
from basicsr.metrics import calculate_metric, calculate_tensor_metric
from basicsr.metrics.psnr_ssim import calculate_psnr, calculate_ssim
from basicsr.utils import (AvgTimer, FileClient, check_resume, crop_border, imfrombytes, img2tensor, imwrite,
                           make_exp_dirs, scandir, tensor2img)
from basicsr.utils.errors import DataError, OptionError
from basicsr.utils.lmdb_util import make_lmdb_from_imgs
from basicsr.utils.opt_dict import takes_opt_dict
from basicsr.utils.registry import DATASET_REGISTRY

from conftest import synthetic_image

# GT sizes (h, w) of the two test images; LQ is x4 smaller (the names are those of BasicSR's test data)
SIZES = {'baboon': (64, 72), 'comic': (48, 40)}


@pytest.fixture(scope='module')
def data(tmp_path_factory) -> Path:
    """``gt/`` and ``lq/`` folders with two bicubic x4 pairs, ``meta_info_gt.txt`` and ``gt.lmdb`` / ``lq.lmdb``."""
    root = tmp_path_factory.mktemp('basicsr_api')
    for i, (name, (h, w)) in enumerate(SIZES.items()):
        gt = synthetic_image(i, h, w)
        imwrite(gt, root / 'gt' / f'{name}.png')
        imwrite(bicubic_downscale_uint8(gt, 4), root / 'lq' / f'{name}.png')
    (root / 'meta_info_gt.txt').write_text(''.join(f'{name}.png ({h},{w},3)\n' for name, (h, w) in SIZES.items()))
    for folder in ('gt', 'lq'):
        make_lmdb_from_imgs(root / folder, root / f'{folder}.lmdb', [f'{n}.png' for n in SIZES], list(SIZES),
                            progress=False)
    return root


def _paired_opt(root: Path) -> dict:
    """BasicSR's test options of PairedImageDataset (its tests/test_data/test_paired_image_dataset.py), sized here."""
    return yaml.safe_load(f"""
name: Test
type: PairedImageDataset
dataroot_gt: {root}/gt
dataroot_lq: {root}/lq
meta_info_file: {root}/meta_info_gt.txt
filename_tmpl: '{{}}'
io_backend:
    type: disk

scale: 4
mean: [0.5, 0.5, 0.5]
std: [0.5, 0.5, 0.5]
gt_size: 32
use_hflip: true
use_rot: true

phase: train
""")


def test_paired_image_dataset_from_one_options_dict(data):
    opt = _paired_opt(data)
    original = copy.deepcopy(opt)
    dataset = PairedImageDataset(opt)
    assert opt == original  # the caller's dict is not changed
    assert dataset.io_backend_opt['type'] == 'disk'
    assert len(dataset) == 2
    assert dataset.mean == [0.5, 0.5, 0.5] and dataset.std == [0.5, 0.5, 0.5]
    assert dataset.opt['phase'] == 'train' and dataset.opt['name'] == 'Test' and dataset.opt['color'] is None
    assert dataset.gt_folder == f'{data}/gt' and dataset.lq_folder == f'{data}/lq'
    assert dataset.paths[0] == {'gt_path': f'{data}/gt/baboon.png', 'lq_path': f'{data}/lq/baboon.png'}
    assert dataset.file_client.get(dataset.paths[0]['gt_path'], 'gt')[:4] == b'\x89PNG'
    result = dataset.__getitem__(0)
    assert {'lq', 'gt', 'lq_path', 'gt_path'} <= set(result)
    assert result['gt'].shape == (3, 32, 32) and result['lq'].shape == (3, 8, 8)
    assert result['lq_path'] == f'{data}/lq/baboon.png' and result['gt_path'] == f'{data}/gt/baboon.png'
    assert -1 <= result['gt'].min() < 0 < result['gt'].max() <= 1  # normalised by mean/std 0.5

    # the dict and the keyword form are one dataset: the same sample for the same per-sample seed
    keywords = PairedImageDataset(**{k: v for k, v in opt.items() if k not in ('name', 'type')})
    for key in ('gt', 'lq'):
        torch.testing.assert_close(dataset[(1, 7)][key], keywords[(1, 7)][key], rtol=0, atol=0)

    opt.pop('filename_tmpl')
    dataset = PairedImageDataset(opt)
    assert dataset.filename_tmpl == '{}'

    opt.pop('meta_info_file')  # scan the folders
    assert len(PairedImageDataset(opt)) == 2

    opt.update(dataroot_gt=f'{data}/gt.lmdb', dataroot_lq=f'{data}/lq.lmdb', io_backend={'type': 'lmdb'}, color='y',
               mean=[0.5], std=[0.5])
    dataset = PairedImageDataset(opt)
    assert dataset.io_backend_opt['type'] == 'lmdb' and dataset.io_backend_opt['client_keys'] == ['lq', 'gt']
    assert len(dataset) == 2 and dataset.std == [0.5]
    result = dataset.__getitem__(1)
    assert result['gt'].shape == (1, 32, 32) and result['lq'].shape == (1, 8, 8)
    assert result['lq_path'] == 'comic' and result['gt_path'] == 'comic'

    opt['phase'] = 'test'  # whole images
    dataset = PairedImageDataset(opt)  # (the previous one is released first: LMDB opens a path once per process)
    result = dataset.__getitem__(0)
    assert result['gt'].shape == (1, 64, 72) and result['lq'].shape == (1, 16, 18)
    assert result['lq_path'] == 'baboon' and result['gt_path'] == 'baboon'


def test_single_image_dataset_from_one_options_dict(data):
    opt = yaml.safe_load(f"""
name: Test
type: SingleImageDataset
dataroot_lq: {data}/lq
meta_info_file: {data}/meta_info_gt.txt
io_backend:
    type: disk

mean: [0.5, 0.5, 0.5]
std: [0.5, 0.5, 0.5]
""")
    dataset = SingleImageDataset(opt)
    assert dataset.io_backend_opt['type'] == 'disk' and len(dataset) == 2 and dataset.mean == [0.5, 0.5, 0.5]
    assert dataset.lq_folder == f'{data}/lq'
    result = dataset.__getitem__(0)
    assert set(result) == {'lq', 'lq_path'}
    assert result['lq'].shape == (3, 16, 18) and result['lq_path'] == f'{data}/lq/baboon.png'

    opt.pop('meta_info_file')
    assert len(SingleImageDataset(opt)) == 2

    opt.update(dataroot_lq=f'{data}/lq.lmdb', io_backend={'type': 'lmdb'}, color='y', mean=[0.5], std=[0.5])
    dataset = SingleImageDataset(opt)
    assert dataset.io_backend_opt['type'] == 'lmdb' and len(dataset) == 2 and dataset.std == [0.5]
    result = dataset.__getitem__(1)
    assert result['lq'].shape == (1, 12, 10) and result['lq_path'] == 'comic'


def test_unpaired_image_dataset_from_one_options_dict(data):
    dataset = UnpairedImageDataset({'name': 'U', 'type': 'UnpairedImageDataset', 'dataroot_source': f'{data}/gt',
                                    'dataroot_target': f'{data}/lq', 'io_backend': {'type': 'disk'}, 'phase': 'val',
                                    'scale': 4, 'batch_size_per_gpu': 2})
    sample = dataset[0]
    assert sample['lq'].shape == (3, 16, 18) and sample['target'].shape == (3, 16, 18)
    assert dataset.opt['scale'] == 4


def test_options_dict_errors_and_declarations(data):
    opt = _paired_opt(data)
    with pytest.raises(OptionError, match="PairedImageDataset.use_flipp: unknown argument.*Did you mean 'use_hflip'"):
        PairedImageDataset({**opt, 'use_flipp': True})
    with pytest.raises(OptionError, match='dataroot_gt: required'):
        PairedImageDataset({k: v for k, v in opt.items() if k != 'dataroot_gt'})
    with pytest.raises(OptionError, match='gt_size'):
        PairedImageDataset({**opt, 'gt_size': 'large'})
    # every framework key of a datasets section is left to the framework
    framework = {'batch_size_per_gpu': 2, 'num_worker_per_gpu': 0, 'use_shuffle': True, 'dataset_enlarge_ratio': 3,
                 'prefetch_mode': None, 'pin_memory': False, 'persistent_workers': False, 'num_prefetch_queue': 1}
    assert len(PairedImageDataset({**opt, **framework})) == 2
    # the keyword signature stays the declaration the option validator checks
    assert 'dataroot_gt' in inspect.signature(PairedImageDataset).parameters
    assert not takes_opt_dict(PairedImageDataset) and not takes_opt_dict(SingleImageDataset)
    assert PairedImageDataset.__init__.__doc__ == inspect.unwrap(PairedImageDataset.__init__).__doc__

    class PluginDataset(PairedImageDataset):  # a BasicSR plug-in subclass reading a key of its own
        def __init__(self, opt):
            super().__init__(opt)
            self.own = opt['own_key']

    plugin = PluginDataset({**opt, 'own_key': 5})
    assert takes_opt_dict(PluginDataset) and plugin.own == 5 and plugin.opt['own_key'] == 5 and len(plugin) == 2


class _OptDataset(torch.utils.data.Dataset):
    """A BasicSR-style third-party dataset."""

    def __init__(self, opt):
        self.opt = opt

    def __len__(self):
        return 1


class _KeywordDataset(torch.utils.data.Dataset):
    """A third-party dataset written in this project's style."""

    def __init__(self, root: str, phase: str = 'train') -> None:
        self.root, self.phase = root, phase

    def __len__(self):
        return 1


def test_build_dataset_calls_the_class_with_the_whole_section(monkeypatch):
    monkeypatch.setitem(DATASET_REGISTRY._obj_map, '_OptDataset', _OptDataset)
    monkeypatch.setitem(DATASET_REGISTRY._obj_map, '_KeywordDataset', _KeywordDataset)
    section = {'name': 'plug', 'type': '_OptDataset', 'phase': 'train', 'scale': 2, 'batch_size_per_gpu': 4,
               'my_key': [1, 2]}
    dataset = build_dataset(section)
    assert dataset.opt == section and dataset.opt is not section
    del section['my_key']
    dataset = build_dataset({**section, 'type': '_KeywordDataset', 'root': 'x'})  # wrapped when built
    assert (dataset.root, dataset.phase) == ('x', 'train')
    assert dataset.opt == {**section, 'type': '_KeywordDataset', 'root': 'x'}
    with pytest.raises(OptionError, match="_KeywordDataset.rot: unknown argument.*Did you mean 'root'"):
        build_dataset({**section, 'type': '_KeywordDataset', 'rot': 'x'})


def test_pixel_losses_as_basicsr_tests_call_them():
    from basicsr.losses import basic_loss, losses  # 1.4 and 1.3 module paths
    pred, target, weight = torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4)
    elementwise = {'L1Loss': (pred - target).abs(), 'MSELoss': (pred - target)**2,
                   'CharbonnierLoss': torch.sqrt((pred - target)**2 + 1e-12)}
    for name, expected in elementwise.items():
        loss_class = getattr(basic_loss, name)
        assert getattr(losses, name) is loss_class
        out = loss_class(loss_weight=1.0, reduction='mean')(pred, target, weight=None)
        assert out.shape == torch.Size([]) and torch.isclose(out, expected.mean())
        out = loss_class(loss_weight=1.0, reduction='none')(pred, target, weight=weight)
        assert out.shape == (1, 3, 4, 4) and torch.allclose(out, expected * weight)
        out = loss_class(loss_weight=0.5, reduction='sum')(pred, target, weight=None)
        assert out.shape == torch.Size([]) and torch.isclose(out, expected.sum() * 0.5)
        out = loss_class(loss_weight=1.0, reduction='mean')(pred, target, weight=weight)
        assert torch.isclose(out, (expected * weight).sum() / weight.sum())
        with pytest.raises(ValueError):
            loss_class(loss_weight=1.0, reduction='unknown')
    built = build_loss({'type': 'L1Loss', 'loss_weight': 2.0, 'reduction': 'mean'})
    assert isinstance(built, basic_loss.L1Loss) and torch.isclose(built(pred, target), 2 * elementwise['L1Loss'].mean())
    assert losses.PerceptualLoss is basic_loss.PerceptualLoss and losses.GANLoss.__name__ == 'GANLoss'


def test_weighted_tv_loss():
    from basicsr.losses.losses import WeightedTVLoss
    pred, weight = torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4)
    dy, dx = (pred[..., :-1, :] - pred[..., 1:, :]).abs(), (pred[..., :-1] - pred[..., 1:]).abs()
    assert torch.isclose(WeightedTVLoss(loss_weight=1.0, reduction='mean')(pred, weight=None), dy.mean() + dx.mean())
    out = WeightedTVLoss(loss_weight=1.0, reduction='sum')(pred, weight=weight)
    assert out.shape == torch.Size([])
    assert torch.isclose(out, (dy * weight[..., :-1, :]).sum() + (dx * weight[..., :-1]).sum())
    for reduction in ('unknown', 'none'):
        with pytest.raises(ValueError):
            WeightedTVLoss(loss_weight=1.0, reduction=reduction)


def test_loss_util_helpers():
    @weighted_loss
    def l1(pred, target):
        return (pred - target).abs()

    pred, target, weight = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4), torch.rand(2, 1, 4, 4)
    assert torch.isclose(l1(pred, target), torch.nn.functional.l1_loss(pred, target))
    assert torch.isclose(l1(pred, target, reduction='sum'), (pred - target).abs().sum())
    assert torch.isclose(l1(pred, target, weight), ((pred - target).abs() * weight).sum() / (weight.sum() * 3))
    assert reduce_loss(pred, 'none') is pred and torch.isclose(weight_reduce_loss(pred, None, 'mean'), pred.mean())
    with pytest.raises(ValueError):
        reduce_loss(pred, 'avg')


def test_psnr_ssim_as_basicsr_tests_call_them():
    with pytest.raises(AssertionError, match='same shape'):
        calculate_psnr(np.ones((16, 16)), np.ones((10, 10)), crop_border=0)
    with pytest.raises(DataError):  # the project's error type too
        calculate_ssim(np.ones((16, 16)), np.ones((10, 10)), crop_border=0)
    for metric in (calculate_psnr, calculate_ssim):
        with pytest.raises(ValueError):
            metric(np.ones((16, 16)), np.ones((16, 16)), crop_border=1, input_order='WRONG')
    out = calculate_psnr(np.ones((10, 10, 3)), np.ones((10, 10, 3)) * 2, crop_border=1, test_y_channel=True)
    assert isinstance(out, float)
    assert calculate_psnr(np.ones((10, 10, 3)), np.ones((10, 10, 3)), crop_border=0) == float('inf')
    with pytest.warns(RuntimeWarning, match='11x11'):  # the window does not fit: nan, as in BasicSR
        out = calculate_ssim(np.ones((10, 10, 3)), np.ones((10, 10, 3)) * 2, crop_border=1, test_y_channel=True)
    assert isinstance(out, float) and math.isnan(out)

    img = synthetic_image(5, 24, 28)
    shifted = (img.astype(np.int16) + 5).clip(0, 255).astype(np.uint8)
    mse = np.mean((img.astype(np.float64) - shifted)**2)
    assert math.isclose(calculate_psnr(img, shifted, crop_border=0), 10 * math.log10(255**2 / mse))
    assert calculate_ssim(img, img, crop_border=2) == pytest.approx(1.0)
    assert 0 < calculate_ssim(img, shifted, crop_border=2, test_y_channel=True) < 1
    chw = calculate_psnr(img.transpose(2, 0, 1), shifted.transpose(2, 0, 1), 0, input_order='CHW')
    assert chw == calculate_psnr(img, shifted, 0)


def test_calculate_metric_both_forms():
    img, img2 = synthetic_image(1, 24, 28), synthetic_image(2, 24, 28)
    opt = {'type': 'calculate_psnr', 'crop_border': 2, 'test_y_channel': True}
    basicsr_value = calculate_metric(dict(img=img, img2=img2), opt)  # BasicSR's form: numpy images as given
    assert basicsr_value == calculate_psnr(img, img2, 2, test_y_channel=True)
    assert opt == {'type': 'calculate_psnr', 'crop_border': 2, 'test_y_channel': True}
    sr, gt = img2tensor([img / 255., img2 / 255.], bgr2rgb=True, float32=True)
    tensor_value = calculate_tensor_metric(sr[None], gt[None], opt)  # the project's form: [0, 1] RGB tensors
    assert tensor_value == pytest.approx(basicsr_value, rel=1e-6)
    assert calculate_metric(sr[None], gt[None], opt) == tensor_value


BASICSR_UTILS = ['bgr2ycbcr', 'rgb2ycbcr', 'rgb2ycbcr_pt', 'ycbcr2bgr', 'ycbcr2rgb', 'FileClient', 'img2tensor',
                 'tensor2img', 'imfrombytes', 'imwrite', 'crop_border', 'MessageLogger', 'AvgTimer', 'init_tb_logger',
                 'init_wandb_logger', 'get_root_logger', 'get_env_info', 'set_random_seed', 'get_time_str',
                 'mkdir_and_rename', 'make_exp_dirs', 'scandir', 'check_resume', 'sizeof_fmt', 'DiffJPEG', 'USMSharp',
                 'usm_sharp']  # basicsr/utils/__init__.py of BasicSR 1.4.2


def test_basicsr_utils_exports_are_the_project_functions():
    from basicsr.utils import color_util, img_util, matlab_functions, misc
    assert set(BASICSR_UTILS) <= set(basicsr.utils.__all__) <= set(dir(basicsr.utils))
    for name in BASICSR_UTILS:
        assert getattr(basicsr.utils, name) is not None
    assert basicsr.utils.img2tensor is img_util.img2tensor and basicsr.utils.scandir is misc.scandir
    assert color_util.rgb2ycbcr is matlab_functions.rgb2ycbcr is basicsr.utils.rgb2ycbcr  # 1.4 and 1.3 paths
    with pytest.raises(AttributeError):
        basicsr.utils.no_such_name  # noqa: B018
    # the package itself stays light: nothing is imported before it is used
    code = ('import sys, basicsr.utils\n'
            'print(sorted(m for m in ("cv2", "torch", "basicsr.utils.img_util") if m in sys.modules))')
    assert subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout == '[]\n'


def test_file_client(data):
    gt_png = f'{data}/gt/baboon.png'
    client = FileClient('disk')
    assert client.get(gt_png) == Path(gt_png).read_bytes()
    assert client.get_text(f'{data}/meta_info_gt.txt').startswith('baboon.png (64,72,3)')
    lmdb_client = FileClient('lmdb', db_paths=[f'{data}/lq.lmdb', f'{data}/gt.lmdb'], client_keys=['lq', 'gt'])
    assert imfrombytes(lmdb_client.get('comic', 'gt')).shape == (48, 40, 3)
    assert imfrombytes(lmdb_client.get('comic', 'lq'), float32=True).shape == (12, 10, 3)
    with pytest.raises(OptionError, match="'memcached'.*not supported"):
        FileClient('memcached', server_list_cfg='x', client_cfg='y')
    with pytest.raises(OptionError, match="unknown io back-end 'ftp'"):
        FileClient('ftp')
    with pytest.raises(DataError, match='cannot read'):
        client.get(f'{data}/missing.png')


def test_image_conversions_round_trip(tmp_path):
    img = synthetic_image(3, 12, 14)
    tensor = img2tensor(img.astype(np.float32) / 255., bgr2rgb=True, float32=True)
    assert tensor.shape == (3, 12, 14) and torch.equal(tensor[0], torch.from_numpy(img[..., 2] / 255.).float())
    assert np.array_equal(tensor2img(tensor, rgb2bgr=True, out_type=np.uint8, min_max=(0, 1)), img)
    assert np.array_equal(tensor2img([tensor[None]]), img)  # a list of one (NCHW, N = 1) gives one image
    assert [im.shape for im in tensor2img([tensor, tensor])] == [(12, 14, 3)] * 2
    grey = tensor2img(tensor[:1], out_type=np.float32)
    assert grey.shape == (12, 14) and grey.dtype == np.float32
    assert np.array_equal(imfrombytes(cv2.imencode('.png', img)[1].tobytes()), img)
    imwrite(img, tmp_path / 'sub' / 'x.png')  # auto_mkdir
    assert np.array_equal(cv2.imread(str(tmp_path / 'sub' / 'x.png')), img)
    assert crop_border(img, 2).shape == (8, 10, 3) and crop_border([img, img], 0)[1] is img


def test_matlab_functions_numpy_and_torch_agree():
    from basicsr.utils.color_util import bgr2ycbcr, rgb2ycbcr_pt
    from basicsr.utils.matlab_functions import imresize, rgb2ycbcr  # 1.3.x path of the colour conversions
    img = synthetic_image(4, 20, 24).astype(np.float32) / 255.
    for scale in (1 / 4, 1 / 3, 2):
        out_np = imresize(img, scale)
        out_pt = imresize(torch.from_numpy(img.transpose(2, 0, 1).copy()), scale)
        assert out_np.shape == (math.ceil(20 * scale), math.ceil(24 * scale), 3)
        np.testing.assert_allclose(out_np, out_pt.numpy().transpose(1, 2, 0), atol=1e-5)
    b, g, r = img[0, 0]
    assert math.isclose(float(bgr2ycbcr(img, y_only=True)[0, 0]), (65.481 * r + 128.553 * g + 24.966 * b + 16) / 255,
                        rel_tol=1e-6)
    rgb = img[..., ::-1].copy()
    assert np.allclose(rgb2ycbcr(rgb), bgr2ycbcr(img), atol=1e-6)
    pt = rgb2ycbcr_pt(torch.from_numpy(rgb.transpose(2, 0, 1))[None], y_only=True)[0, 0]
    np.testing.assert_allclose(pt.numpy(), bgr2ycbcr(img, y_only=True), atol=1e-6)


def test_augment_as_basicsr():
    img, img2 = np.random.default_rng(0).random((6, 8, 3)), np.random.default_rng(1).random((6, 8))
    assert isinstance(augment(img, True, True), np.ndarray)  # one image in, one out
    assert isinstance(augment([img], True, True), np.ndarray)
    flow = np.random.default_rng(2).random((6, 8, 2)).astype(np.float32)
    seen = set()
    for seed in range(30):
        random.seed(seed)  # BasicSR's callers: the global generator
        (out, out2), (hflip, vflip, transpose) = augment([img, img2], hflip=True, rotation=True, return_status=True)
        random.seed(seed)
        same, out_flow = augment(img, True, True, flows=flow)
        assert np.array_equal(same, out) and out.flags.c_contiguous
        expected, expected2, expected_flow = img, img2, flow.copy()
        if hflip:
            expected, expected2 = expected[:, ::-1], expected2[:, ::-1]
            expected_flow = expected_flow[:, ::-1] * [-1, 1]
        if vflip:
            expected, expected2 = expected[::-1], expected2[::-1]
            expected_flow = expected_flow[::-1] * [1, -1]
        if transpose:
            expected, expected2 = expected.transpose(1, 0, 2), expected2.T
            expected_flow = expected_flow.transpose(1, 0, 2)[..., ::-1]
        assert np.array_equal(out, expected) and np.array_equal(out2, expected2)
        np.testing.assert_allclose(out_flow, expected_flow)
        seen.add((hflip, vflip, transpose))
        with_rng = augment(img, True, True, rng=random.Random(seed))  # the project's datasets: their own generator
        assert np.array_equal(with_rng, augment(img, True, True, rng=random.Random(seed)))
    assert len(seen) == 8
    assert augment(img, hflip=False, rotation=False) is not None and np.array_equal(augment(img, False, False), img)


def test_paired_random_crop_numpy_and_tensors():
    lq = np.random.default_rng(0).random((10, 12, 3)).astype(np.float32)
    gt = lq.repeat(4, axis=0).repeat(4, axis=1)  # GT pixel (4i + k, 4j + l) is LQ pixel (i, j)
    random.seed(3)
    gt_patch, lq_patch = paired_random_crop(gt, lq, 16, 4, 'gt.png')
    assert gt_patch.shape == (16, 16, 3) and lq_patch.shape == (4, 4, 3)
    assert np.array_equal(gt_patch[::4, ::4], lq_patch)
    random.seed(3)
    assert np.array_equal(paired_random_crop(gt, lq, 16, 4)[1], lq_patch)  # same global draws, same place
    gts, lqs = paired_random_crop([gt, gt * 2], [lq, lq * 2], 16, 4)  # lists: the same place in each
    assert np.array_equal(gts[1], gts[0] * 2) and np.array_equal(lqs[1], lqs[0] * 2)

    lq_t = torch.from_numpy(lq.transpose(2, 0, 1).copy())[None]
    gt_t = torch.nn.functional.interpolate(lq_t, scale_factor=4, mode='nearest')
    gt_patch_t, lq_patch_t = paired_random_crop(gt_t, lq_t, 16, 4, rng=random.Random(0))
    assert gt_patch_t.shape == (1, 3, 16, 16) and lq_patch_t.shape == (1, 3, 4, 4)
    assert torch.equal(gt_patch_t[..., ::4, ::4], lq_patch_t)
    with pytest.raises(ValueError, match=r'gt.png .* is not x4'):
        paired_random_crop(gt[:-1], lq, 16, 4, 'gt.png')
    with pytest.raises(ValueError, match='smaller than the GT patch size'):
        paired_random_crop(gt, lq, 64, 4, 'gt.png')
    assert mod_crop(np.zeros((10, 13, 3)), 4).shape == (8, 12, 3)
    square = np.zeros((9, 9), np.float32)
    square[4, 6] = 1  # two pixels right of the centre: a quarter turn counter-clockwise takes it two pixels up
    assert img_rotate(square, 90)[2, 4] == pytest.approx(1) and img_rotate(square, 0).shape == (9, 9)


def test_data_util_path_helpers(data):
    gt, lq = f'{data}/gt', f'{data}/lq'
    expected = [{'lq_path': f'{lq}/{n}.png', 'gt_path': f'{gt}/{n}.png'} for n in SIZES]
    assert paired_paths_from_folder([lq, gt], ['lq', 'gt'], '{}') == expected
    assert paired_paths_from_meta_info_file([lq, gt], ['lq', 'gt'], f'{data}/meta_info_gt.txt', '{}') == expected
    renamed = paired_paths_from_folder([lq, gt], ['in', 'ref'], '{}')
    assert renamed[1] == {'in_path': f'{lq}/comic.png', 'ref_path': f'{gt}/comic.png'}
    assert paired_paths_from_lmdb([f'{lq}.lmdb', f'{gt}.lmdb'], ['lq', 'gt']) == [
        {'lq_path': n, 'gt_path': n} for n in SIZES]
    assert paths_from_folder(gt) == [f'{gt}/{n}.png' for n in SIZES]
    assert paths_from_lmdb(f'{gt}.lmdb') == list(SIZES)
    with pytest.raises(ValueError, match='not an LMDB'):
        paths_from_lmdb(gt)
    with pytest.raises(ValueError, match='both must be LMDB'):
        paired_paths_from_lmdb([lq, f'{gt}.lmdb'], ['lq', 'gt'])
    with pytest.raises(ValueError, match=r'\[input, gt\]'):
        paired_paths_from_folder([gt], ['gt'], '{}')
    with pytest.raises(DataError, match='no LQ image'):
        paired_paths_from_folder([lq, gt], ['lq', 'gt'], '{}x4')


def test_misc_helpers(tmp_path):
    opt = {'is_train': True, 'network_g': {}, 'network_d': {},
           'path': {'experiments_root': str(tmp_path / 'exp'), 'models': str(tmp_path / 'exp' / 'models'),
                    'training_states': str(tmp_path / 'exp' / 'training_states'), 'log': str(tmp_path / 'exp'),
                    'visualization': str(tmp_path / 'exp' / 'visualization'), 'resume_state': 'x/100.state',
                    'pretrain_network_g': 'old.pth', 'param_key_g': 'params', 'strict_load_g': True}}
    make_exp_dirs(opt)
    (tmp_path / 'exp' / 'marker').touch()
    make_exp_dirs(opt)  # an existing root is moved aside, not reused
    assert {p.name for p in (tmp_path / 'exp').iterdir()} == {'models', 'training_states', 'visualization'}
    assert len(list(tmp_path.glob('exp_archived_*/marker'))) == 1
    assert not Path('params').exists()
    check_resume(opt, 100)
    assert opt['path']['pretrain_network_g'] == str(tmp_path / 'exp' / 'models' / 'net_g_100.pth')
    assert opt['path']['pretrain_network_d'] == str(tmp_path / 'exp' / 'models' / 'net_d_100.pth')
    assert list(scandir(tmp_path / 'exp', recursive=False)) == []

    timer = AvgTimer()
    for _ in range(3):
        timer.record()
    assert timer.count == 3 and 0 <= timer.get_current_time() <= timer.get_avg_time() * 3 + 1e-3
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert basicsr.utils.sizeof_fmt(1536).startswith('1.5 K')


def test_arch_util_helpers():
    from basicsr.archs.arch_util import (ResidualBlockNoBN, Upsample, default_init_weights, flow_warp, make_layer,
                                         pixel_unshuffle, resize_flow, to_1tuple, to_2tuple, to_3tuple, to_4tuple,
                                         to_ntuple, trunc_normal_)
    from basicsr.archs.srresnet_arch import MSRResNet
    body = make_layer(ResidualBlockNoBN, 2, num_feat=4, res_scale=0.5)
    assert [name for name, _ in body.named_children()] == ['0', '1'] and body[1].res_scale == 0.5
    conv = torch.nn.Conv2d(64, 64, 3)
    torch.manual_seed(0)
    default_init_weights(conv, scale=0.1, bias_fill=0.5, a=1.0)  # kwargs go to kaiming_normal_
    assert torch.all(conv.bias == 0.5) and 0.0025 < conv.weight.std() < 0.0045  # 0.1 * sqrt(1 / 576) = 0.0042
    x = torch.rand(1, 4, 6, 8)
    assert Upsample(4, 4)(torch.rand(1, 4, 3, 3)).shape == (1, 4, 12, 12)
    assert Upsample(3, 4)(torch.rand(1, 4, 3, 3)).shape == (1, 4, 9, 9)
    assert torch.equal(pixel_unshuffle(x, 2)[:, 0], x[:, 0, ::2, ::2])
    assert torch.equal(pixel_unshuffle(x, 2)[:, 3], x[:, 0, 1::2, 1::2])
    assert pixel_unshuffle(x, 2).shape == (1, 16, 3, 4)
    assert to_1tuple(3) == (3,) and to_2tuple(3) == (3, 3) and to_3tuple([1, 2, 3]) == (1, 2, 3)
    assert to_4tuple(0)[3] == 0 and to_ntuple(5)(1) == (1,) * 5
    weight = trunc_normal_(torch.empty(1000), std=0.02, a=-0.04, b=0.04)
    assert weight.abs().max() <= 0.04 and 0.01 < weight.std() < 0.02
    assert torch.allclose(flow_warp(x, torch.zeros(1, 6, 8, 2)), x, atol=1e-6)
    shift = torch.zeros(1, 6, 8, 2)
    shift[..., 0] = 1  # sample one pixel to the right
    assert torch.allclose(flow_warp(x, shift)[..., :-1], x[..., 1:], atol=1e-6)
    resized = resize_flow(torch.ones(1, 2, 4, 4), 'ratio', [2, 0.5])
    assert resized.shape == (1, 2, 8, 2) and torch.allclose(resized[0, :, 0, 0], torch.tensor([0.5, 2.0]))
    with pytest.raises(ValueError, match='ratio'):
        resize_flow(torch.ones(1, 2, 4, 4), 'scale', [2, 2])
    # BasicSR's tests/test_archs/test_srresnet_arch.py, on the CPU
    net = MSRResNet(num_in_ch=3, num_out_ch=3, num_feat=12, num_block=2, upscale=4)
    assert net(torch.rand((1, 3, 16, 16), dtype=torch.float32)).shape == (1, 3, 64, 64)
    net = MSRResNet(num_in_ch=1, num_out_ch=1, num_feat=4, num_block=1, upscale=3)
    assert net(torch.rand((1, 1, 16, 16), dtype=torch.float32)).shape == (1, 1, 48, 48)
