"""The comparison baselines EDSR, SwinIR, HAT and SPAN: parameter counts worked out from their structure, shapes
on odd sizes, window padding, the official layouts (spandrel, an independent copy of the official SwinIR, HAT and
SPAN code, reads what we write and computes the same), and two training iterations from each option file, ours and
BasicSR's (``basicsr_options/train/EDSR``, ``basicsr_options/train/SwinIR``), shortened as in test_basicsr_compat.
"""
import importlib.util
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from basicsr.archs import build_network
from basicsr.archs.key_layouts import BASICSR, rcan_mean_shift, rename_keys
from basicsr.models.inference import super_resolve
from basicsr.utils.checkpoint import save_checkpoint
from basicsr.utils.errors import CheckpointError
from basicsr.utils.img_util import imread

from conftest import ROOT, SHORT, train

OPTIONS = ROOT / 'options'
BASICSR_OPTIONS = Path(__file__).resolve().parent / 'basicsr_options' / 'train'
DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)
TINY = {  # small enough for a CPU, large enough for spandrel to infer every hyperparameter
    'EDSR': {'num_feat': 8, 'num_block': 2},
    'SwinIR': {'img_size': 16, 'window_size': 4, 'depths': [2, 2], 'embed_dim': 12, 'num_heads': [2, 3],
               'mlp_ratio': 2, 'upsampler': 'pixelshuffle'},
    'HAT': {'img_size': 16, 'window_size': 4, 'depths': [2], 'embed_dim': 30, 'num_heads': [3], 'mlp_ratio': 2},
    'SPAN': {'feature_channels': 8},
}


def tiny(arch: str, scale: int = 4, seed: int = 0, **changes) -> nn.Module:
    torch.manual_seed(seed)
    return build_network({'type': arch, **TINY[arch], 'upscale': scale, **changes}).eval()


def count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def standard(option_file: Path) -> nn.Module:
    """The network of an option file (built on the CPU: on the meta device the masks take longer to make)."""
    return build_network(yaml.safe_load(option_file.read_text())['network_g'])


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """These networks run many small operations, which two threads sharing a busy machine slow down many times."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ----------------------------------------------------------------------------------------------- parameter counts
def conv(c_in: int, c_out: int, k: int = 3) -> int:
    return c_in * c_out * k * k + c_out


def linear(c_in: int, c_out: int) -> int:
    return c_in * c_out + c_out


def swin_block(dim: int, heads: int, window: int, mlp_ratio: int) -> int:
    """Two layer norms, the bias table of the (2w - 1)^2 relative positions per head, qkv, proj, the MLP."""
    return (2 * 2 * dim + (2 * window - 1)**2 * heads + linear(dim, 3 * dim) + linear(dim, dim)
            + linear(dim, mlp_ratio * dim) + linear(mlp_ratio * dim, dim))


def transformer_x4_rest(dim: int) -> int:
    """SwinIR's and HAT's parts outside the groups at x4: conv_first, patch_embed.norm and norm, conv_after_body,
    conv_before_upsample to 64 channels, two x2 pixel-shuffle convolutions, conv_last."""
    return conv(3, dim) + 2 * 2 * dim + conv(dim, dim) + conv(dim, 64) + 2 * conv(64, 256) + conv(64, 3)


def conv3xc(c_in: int, c_out: int) -> int:
    """SPAN's re-parameterised 3x3: 1x1 shortcut, 1x1 up x2 / 3x3 / 1x1 down, and the folded eval_conv."""
    return conv(c_in, c_out, 1) + conv(c_in, 2 * c_in, 1) + conv(2 * c_in, 2 * c_out) + conv(2 * c_out, c_out, 1) \
        + conv(c_in, c_out)


def test_edsr_parameter_counts():
    def edsr_x4(feat: int, blocks: int) -> int:
        return conv(3, feat) + blocks * 2 * conv(feat, feat) + conv(feat, feat) + 2 * conv(feat, 4 * feat) \
            + conv(feat, 3)

    baseline, large = count(standard(BASICSR_OPTIONS / 'EDSR' / 'train_EDSR_Mx4.yml')), count(
        standard(OPTIONS / 'edsr_x4.yml'))
    assert baseline == edsr_x4(64, 16) == 1_517_571  # the paper: 1.5M
    assert large == edsr_x4(256, 32) == 43_089_923  # the paper: 43M
    assert count(standard(BASICSR_OPTIONS / 'EDSR' / 'train_EDSR_Lx4.yml')) == large


