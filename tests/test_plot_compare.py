"""scripts/plot_logs.py on a tiny training run, and scripts/compare.py on synthetic images."""
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from basicsr.archs import build_network
from basicsr.data.transforms import bicubic_downscale_uint8, mod_crop
from basicsr.metrics.psnr_ssim import calculate_psnr
from basicsr.train import train_pipeline
from basicsr.utils.checkpoint import save_checkpoint
from basicsr.utils.errors import BasicSRError, DataError
from basicsr.utils.img_util import imwrite

from conftest import synthetic_image, tiny_train_options, write_yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'scripts'))
import compare  # noqa: E402
import plot_logs  # noqa: E402


def decoded_png(path: Path) -> np.ndarray:
    assert path.is_file() and path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None
    return img


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory) -> Path:
    """A 6-iteration training with validation at 3 and 6; returns its experiment folder."""
    root = tmp_path_factory.mktemp('run')
    opt = tiny_train_options(root)
    train_pipeline(argv=['-opt', str(write_yaml(root / 'train.yml', opt))])
    return root / 'experiments' / 'tiny'


def test_text_log_and_tensorboard_give_the_same_curves(tiny_run):
    from_tb = plot_logs.load_run(str(tiny_run), 'tb')
    from_log = plot_logs.load_run(str(tiny_run), 'log')
    assert from_tb.source == tiny_run and from_log.source.name.startswith('train_tiny_')
    for tag in ('losses/l_pix', 'metrics/tiny_val/psnr', 'metrics/tiny_val/ssim'):
        assert sorted(from_tb.scalars[tag]) == sorted(from_log.scalars[tag])
        for step, value in from_tb.scalars[tag].items():
            assert from_log.scalars[tag][step] == pytest.approx(value, rel=1e-3)  # the log prints 4-5 digits
    assert sorted(from_tb.scalars['metrics/tiny_val/psnr']) == [3, 6]
    assert sorted(from_log.scalars['losses/l_pix']) == [1, 2, 3, 4, 5, 6]


def test_basicsr_style_log_lines_parse(tmp_path):
    log = tmp_path / 'train_x.log'
    log.write_text('2022-01-01 00:00:00,000 INFO: [train..][epoch:  0, iter:   5,000, lr:(2.000e-04,)] '
                   '[eta: 1 day, 0:00:00, time (data): 0.100 (0.010)] l_g_pix: 1.0000e-02 l_d_real: 2.5e-01 '
                   'out_d_real: 3.0e+00\n'
                   '2022-01-01 00:00:00,000 INFO: Validation Set5\n\t # psnr: 30.1234\tBest: 30.1234 @ 5000 iter\n'
                   '\t # niqe: 5.5000\tBest: 5.5000 @ 5000 iter\n\n')
    run = plot_logs.parse_text_log(log, 'x')
    assert run.scalars == {'lr': {5000: 2e-4}, 'losses/l_g_pix': {5000: 1e-2}, 'losses/l_d_real': {5000: 0.25},
                           'out_d_real': {5000: 3.0}, 'metrics/Set5/psnr': {5000: 30.1234},
                           'metrics/Set5/niqe': {5000: 5.5}}


def test_plot_logs_writes_a_png_with_a_panel_per_curve(tiny_run, tmp_path):
    pytest.importorskip('matplotlib')
    out = tmp_path / 'curves.png'
    assert plot_logs.main([f'tb={tiny_run}', f"log={next(tiny_run.glob('train_*.log'))}", '-o', str(out),
                           '--smooth', '0.5']) == 0
    img = decoded_png(out)
    height, width = img.shape[:2]
    assert width >= 1200 and height >= 300  # three panels (l_pix, psnr, ssim) side by side
    assert out.stat().st_size > 20_000
    assert img.std() > 10  # not a blank canvas


