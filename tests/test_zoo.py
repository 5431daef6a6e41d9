"""Network zoo: parameter counts, output shapes on odd sizes, key names, official layouts checked against
independent re-statements of the official modules, and a trained network loading back strictly."""
import functools
from collections import OrderedDict

import pytest
import torch
from torch import nn

from basicsr.archs import build_network
from basicsr.archs.key_layouts import BASICSR, rcan_mean_shift, rename_keys
from basicsr.models import build_model
from basicsr.train import train_pipeline
from basicsr.utils.checkpoint import load_checkpoint, save_checkpoint
from basicsr.utils.errors import CheckpointError
from basicsr.utils.options import parse_options

from conftest import tiny_train_options, write_yaml

DF2K_RGB_MEAN = (0.4690, 0.4490, 0.4036)
TINY = {
    'RRDBNet': ({'num_feat': 8, 'num_block': 2, 'num_grow_ch': 4}, 'scale'),
    'RCAN': ({'num_feat': 16, 'num_group': 2, 'num_block': 2, 'squeeze_factor': 4}, 'upscale'),
    'RDN': ({'num_feat': 8, 'num_block': 2, 'num_layer': 3, 'num_grow_ch': 4}, 'upscale'),
    'A2N': ({'num_feat': 8, 'num_up_feat': 4, 'num_block': 2}, 'upscale'),
    'SRResNet': ({'num_feat': 8, 'num_block': 2}, 'upscale'),
}


def count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def tiny(arch: str, scale: int = 4, seed: int = 0, **extra) -> nn.Module:
    torch.manual_seed(seed)
    kwargs, scale_key = TINY[arch]
    return build_network({'type': arch, **kwargs, scale_key: scale, **extra}).eval()


@functools.lru_cache(maxsize=None)
def full(arch: str, **kwargs) -> nn.Module:
    """The standard configuration (the constructor defaults), built once per test session."""
    return build_network({'type': arch, **kwargs})


# ----------------------------------------------------------------------------------------------- sizes and shapes
# A2N x4 by hand (official AAN: nf 40, unf 24, 16 AABs, reduction 4, K = 2 branches):
#   one AAB: conv_first 1x1 40*40 = 1,600; ADM Linear 40->10 = 400 and 10->2 = 20 (no biases); attention k1 3x3
#   40*40*9 = 14,400, k2 1x1 1,600 + 40 bias = 1,640, k3 and k4 14,400 each; non_attention 3x3 14,400;
#   conv_last 1x1 1,600: 62,860 per block, 1,005,760 for 16.
#   conv_first 3->40 3x3 1,080 + 40 = 1,120; trunk_conv 14,400 + 40 = 14,440; upconv1 40->24 8,640 + 24 = 8,664;
#   att1 1x1 576 + 24 = 600; HRconv1 24->24 5,184 + 24 = 5,208; conv_last 24->3 648 + 3 = 651.
#   x2 = x3 = 1,005,760 + 1,120 + 14,440 + 8,664 + 600 + 5,208 + 651 = 1,036,443 (the size of the official aan_x2.pt);
#   x4 adds upconv2 5,208 + att2 600 + HRconv2 5,208 = 11,016: 1,047,459.
@pytest.mark.parametrize('arch, kwargs, expected', [
    ('RRDBNet', {}, 16_697_987),
    ('RCAN', {}, 15_592_355),
    ('RDN', {}, 22_271_107),
    ('A2N', {}, 1_047_459),
    ('A2N', {'upscale': 2}, 1_036_443),
    ('SRResNet', {}, 1_547_350),
])
def test_parameter_counts_of_standard_configurations(arch, kwargs, expected):
    assert count(full(arch, **kwargs)) == expected


def test_a2n_x2_has_the_official_tensor_count():
    assert len(full('A2N', upscale=2).state_dict()) == 172  # aan_x2.pt holds 172 tensors


@pytest.mark.parametrize('arch, scales', [('RRDBNet', [1, 2, 4]), ('RCAN', [2, 3, 4, 8]), ('RDN', [2, 3, 4]),
                                          ('A2N', [2, 3, 4]), ('SRResNet', [2, 3, 4, 8])])
def test_output_shapes_on_odd_sizes(arch, scales):
    for scale in scales:
        with torch.no_grad():
            out = tiny(arch, scale)(torch.rand(2, 3, 7, 11))
        assert out.shape == (2, 3, 7 * scale, 11 * scale), (arch, scale)


def test_rrdbnet_folds_small_scales_into_channels():
    assert tiny('RRDBNet', 2).conv_first.in_channels == 12
    assert tiny('RRDBNet', 1).conv_first.in_channels == 48