def test_swinir_classical_x4_parameter_count():
    expected = 6 * (6 * swin_block(180, 6, 8, 2) + conv(180, 180)) + transformer_x4_rest(180)
    assert expected == 11_900_199  # the paper: 11.9M
    for option_file in (OPTIONS / 'swinir_x4.yml', BASICSR_OPTIONS / 'SwinIR' / 'train_SwinIR_SRx4_scratch.yml'):
        assert count(standard(option_file)) == expected


def test_hat_x4_parameter_count():
    dim, overlap_window = 180, 16 + 8  # window 16 enlarged by overlap_ratio 0.5
    hab = swin_block(dim, 6, 16, 2) + conv(dim, dim // 3) + conv(dim // 3, dim) + conv(dim, dim // 30, 1) \
        + conv(dim // 30, dim, 1)  # + the channel-attention block (compress 3, squeeze 30)
    ocab = 2 * 2 * dim + linear(dim, 3 * dim) + (16 + overlap_window - 1)**2 * 6 + linear(dim, dim) \
        + linear(dim, 2 * dim) + linear(2 * dim, dim)
    expected = 6 * (6 * hab + ocab + conv(dim, dim)) + transformer_x4_rest(dim)
    assert expected == 20_772_507  # the paper: 20.8M
    assert count(standard(OPTIONS / 'hat_x4.yml')) == expected


def test_span_x4_parameter_counts():
    net = standard(OPTIONS / 'span_x4.yml')
    upsampler = conv(48, 3 * 4**2)
    assert count(net) == conv3xc(3, 48) + 19 * conv3xc(48, 48) + conv(4 * 48, 48, 1) + upsampler == 2_236_728
    deployed = sum(p.numel() for name, p in net.named_parameters()
                   if 'eval_conv' in name or name.startswith(('conv_cat', 'upsampler')))
    assert deployed == conv(3, 48) + 19 * conv(48, 48) + conv(4 * 48, 48, 1) + upsampler == 426_288


# ----------------------------------------------------------------------------------------------- shapes, padding
@pytest.mark.parametrize('arch', list(TINY))
def test_output_shapes_on_odd_sizes(arch):
    lq = torch.rand(1, 3, 7, 11)
    for scale in (2, 3, 4):
        assert super_resolve(tiny(arch, scale), lq).shape == (1, 3, 7 * scale, 11 * scale), (arch, scale)


@pytest.mark.parametrize('arch', ['SwinIR', 'HAT'])
def test_window_networks_refuse_other_sizes_and_super_resolve_pads(arch):
    net = tiny(arch)
    assert net.input_multiple == 4
    with pytest.raises(ValueError, match=r'multiples of 4 .* got \(7, 11\)'):
        net(torch.rand(1, 3, 7, 11))
    lq = torch.rand(1, 3, 7, 11)
    padded = torch.nn.functional.pad(lq, (0, 1, 0, 1), mode='reflect')
    with torch.no_grad():
        assert torch.equal(super_resolve(net, lq), net(padded)[..., :28, :44])


@pytest.mark.parametrize('arch', ['SwinIR', 'HAT'])
def test_gradient_checkpointing_keeps_less_and_gives_the_same_gradients(arch):
    lq = torch.rand(1, 3, 8, 8)
    grads, kept = [], []
    for use_checkpoint in (False, True):
        net = tiny(arch, drop_path_rate=0.0, use_checkpoint=use_checkpoint).train()
        saved = []
        with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t.numel()) or t, lambda t: t):
            out = net(lq)
        out.square().mean().backward()
        grads.append(torch.cat([p.grad.flatten() for p in net.parameters()]))
        kept.append(sum(saved))
    assert kept[1] < kept[0]  # the blocks' activations are recomputed in the backward pass
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-5, atol=1e-7)


