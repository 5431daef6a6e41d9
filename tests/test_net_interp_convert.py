"""scripts/net_interp.py and scripts/convert_weights.py on tiny RRDBNet and RCAN weights."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from basicsr.archs import build_network
from basicsr.archs.key_layouts import BASICSR, rcan_mean_shift, rename_keys
from basicsr.utils.checkpoint import load_checkpoint, save_checkpoint
from basicsr.utils.errors import CheckpointError

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'scripts'))

import convert_weights  # noqa: E402
import net_interp  # noqa: E402

DF2K_RGB_MEAN = [0.4690, 0.4490, 0.4036]


def rrdb_state(seed: int, num_block: int = 1, num_feat: int = 8) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    net = build_network({'type': 'RRDBNet', 'num_feat': num_feat, 'num_block': num_block, 'num_grow_ch': 4})
    return {k: v + 0.01 * torch.randn_like(v) for k, v in net.state_dict().items()}  # biases are not all zero


def rcan_state(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return build_network({'type': 'RCAN', 'num_feat': 8, 'num_group': 2, 'num_block': 1, 'squeeze_factor': 4}
                         ).state_dict()


def assert_same(actual: dict, expected: dict) -> None:
    assert list(actual) == list(expected)
    for key, tensor in expected.items():
        assert torch.equal(actual[key], tensor), key


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path, dict, dict]:
    """A PSNR network as a BasicSR file and a GAN network as a bare old-ESRGAN-layout file."""
    psnr, gan = rrdb_state(0), rrdb_state(1)
    psnr_path, gan_path = tmp_path / 'psnr.pth', tmp_path / 'gan.pth'
    save_checkpoint({'params': psnr}, psnr_path)
    save_checkpoint(rename_keys(gan, 'RRDBNet', BASICSR, 'official'), gan_path)
    return psnr_path, gan_path, psnr, gan


def interp(pair, tmp_path: Path, alpha: str) -> dict:
    psnr_path, gan_path, _, _ = pair
    out = tmp_path / f'out_{alpha}.pth'
    assert net_interp.main(['--alpha', alpha, '--net_psnr', str(psnr_path), '--net_esrgan', str(gan_path),
                            '--output', str(out)]) == 0
    checkpoint = load_checkpoint(out)
    assert set(checkpoint) == {'params'}  # the layout and wrapper of --net_psnr
    return checkpoint['params']


# ----------------------------------------------------------------------------------------------- net_interp
def test_alpha_0_and_1_reproduce_the_inputs_exactly(pair, tmp_path):
    assert_same(interp(pair, tmp_path, '0'), pair[2])
    assert_same(interp(pair, tmp_path, '1'), pair[3])


def test_alpha_08_follows_the_formula(pair, tmp_path):
    result = interp(pair, tmp_path, '0.8')
    psnr, gan = pair[2], pair[3]
    assert list(result) == list(psnr)
    for key in psnr:
        torch.testing.assert_close(result[key], 0.2 * psnr[key] + 0.8 * gan[key], rtol=1e-6, atol=1e-7)
        assert not torch.equal(result[key], psnr[key])


def test_defaults_are_the_repositorys_pretrained_folder_whatever_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = net_interp.build_parser().parse_args(['--alpha', '0.5'])
    assert Path(args.net_psnr) == REPO / 'experiments' / 'pretrained_models' / 'RRDB_PSNR_x4.pth'


def test_defaults_keep_the_official_layout(tmp_path, monkeypatch):
    monkeypatch.setattr(net_interp, 'PRETRAINED', tmp_path / 'experiments' / 'pretrained_models')
    psnr, gan = (rename_keys(rrdb_state(s), 'RRDBNet', BASICSR, 'esrgan2019') for s in (0, 1))
    save_checkpoint(psnr, tmp_path / 'experiments/pretrained_models/RRDB_PSNR_x4.pth')
    save_checkpoint(gan, tmp_path / 'experiments/pretrained_models/RRDB_ESRGAN_x4.pth')
    assert net_interp.main(['--alpha', '0.8']) == 0
    result = load_checkpoint(tmp_path / 'experiments/pretrained_models/RRDB_interp_08.pth')
    assert list(result) == list(psnr) and 'RRDB_trunk.0.RDB1.conv1.weight' in result
    key = 'trunk_conv.weight'
    torch.testing.assert_close(result[key], 0.2 * psnr[key] + 0.8 * gan[key])
    with pytest.raises(SystemExit, match='exists'):
        net_interp.main(['--alpha', '0.8'])


@pytest.mark.parametrize('alpha, tag', [(0.8, '08'), (1, '10'), (0, '00'), (0.85, '085'), (0.5, '05')])
def test_alpha_in_the_default_name(alpha, tag):
    assert net_interp.alpha_tag(alpha) == tag


def test_networks_of_different_depth_are_refused(pair, tmp_path):
    deeper = tmp_path / 'deeper.pth'
    save_checkpoint({'params': rrdb_state(2, num_block=2)}, deeper)
    with pytest.raises(CheckpointError, match=r"deeper.pth has 'body\.1\.rdb1\.conv1\.weight'"):
        net_interp.main(['--alpha', '0.5', '--net_psnr', str(pair[0]), '--net_esrgan', str(deeper),
                         '--output', str(tmp_path / 'o.pth')])


def test_networks_of_different_width_are_refused(pair, tmp_path):
    wider = tmp_path / 'wider.pth'
    save_checkpoint(rrdb_state(2, num_feat=16), wider)
    with pytest.raises(CheckpointError, match=r"'conv_first.weight' is \(8, 3, 3, 3\) in .*psnr.pth but "
                                              r"\(16, 3, 3, 3\) in .*wider.pth"):
        net_interp.main(['--alpha', '0.5', '--net_psnr', str(pair[0]), '--net_esrgan', str(wider),
                         '--output', str(tmp_path / 'o.pth')])


def test_alpha_outside_0_1_is_an_error(pair, tmp_path):
    with pytest.raises(SystemExit, match=r'--alpha: must be in \[0, 1\], got 1.2'):
        net_interp.main(['--alpha', '1.2', '--net_psnr', str(pair[0]), '--net_esrgan', str(pair[1]),
                         '--output', str(tmp_path / 'o.pth')])
    assert not (tmp_path / 'o.pth').exists()


def test_cli_errors_are_one_line_with_status_1(pair, tmp_path):
    result = subprocess.run([sys.executable, 'scripts/convert_weights.py', '--arch', 'RCAN', '--to', 'official',
                             str(pair[0]), str(tmp_path / 'o.pth')], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    assert 'psnr.pth: not in any known RCAN layout' in result.stderr


# ----------------------------------------------------------------------------------------------- convert_weights
def convert(*args: str) -> None:
    assert convert_weights.main(list(args)) == 0


@pytest.mark.parametrize('layout', ['official', 'esrgan2019'])
def test_rrdbnet_conversion_round_trip(tmp_path, layout):
    state = rrdb_state(0)
    save_checkpoint({'params_ema': state, 'params': rrdb_state(1)}, tmp_path / 'ours.pth')
    convert('--arch', 'RRDBNet', '--to', layout, str(tmp_path / 'ours.pth'), str(tmp_path / 'theirs.pth'))
    theirs = load_checkpoint(tmp_path / 'theirs.pth')
    assert_same(theirs, rename_keys(state, 'RRDBNet', BASICSR, layout))  # params_ema read, bare file written
    convert('--arch', 'RRDBNet', '--to', 'basicsr', str(tmp_path / 'theirs.pth'), str(tmp_path / 'back.pth'))
    back = load_checkpoint(tmp_path / 'back.pth')
    assert set(back) == {'params'}
    assert_same(back['params'], state)


def test_rcan_conversion_writes_and_checks_the_mean_shift(tmp_path, capsys):
    state = rcan_state(0)
    save_checkpoint({'params': state}, tmp_path / 'ours.pth')
    convert('--arch', 'RCAN', '--to', 'official', '--rgb-mean', *map(str, DF2K_RGB_MEAN), str(tmp_path / 'ours.pth'),
            str(tmp_path / 'official.pt'))
    official = load_checkpoint(tmp_path / 'official.pt')
    assert_same(official, {**rename_keys(state, 'RCAN', BASICSR, 'official'), **rcan_mean_shift(DF2K_RGB_MEAN, 255.)})
    assert torch.allclose(official['add_mean.bias'], 255 * torch.tensor(DF2K_RGB_MEAN))
    convert('--arch', 'RCAN', '--to', 'basicsr', str(tmp_path / 'official.pt'), str(tmp_path / 'back.pth'))
    note = capsys.readouterr().out
    assert 'rgb_mean [0.469, 0.449, 0.4036] at img_range 255 (not DIV2K: set network_g.rgb_mean' in note
    assert_same(load_checkpoint(tmp_path / 'back.pth')['params'], state)


def test_conversion_refuses_a_file_already_in_the_target_layout(tmp_path):
    save_checkpoint(rrdb_state(0), tmp_path / 'ours.pth')
    with pytest.raises(CheckpointError, match='ours.pth: already in the basicsr layout of RRDBNet'):
        convert_weights.main(['--arch', 'RRDBNet', '--to', 'basicsr', str(tmp_path / 'ours.pth'),
                              str(tmp_path / 'x.pth')])


def test_conversion_rejects_a_layout_the_network_lacks(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        convert_weights.main(['--arch', 'RCAN', '--to', 'esrgan2019', 'in.pth', str(tmp_path / 'x.pth')])
    assert exc.value.code == 2 and 'RCAN layouts are basicsr, official' in capsys.readouterr().err


def test_edsr_conversion_round_trips_with_the_mean_shift(tmp_path):
    from basicsr.archs.edsr_arch import EDSR
    state = EDSR(num_feat=8, num_block=1, upscale=2).state_dict()
    save_checkpoint({'params': state}, tmp_path / 'ours.pth')
    convert('--arch', 'EDSR', '--to', 'official', str(tmp_path / 'ours.pth'), str(tmp_path / 'official.pt'))
    official = load_checkpoint(tmp_path / 'official.pt')
    assert 'sub_mean.weight' in official and 'add_mean.bias' in official
    convert('--arch', 'EDSR', '--to', 'basicsr', str(tmp_path / 'official.pt'), str(tmp_path / 'back.pth'))
    assert_same(load_checkpoint(tmp_path / 'back.pth')['params'], state)