@pytest.mark.parametrize('arch, scale', [('RRDBNet', 3), ('RCAN', 5), ('RDN', 8), ('A2N', 8), ('SRResNet', 5)])
def test_unsupported_scales_are_refused(arch, scale):
    with pytest.raises(ValueError, match=str(scale)):
        tiny(arch, scale)


# ----------------------------------------------------------------------------------------------- key names
def test_key_names_follow_the_published_implementations():
    rrdb = set(tiny('RRDBNet').state_dict())
    assert {'conv_first.weight', 'body.1.rdb3.conv5.bias', 'conv_body.weight', 'conv_up1.weight', 'conv_up2.weight',
            'conv_hr.weight', 'conv_last.bias'} <= rrdb and len(rrdb) == 2 * 6 + 2 * 3 * 5 * 2
    rcan = set(tiny('RCAN').state_dict())
    assert {'conv_first.weight', 'body.1.residual_group.1.rcab.2.weight',
            'body.1.residual_group.0.rcab.3.attention.3.bias', 'body.1.conv.weight', 'conv_after_body.weight',
            'upsample.2.weight', 'conv_last.weight'} <= rcan
    assert not any('mean' in key for key in rcan)  # the pixel mean is a constant, not in the file
    rdn = set(tiny('RDN').state_dict())
    assert {'SFENet1.weight', 'SFENet2.weight', 'RDBs.1.convs.2.conv.0.weight', 'RDBs.1.LFF.weight', 'GFF.0.weight',
            'GFF.1.bias', 'UPNet.0.weight', 'UPNet.2.weight', 'UPNet.4.bias'} <= rdn
    a2n = set(tiny('A2N').state_dict())
    assert {'conv_first.weight', 'AAB_trunk.1.conv_first.weight', 'AAB_trunk.1.ADM.0.weight',
            'AAB_trunk.1.ADM.2.weight', 'AAB_trunk.0.attention.k2.bias', 'AAB_trunk.0.attention.k4.weight',
            'AAB_trunk.0.non_attention.weight', 'AAB_trunk.0.conv_last.weight', 'trunk_conv.weight', 'upconv1.weight',
            'att1.conv.weight', 'HRconv1.bias', 'upconv2.weight', 'att2.conv.bias', 'HRconv2.weight',
            'conv_last.weight'} <= a2n
    assert 'AAB_trunk.0.attention.k1.bias' not in a2n
    srresnet = set(tiny('SRResNet').state_dict())
    assert {'conv1.0.weight', 'conv1.1.weight', 'trunk.1.rcb.1.running_var', 'trunk.1.rcb.2.weight',
            'trunk.1.rcb.4.num_batches_tracked', 'conv2.0.weight', 'conv2.1.bias', 'upsampling.1.upsample_block.0.bias',
            'upsampling.1.upsample_block.2.weight', 'conv3.weight'} <= srresnet
    assert 'trunk.0.rcb.0.bias' not in srresnet  # no bias before BatchNorm


def test_full_size_official_key_sets():
    rrdb = full('RRDBNet').state_dict()
    old = rename_keys(rrdb, 'RRDBNet', BASICSR, 'official')
    assert len(old) == 702
    assert {'model.0.weight', 'model.1.sub.22.RDB3.conv5.0.weight', 'model.1.sub.23.bias', 'model.3.weight',
            'model.6.weight', 'model.8.weight', 'model.10.bias'} <= set(old)
    assert list(rename_keys(old, 'RRDBNet', 'official', BASICSR)) == list(rrdb)
    rcan = full('RCAN').state_dict()
    official = rename_keys(rcan, 'RCAN', BASICSR, 'official')
    assert {'head.0.weight', 'body.9.body.19.body.3.conv_du.2.weight', 'body.9.body.20.weight', 'body.10.weight',
            'tail.0.0.weight', 'tail.0.2.weight', 'tail.1.weight'} <= set(official)
    assert not any('residual_group' in k or 'conv_after_body' in k for k in official)
    assert list(rename_keys(official, 'RCAN', 'official', BASICSR)) == list(rcan)


def test_keys_of_another_network_are_named():
    state = tiny('RRDBNet').state_dict()
    state['extra.weight'] = torch.zeros(1)
    with pytest.raises(CheckpointError, match="'extra.weight'"):
        rename_keys(state, 'RRDBNet', BASICSR, 'official')


# ----------------------------------------------------------------------------------------------- official layouts
class OldRDB(nn.Module):
    """ESRGAN 2018 ``ResidualDenseBlock_5C``: each conv_block is Sequential(conv[, LeakyReLU])."""

    def __init__(self, nf: int, gc: int) -> None:
        super().__init__()
        for i in range(1, 6):
            conv = nn.Conv2d(nf + (i - 1) * gc, gc if i < 5 else nf, 3, 1, 1)
            setattr(self, f'conv{i}', nn.Sequential(conv, nn.LeakyReLU(0.2)) if i < 5 else nn.Sequential(conv))

    def forward(self, x):
        feats = [x]
        for i in range(1, 5):
            feats.append(getattr(self, f'conv{i}')(torch.cat(feats, 1)))
        return self.conv5(torch.cat(feats, 1)) * 0.2 + x