class Probe(nn.Module):
    """x2 pixel shuffle that needs multiples of 8 and records the sizes it is given."""
    input_multiple = 8

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3, padding=1)
        self.sizes: list[tuple[int, int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(tuple(x.shape[-2:]))
        return nn.functional.pixel_shuffle(self.conv(x), 2)


@torch.no_grad()
def test_padding_applies_to_every_tile_and_flipped_copy():
    net = Probe()
    lq = torch.rand(1, 3, 13, 21)
    assert super_resolve(net, lq, tile=10, tile_pad=2, ensemble=True).shape == (1, 3, 26, 42)
    assert all(h % 8 == 0 and w % 8 == 0 for h, w in net.sizes) and len(net.sizes) == 8 * 6
    net.sizes.clear()
    assert super_resolve(net, torch.rand(1, 3, 3, 5)).shape == (1, 3, 6, 10)  # too small to reflect: replicated
    assert net.sizes == [(8, 8)]


# ----------------------------------------------------------------------------------------------- official layouts
class OfficialResBlock(nn.Module):
    def __init__(self, nf: int, res_scale: float) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(nf, nf, 3, 1, 1), nn.ReLU(), nn.Conv2d(nf, nf, 3, 1, 1))
        self.res_scale = res_scale

    def forward(self, x):
        return x + self.body(x) * self.res_scale


class OfficialEDSR(nn.Module):
    """EDSR-PyTorch's EDSR x4 on [0, 255] input, with its MeanShift 1x1 convolutions."""

    def __init__(self, nf: int, n_blocks: int, res_scale: float, rgb_mean: tuple) -> None:
        super().__init__()
        self.sub_mean, self.add_mean = nn.Conv2d(3, 3, 1), nn.Conv2d(3, 3, 1)
        with torch.no_grad():
            for key, value in rcan_mean_shift(rgb_mean, 255.0).items():
                self.get_parameter(key).copy_(value)
        self.head = nn.Sequential(nn.Conv2d(3, nf, 3, 1, 1))
        self.body = nn.Sequential(*(OfficialResBlock(nf, res_scale) for _ in range(n_blocks)),
                                  nn.Conv2d(nf, nf, 3, 1, 1))
        upsampler = nn.Sequential(nn.Conv2d(nf, 4 * nf, 3, 1, 1), nn.PixelShuffle(2),
                                  nn.Conv2d(nf, 4 * nf, 3, 1, 1), nn.PixelShuffle(2))
        self.tail = nn.Sequential(upsampler, nn.Conv2d(nf, 3, 3, 1, 1))

    def forward(self, x):
        x = self.head(self.sub_mean(x))
        return self.add_mean(self.tail(x + self.body(x)))


@torch.no_grad()
def test_edsr_pytorch_layout_gives_the_same_outputs_both_ways():
    torch.manual_seed(1)
    reference = OfficialEDSR(nf=8, n_blocks=2, res_scale=0.1, rgb_mean=DIV2K_RGB_MEAN).eval()
    x = torch.rand(1, 3, 7, 9)
    ours = tiny('EDSR', seed=2, res_scale=0.1)
    ours.load_state_dict(ours.convert_state_dict(reference.state_dict()), strict=True)
    torch.testing.assert_close(ours(x), reference(x * 255) / 255, rtol=0, atol=1e-5)
    trained_here = tiny('EDSR', seed=3, res_scale=0.1)
    official = rename_keys(trained_here.state_dict(), 'EDSR', BASICSR, 'official')
    assert {'head.0.weight', 'body.1.body.2.bias', 'body.2.weight', 'tail.0.2.weight', 'tail.1.bias'} <= set(official)
    reference.load_state_dict({**official, **rcan_mean_shift(DIV2K_RGB_MEAN, 255.0)}, strict=True)
    torch.testing.assert_close(reference(x * 255) / 255, trained_here(x), rtol=0, atol=1e-5)
    other_mean = OfficialEDSR(nf=8, n_blocks=2, res_scale=0.1, rgb_mean=(0.5, 0.5, 0.5)).state_dict()
    with pytest.raises(CheckpointError, match='official EDSR weights .* set network_g.rgb_mean'):
        ours.convert_state_dict(other_mean)


@pytest.fixture
def spandrel():
    return pytest.importorskip('spandrel')


def test_spandrel_has_no_edsr(spandrel, tmp_path):
    """spandrel 0.4 knows neither layout of EDSR: its files are for BasicSR-style tools and EDSR-PyTorch."""
    net = tiny('EDSR')
    official = {**rename_keys(net.state_dict(), 'EDSR', BASICSR, 'official'),
                **rcan_mean_shift(DIV2K_RGB_MEAN, 255.0)}
    for state in (net.state_dict(), official):
        with pytest.raises(spandrel.UnsupportedModelError):
            spandrel.ModelLoader().load_from_state_dict(dict(state))


@pytest.mark.parametrize('arch, scale, changes', [
    ('SwinIR', 2, {}),
    ('SwinIR', 3, {'upsampler': 'pixelshuffledirect', 'resi_connection': '3conv', 'window_size': 8}),
    ('SwinIR', 4, {'upsampler': 'nearest+conv'}),
    ('SwinIR', 1, {'upsampler': ''}),
    ('HAT', 2, {}), ('HAT', 3, {'resi_connection': 'identity'}), ('HAT', 4, {'window_size': 8, 'img_size': 24}),
    ('SPAN', 4, {}),  # the scale only changes the last convolution's width
])
def test_spandrel_reads_our_files_as_the_official_network(spandrel, tmp_path, arch, scale, changes):
    net = tiny(arch, scale, seed=scale, **changes)
    path = tmp_path / 'net_g.pth'
    save_checkpoint({'params': net.state_dict()}, path)
    model = spandrel.ModelLoader().load_from_file(path)
    assert (model.architecture.id, model.scale) == (arch, scale)
    fresh = type(model.model)(**model.model.hyperparameters).state_dict()  # the official code's own tensors
    ours = net.state_dict()
    assert {k: v.shape for k, v in fresh.items()} == {k: v.shape for k, v in ours.items()}
    derived = [k for k in ours if 'index' in k or 'attn_mask' in k]
    assert all(torch.equal(fresh[k], ours[k]) for k in derived) and (arch == 'SPAN' or derived)
    lq = torch.rand(1, 3, 9, 13)  # odd: SwinIR and HAT pad in spandrel's forward, in super_resolve here
    with torch.no_grad():
        torch.testing.assert_close(super_resolve(net, lq), model.model.eval()(lq), rtol=1e-5, atol=1e-5)


def test_span_evaluates_the_folded_convolutions_it_trains():
    net = tiny('SPAN', seed=1)
    lq = torch.rand(1, 3, 6, 7)
    with torch.no_grad():
        net.train()
        two_branches = net(lq)
        net.eval()
        folded = net(lq)
    torch.testing.assert_close(folded, two_branches, rtol=1e-5, atol=1e-4)  # outputs of order 10: x * 255 input
    block = net.block_1.c1_r
    assert not block.eval_conv.weight.requires_grad and torch.count_nonzero(block.eval_conv.weight) > 0


# ----------------------------------------------------------------------------------------------- training
TINY_SIZES = ['train:total_iter=2', 'datasets:train:gt_size=64', *SHORT]  # LR patches 16: windows of 8 and 16 fit


def check_spandrel_reads(exp: Path, arch: str) -> None:
    """spandrel (when installed: the test extra) recognises the network of the run's checkpoint."""
    if importlib.util.find_spec('spandrel'):
        import spandrel
        assert spandrel.ModelLoader().load_from_file(exp / 'models' / 'net_g_2.pth').architecture.id == arch


def test_edsr_option_files_train_ours_and_basicsrs_two_stages(root):
    small = ['network_g:num_feat=16', 'network_g:num_block=1']
    exp, log = train(root, OPTIONS / 'edsr_x4.yml', *TINY_SIZES, *small)
    assert 'Network EDSR, with parameters: ' in log and 'l_pix:' in log and 'Validation Set5\n\t # psnr: ' in log
    # BasicSR's EDSR-M x4 starts from its x2 run, loading what fits (the second upsampling step is new)
    x2, log = train(root, BASICSR_OPTIONS / 'EDSR' / 'train_EDSR_Mx2.yml', *TINY_SIZES, 'network_g:num_block=1')
    shutil.copy(x2 / 'models' / 'net_g_2.pth', x2 / 'models' / 'net_g_300000.pth')
    x4, log = train(root, BASICSR_OPTIONS / 'EDSR' / 'train_EDSR_Mx4.yml', *TINY_SIZES, 'network_g:num_block=1')
    assert "missing ['upsample.2.bias', 'upsample.2.weight']" in log
    assert f"Loaded EDSR from {x2 / 'models' / 'net_g_300000.pth'}" in log
    assert 'Validation Set5\n\t # psnr: ' in log and (x4 / 'models' / 'net_g_2.pth').is_file()


SMALL_SWINIR = ['network_g:depths=[2]', 'network_g:num_heads=[6]', 'network_g:embed_dim=60']  # 6 x 6 blocks of 180


@pytest.mark.parametrize('option_file, arch, small', [
    (OPTIONS / 'swinir_x4.yml', 'SwinIR', SMALL_SWINIR),
    (BASICSR_OPTIONS / 'SwinIR' / 'train_SwinIR_SRx4_scratch.yml', 'SwinIR', SMALL_SWINIR),
    (OPTIONS / 'hat_x4.yml', 'HAT', ['network_g:depths=[1]', 'network_g:num_heads=[6]', 'network_g:embed_dim=60']),
    (OPTIONS / 'span_x4.yml', 'SPAN', ['network_g:feature_channels=16']),
])
def test_option_files_train_and_validate_on_sizes_off_the_window(root, option_file, arch, small):
    exp, log = train(root, option_file, *TINY_SIZES, *small, 'val:save_img=true')
    assert f'Network {arch}, with parameters: ' in log and 'iter:       2' in log and 'l_pix:' in log
    assert 'Validation Set5\n\t # psnr: ' in log
    # Set5's LR images are 30 x 54, not multiples of the window (8, 16): padded, then cropped to 120 x 216
    saved = sorted((exp / 'visualization' / 'img00').iterdir())
    assert saved and imread(saved[-1]).shape[:2] == (120, 216)
    check_spandrel_reads(exp, arch)
