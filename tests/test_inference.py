"""Inference options: tiled processing, x8 self-ensemble, reduced precision, and test.py using them."""
import csv

import pytest
import torch

from basicsr.archs.rrdbnet_arch import RRDBNet
from basicsr.archs.srresnet_arch import MSRResNet
from basicsr.models.inference import self_ensemble, super_resolve, tiled_forward
from basicsr.test import test_pipeline as evaluate
from basicsr.utils.checkpoint import save_checkpoint

from conftest import make_pairs, write_yaml


@torch.no_grad()
def test_tiled_rrdbnet_matches_whole_image_within_one_grey_level():
    torch.manual_seed(0)
    # The RRDBNet of the acceptance test, with fewer blocks and channels so that it runs in seconds on a CPU.
    net = RRDBNet(num_feat=16, num_block=2, num_grow_ch=8).eval()
    lq = torch.rand(1, 3, 200, 200)
    whole = net(lq)
    tiled = tiled_forward(net, lq, tile=64, tile_pad=16)
    assert tiled.shape == whole.shape == (1, 3, 800, 800)
    assert (tiled - whole).abs().max().item() <= 1 / 255


@torch.no_grad()
def test_tiles_cover_the_image_exactly_for_a_local_network():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 12, 3, padding=1), torch.nn.PixelShuffle(2)).eval()
    lq = torch.rand(2, 3, 37, 53)  # sizes not multiples of the tile
    assert torch.allclose(tiled_forward(net, lq, tile=16, tile_pad=1), net(lq), atol=1e-6)
    assert not torch.allclose(tiled_forward(net, lq, tile=16, tile_pad=0), net(lq), atol=1e-3)  # seams


@torch.no_grad()
def test_self_ensemble_is_the_mean_over_the_eight_transforms():
    torch.manual_seed(0)
    net = MSRResNet(num_feat=8, num_block=1, upscale=2).eval()
    lq = torch.rand(1, 3, 12, 17)
    expected = torch.zeros(1, 3, 24, 34)
    for flip in (False, True):
        for k in range(4):
            x = torch.rot90(lq, k, (2, 3))
            x = x.flip(3) if flip else x
            y = net(x)
            y = y.flip(3) if flip else y
            expected += torch.rot90(y, -k, (2, 3)) / 8
    assert torch.allclose(self_ensemble(net, lq), expected, atol=1e-6)
    assert not torch.allclose(net(lq), expected, atol=1e-4)


@torch.no_grad()
def test_bf16_inference_is_close_to_fp32_and_returns_float32():
    torch.manual_seed(0)
    net = MSRResNet(num_feat=8, num_block=1, upscale=4).eval()
    lq = torch.rand(1, 3, 16, 16)
    out = super_resolve(net, lq, amp='bf16')
    assert out.dtype == torch.float32
    assert (out - net(lq)).abs().max().item() < 0.05


def test_test_py_with_tiles_and_self_ensemble_writes_the_metrics_table(tmp_path):
    hr, lr = make_pairs(tmp_path / 'set', count=2, size=(40, 48))
    torch.manual_seed(0)
    weights = tmp_path / 'net.pth'
    save_checkpoint({'params': MSRResNet(num_feat=8, num_block=1, upscale=4).state_dict()}, weights)
    opt = {'name': 'tiles', 'model_type': 'SRModel', 'scale': 4, 'num_gpu': 0, 'path': {'root': str(tmp_path)},
           'datasets': {'test_1': {'name': 'set', 'type': 'PairedImageDataset', 'dataroot_gt': str(hr),
                                   'dataroot_lq': str(lr), 'io_backend': {'type': 'disk'}}},
           'network_g': {'type': 'MSRResNet', 'num_feat': 8, 'num_block': 1, 'upscale': 4},
           'val': {'save_img': True, 'tile': 5, 'tile_pad': 4, 'self_ensemble': True,
                   'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 4, 'test_y_channel': True}}}}
    options = write_yaml(tmp_path / 'test.yml', opt)
    tiled = evaluate(argv=['-opt', str(options), '--force_yml', f'path:pretrain_network_g={weights}'])
    plain = evaluate(argv=['-opt', str(options), '--force_yml', f'path:pretrain_network_g={weights}',
                                'val:tile=~', 'val:self_ensemble=false'])
    rows = list(csv.DictReader((tmp_path / 'results' / 'tiles' / 'metrics.csv').open()))
    assert [r['image'] for r in rows] == ['img00', 'img01', 'mean']
    assert (tmp_path / 'results' / 'tiles' / 'visualization' / 'set' / 'img00_tiles.png').is_file()
    # Self-ensemble changes the result (an untrained network is far from equivariant), tiling alone does not.
    assert tiled['set']['img00']['psnr'] != pytest.approx(plain['set']['img00']['psnr'], abs=1e-6)