class OldRRDB(nn.Module):
    def __init__(self, nf: int, gc: int) -> None:
        super().__init__()
        self.RDB1, self.RDB2, self.RDB3 = OldRDB(nf, gc), OldRDB(nf, gc), OldRDB(nf, gc)

    def forward(self, x):
        return self.RDB3(self.RDB2(self.RDB1(x))) * 0.2 + x


class Shortcut(nn.Module):
    def __init__(self, sub: nn.Module) -> None:
        super().__init__()
        self.sub = sub

    def forward(self, x):
        return x + self.sub(x)


class OldESRGAN(nn.Module):
    """ESRGAN 2018 ``RRDB_Net`` x4 (upconv mode): one flattened Sequential named ``model``."""

    def __init__(self, nf: int, nb: int, gc: int) -> None:
        super().__init__()
        trunk = Shortcut(nn.Sequential(*(OldRRDB(nf, gc) for _ in range(nb)), nn.Conv2d(nf, nf, 3, 1, 1)))
        self.model = nn.Sequential(
            nn.Conv2d(3, nf, 3, 1, 1), trunk,
            nn.Upsample(scale_factor=2, mode='nearest'), nn.Conv2d(nf, nf, 3, 1, 1), nn.LeakyReLU(0.2),
            nn.Upsample(scale_factor=2, mode='nearest'), nn.Conv2d(nf, nf, 3, 1, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(nf, nf, 3, 1, 1), nn.LeakyReLU(0.2), nn.Conv2d(nf, 3, 3, 1, 1))

    def forward(self, x):
        return self.model(x)


class OfficialCALayer(nn.Module):
    def __init__(self, nf: int, reduction: int) -> None:
        super().__init__()
        self.conv_du = nn.Sequential(nn.Conv2d(nf, nf // reduction, 1), nn.ReLU(), nn.Conv2d(nf // reduction, nf, 1),
                                     nn.Sigmoid())

    def forward(self, x):
        return x * self.conv_du(x.mean(dim=(2, 3), keepdim=True))


class OfficialRCAB(nn.Module):
    def __init__(self, nf: int, reduction: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(nf, nf, 3, 1, 1), nn.ReLU(), nn.Conv2d(nf, nf, 3, 1, 1),
                                  OfficialCALayer(nf, reduction))

    def forward(self, x):
        return x + self.body(x)


class OfficialGroup(nn.Module):
    def __init__(self, nf: int, n_blocks: int, reduction: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*(OfficialRCAB(nf, reduction) for _ in range(n_blocks)), nn.Conv2d(nf, nf, 3, 1, 1))

    def forward(self, x):
        return x + self.body(x)


class OfficialRCAN(nn.Module):
    """yulunzhang/RCAN x4 on [0, 255] input, with its MeanShift 1x1 convolutions."""

    def __init__(self, nf: int, n_groups: int, n_blocks: int, reduction: int, rgb_mean: tuple) -> None:
        super().__init__()
        self.sub_mean, self.add_mean = nn.Conv2d(3, 3, 1), nn.Conv2d(3, 3, 1)
        shift = rcan_mean_shift(rgb_mean, 255.0)
        with torch.no_grad():
            for key, value in shift.items():
                self.get_parameter(key).copy_(value)
        self.head = nn.Sequential(nn.Conv2d(3, nf, 3, 1, 1))
        self.body = nn.Sequential(*(OfficialGroup(nf, n_blocks, reduction) for _ in range(n_groups)),
                                  nn.Conv2d(nf, nf, 3, 1, 1))
        upsampler = nn.Sequential(nn.Conv2d(nf, 4 * nf, 3, 1, 1), nn.PixelShuffle(2),
                                  nn.Conv2d(nf, 4 * nf, 3, 1, 1), nn.PixelShuffle(2))
        self.tail = nn.Sequential(upsampler, nn.Conv2d(nf, 3, 3, 1, 1))

    def forward(self, x):
        x = self.head(self.sub_mean(x))
        return self.add_mean(self.tail(x + self.body(x)))


def loaded(net: nn.Module, state: dict) -> nn.Module:
    """``net`` after a strict load of ``state`` through its conversion hook (as BaseModel.load_network does)."""
    net.load_state_dict(net.convert_state_dict(state), strict=True)
    return net


def test_esrgan_old_layout_gives_the_same_outputs_both_ways():
    torch.manual_seed(1)
    reference = OldESRGAN(nf=8, nb=2, gc=4).eval()
    x = torch.rand(1, 3, 9, 10)
    ours = loaded(tiny('RRDBNet', seed=2), reference.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=1e-6)
    trained_here = tiny('RRDBNet', seed=3)
    reference.load_state_dict(rename_keys(trained_here.state_dict(), 'RRDBNet', BASICSR, 'official'), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(reference(x), trained_here(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize('layout', ['official', 'esrgan2019'])
def test_rrdbnet_layout_round_trip_is_identity(layout):
    state = tiny('RRDBNet').state_dict()
    there = rename_keys(state, 'RRDBNet', BASICSR, layout)
    back = rename_keys(there, 'RRDBNet', layout, BASICSR)
    assert list(back) == list(state) and all(back[k] is state[k] for k in state)
    x = torch.rand(1, 3, 6, 5)
    with torch.no_grad():
        assert torch.equal(loaded(tiny('RRDBNet', seed=5), there)(x), tiny('RRDBNet')(x))


def test_official_rcan_layout_gives_the_same_outputs_both_ways():
    torch.manual_seed(1)
    reference = OfficialRCAN(nf=16, n_groups=2, n_blocks=2, reduction=4, rgb_mean=(0.4488, 0.4371, 0.4040)).eval()
    x = torch.rand(1, 3, 7, 9)
    ours = loaded(tiny('RCAN', seed=2), reference.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x * 255) / 255, rtol=0, atol=1e-5)
    trained_here = tiny('RCAN', seed=3)
    official = rename_keys(trained_here.state_dict(), 'RCAN', BASICSR, 'official')
    official.update(rcan_mean_shift((0.4488, 0.4371, 0.4040), 255.0))
    reference.load_state_dict(official, strict=True)
    with torch.no_grad():
        torch.testing.assert_close(reference(x * 255) / 255, trained_here(x), rtol=0, atol=1e-5)
    back = rename_keys({k: v for k, v in official.items() if 'mean' not in k}, 'RCAN', 'official', BASICSR)
    assert all(torch.equal(back[k], v) for k, v in trained_here.state_dict().items()) and len(back) == len(official) - 4


def test_official_rcan_mean_shift_must_match_rgb_mean():
    reference = OfficialRCAN(nf=16, n_groups=2, n_blocks=2, reduction=4, rgb_mean=DF2K_RGB_MEAN)
    with pytest.raises(CheckpointError, match='set network_g.rgb_mean'):
        loaded(tiny('RCAN'), reference.state_dict())
    loaded(tiny('RCAN', rgb_mean=DF2K_RGB_MEAN), reference.state_dict())  # with the file's mean it loads
    state = reference.state_dict()
    state['sub_mean.weight'] = state['sub_mean.weight'] * 1.1
    with pytest.raises(CheckpointError, match='not identity'):
        loaded(tiny('RCAN', rgb_mean=DF2K_RGB_MEAN), state)


# ----------------------------------------------------------------------------------------------- through the model
@pytest.mark.parametrize('arch', ['RCAN', 'SRResNet'])  # a constant kept out of the file; BatchNorm statistics
def test_trained_network_loads_back_strictly(tmp_path, arch):
    kwargs, scale_key = TINY[arch]
    opt = tiny_train_options(tmp_path, network_g={'type': arch, **kwargs, scale_key: 4}, train__total_iter=3)
    opt['val']['val_freq'] = 3
    train_pipeline(argv=['-opt', str(write_yaml(tmp_path / 'train.yml', opt))])
    checkpoint = load_checkpoint(tmp_path / 'experiments' / 'tiny' / 'models' / 'net_g_3.pth')
    for key in ('params', 'params_ema'):
        net = build_network(opt['network_g'])
        net.load_state_dict(checkpoint[key], strict=True)
        assert all(torch.equal(net.state_dict()[k], v) for k, v in checkpoint[key].items())


def test_pretrain_network_g_accepts_the_old_esrgan_layout(tmp_path):
    torch.manual_seed(1)
    reference = OldESRGAN(nf=8, nb=2, gc=4).eval()
    weights = tmp_path / 'RRDB_old.pth'
    save_checkpoint(reference.state_dict(), weights)
    kwargs, _ = TINY['RRDBNet']
    opt = tiny_train_options(tmp_path, network_g={'type': 'RRDBNet', **kwargs, 'scale': 4},
                             path__pretrain_network_g=str(weights))
    del opt['train'], opt['datasets']['train']
    model = build_model(parse_options(write_yaml(tmp_path / 'test.yml', opt), is_train=False))
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model.net_g(x), reference(x), rtol=0, atol=1e-6)
    save_checkpoint(OrderedDict(list(reference.state_dict().items())[:-1]), weights)  # conv_last.bias missing
    with pytest.raises(CheckpointError, match=str(weights)):
        build_model(parse_options(write_yaml(tmp_path / 'test.yml', opt), is_train=False))