def test_without_matplotlib_the_error_says_what_to_install(tiny_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'matplotlib', None)
    with pytest.raises(BasicSRError, match=r'needs matplotlib \(pip install matplotlib\)'):
        plot_logs.main([str(tiny_run), '-o', str(tmp_path / 'x.png')])
    assert not (tmp_path / 'x.png').exists()


def test_plot_logs_names_a_folder_without_logs(tmp_path):
    with pytest.raises(DataError, match='found no TensorBoard events or a train_'):
        plot_logs.load_run(str(tmp_path), 'auto')


@pytest.fixture
def gt_folder(tmp_path: Path) -> Path:
    """GT folder of 2 synthetic images (not multiples of 4: mod-crop is exercised)."""
    for i, size in enumerate([(50, 66), (45, 38)]):
        imwrite(synthetic_image(i, *size), tmp_path / 'GT' / f'img{i}.png')
    return tmp_path / 'GT'


def test_compare_writes_one_labelled_figure_per_image(gt_folder, tmp_path, capsys):
    pytest.importorskip('matplotlib')
    torch.manual_seed(0)
    net = {'type': 'MSRResNet', 'num_feat': 8, 'num_block': 1, 'upscale': 4}
    save_checkpoint({'params': build_network(net).state_dict()}, tmp_path / 'net.pth')
    opt = write_yaml(tmp_path / 'net.yml', {'scale': 4, 'network_g': net})
    gts, noisy = {}, {}
    for i, path in enumerate(sorted(gt_folder.iterdir())):  # "results of another method": GT plus noise
        gts[path.stem] = mod_crop(cv2.imread(str(path)), 4)
        noise = np.random.default_rng(i).normal(0, 3, gts[path.stem].shape)
        noisy[path.stem] = np.clip(gts[path.stem] + noise, 0, 255).astype(np.uint8)
        imwrite(noisy[path.stem], tmp_path / 'results' / f'{path.stem}_method.png')
    status = compare.main(['--gt', str(gt_folder), '--scale', '4', '--model', 'Net', str(opt),
                           str(tmp_path / 'net.pth'), '--results', 'Noisy', str(tmp_path / 'results'),
                           '--output', str(tmp_path / 'fig'), '--crop-size', '24'])
    assert status == 0
    for name in ('img0', 'img1'):
        img = decoded_png(tmp_path / 'fig' / f'{name}.png')
        assert img.shape[1] > 4 * img.shape[0]  # one row: full GT, bicubic, Net, Noisy, GT crop
    printed = capsys.readouterr().out
    expected = np.mean([calculate_psnr(noisy[name], gts[name], 4, test_y_channel=True) for name in gts])
    assert f'Noisy: PSNR {expected:.2f} dB' in printed
    assert 'Bicubic: PSNR' in printed and 'Net: PSNR' in printed


def test_compare_uses_the_given_lq_and_finds_where_bicubic_is_worst(tmp_path):
    gt = np.full((32, 40, 3), 128, np.uint8)
    gt[20:28, 28:36] = 255  # the only detail: bicubic upscaling errs around it
    imwrite(gt, tmp_path / 'GT' / 'a.png')
    imwrite(bicubic_downscale_uint8(gt, 4), tmp_path / 'LQ' / 'ax4.png')
    pairs = compare.load_pairs(str(tmp_path / 'GT'), str(tmp_path / 'LQ'), 4, '{}x4')
    assert [(name, g.shape, lq.shape) for name, g, lq in pairs] == [('a', (32, 40, 3), (8, 10, 3))]
    x, y = compare.worst_bicubic_window(compare.bicubic_upscale(pairs[0][2], 4), gt, 12)
    assert 16 <= x <= 28 and 16 <= y <= 20  # the window covers the bright square's edges


def test_compare_names_a_missing_result(gt_folder, tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DataError, match='expected one SR image named img0.png or img0_\\*.png, found none'):
        compare.main(['--gt', str(gt_folder), '--scale', '4', '--results', 'X', str(tmp_path / 'empty'),
                      '--output', str(tmp_path / 'fig')])
