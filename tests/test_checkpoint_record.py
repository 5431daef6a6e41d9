"""Network files that know their network (basicsr/archs/network_record.py), test.py without network_g and
scripts/inference.py with only --model; files from elsewhere through spandrel."""
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from conftest import synthetic_image, tiny_train_options, train, write_yaml
from basicsr.archs import build_network
from basicsr.archs.network_record import RECORD_KEY, build_from_checkpoint, network_record, recorded_network
from basicsr import test as test_entry  # (its test_pipeline would be collected as a test if imported by name)
from basicsr.utils.checkpoint import load_checkpoint
from basicsr.utils.errors import CheckpointError
from basicsr.utils.known_files import download_hint

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'scripts'))
import inference  # noqa: E402

spandrel = pytest.importorskip('spandrel')

TINY_MSRRESNET = {'type': 'MSRResNet', 'num_feat': 8, 'num_block': 1, 'upscale': 4}


def recorded_file(path: Path, network_opt: dict, scale: int = 4) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    net = build_network(network_opt).eval()
    torch.save({'params': net.state_dict(), RECORD_KEY: network_record(network_opt, scale)}, path)
    return path, net


def test_a_recorded_file_loads_as_basicsr_and_spandrel_load_it_and_builds_its_network(tmp_path):
    path, net = recorded_file(tmp_path / 'net_g.pth', TINY_MSRRESNET)
    basicsr_style = torch.load(path, map_location='cpu', weights_only=True)['params']  # BasicSR's load_network
    assert basicsr_style.keys() == net.state_dict().keys()
    assert spandrel.ModelLoader().load_state_dict_from_file(path).keys() == net.state_dict().keys()
    assert recorded_network(load_checkpoint(path)) == (TINY_MSRRESNET, 4)
    rebuilt, scale = build_from_checkpoint(path)
    lq = torch.rand(1, 3, 8, 10)
    with torch.no_grad():
        assert scale == 4 and torch.equal(rebuilt(lq), net(lq))


def test_a_basicsr_file_without_a_record_is_recognised_through_spandrel(tmp_path):
    rrdb = {'type': 'RRDBNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_block': 1, 'num_grow_ch': 32}
    torch.manual_seed(0)
    net = build_network(rrdb).eval()
    torch.save({'params_ema': net.state_dict()}, tmp_path / 'RealESRGAN_like.pth')  # BasicSR's layout, no record
    found, scale = build_from_checkpoint(tmp_path / 'RealESRGAN_like.pth')
    lq = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert scale == 4 and torch.allclose(found(lq), net(lq), atol=1e-6)


def test_a_file_nobody_recognises_is_one_clear_error(tmp_path):
    torch.save({'params': {'weight': torch.zeros(3)}}, tmp_path / 'odd.pth')
    with pytest.raises(CheckpointError, match=f"odd.pth: holds no '{RECORD_KEY}' record and spandrel recognises"):
        build_from_checkpoint(tmp_path / 'odd.pth')


def test_inference_keeps_alpha_16_bit_and_grey_and_refuses_to_overwrite(tmp_path, capsys):
    model, _ = recorded_file(tmp_path / 'net.pth', TINY_MSRRESNET)
    images = tmp_path / 'in'
    images.mkdir()
    rgba = np.dstack([synthetic_image(0, 10, 12), np.full((10, 12), 200, np.uint8)])
    cv2.imwrite(str(images / 'rgba.png'), rgba)
    cv2.imwrite(str(images / 'deep.png'), synthetic_image(1, 10, 10).astype(np.uint16) * 257)
    (images / 'sub').mkdir()
    cv2.imwrite(str(images / 'sub' / 'grey.png'), synthetic_image(2, 11, 10)[..., 0])
    out = tmp_path / 'out'
    args = ['--model', str(model), '--input', str(images), '--output', str(out), '--tile', '4', '--tile-pad', '2']
    assert inference.main(args) == 0
    rgba_sr = cv2.imread(str(out / 'rgba.png'), cv2.IMREAD_UNCHANGED)
    assert rgba_sr.shape == (40, 48, 4) and (rgba_sr[..., 3] == 200).all()
    deep = cv2.imread(str(out / 'deep.png'), cv2.IMREAD_UNCHANGED)
    assert deep.dtype == np.uint16 and deep.shape == (40, 40, 3) and (deep % 257).any()  # not 8-bit scaled up
    assert cv2.imread(str(out / 'sub' / 'grey.png'), cv2.IMREAD_UNCHANGED).shape == (44, 40)
    with pytest.raises(SystemExit, match='exists; pass --overwrite'):
        inference.main(args)
    assert inference.main(['--model', str(model), '--input', str(images / 'rgba.png'), '--output', str(out),
                           '--overwrite', '--outscale', '2', '--suffix', '_x2']) == 0
    assert cv2.imread(str(out / 'rgba_x2.png'), cv2.IMREAD_UNCHANGED).shape == (20, 24, 4)


@pytest.fixture(scope='module')
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny MSRResNet trained here for 2 iterations: its root folder and network file."""
    root = tmp_path_factory.mktemp('trained')
    exp, _ = train(root, write_yaml(root / 'train.yml', tiny_train_options(root)), 'train:total_iter=2',
                   'train:ema_decay=0', 'logger:save_checkpoint_freq=2')
    net_file = exp / 'models' / 'net_g_2.pth'
    assert RECORD_KEY in load_checkpoint(net_file)
    return root, net_file


def test_a_trained_checkpoint_runs_through_inference_with_only_model(trained, tmp_path):
    root, net_file = trained
    assert inference.main(['--model', str(net_file), '--input', str(root / 'val' / 'LR'),
                           '--output', str(tmp_path / 'sr')]) == 0
    lr = cv2.imread(str(root / 'val' / 'LR' / 'img00.png'))
    assert cv2.imread(str(tmp_path / 'sr' / 'img00.png')).shape == (lr.shape[0] * 4, lr.shape[1] * 4, 3)


def test_a_trained_checkpoint_runs_through_test_py_without_network_g(trained):
    root, net_file = trained
    opt = {'name': 'no_network_g', 'model_type': 'SRModel', 'scale': 4, 'num_gpu': 0,
           'datasets': {'test': {'name': 'tiny_val', 'type': 'PairedImageDataset',
                                 'dataroot_gt': str(root / 'val' / 'HR'), 'dataroot_lq': str(root / 'val' / 'LR')}},
           'path': {'root': str(root), 'pretrain_network_g': str(net_file)},
           'val': {'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 4}}}}
    option_file = write_yaml(root / 'test_no_network_g.yml', opt)
    assert 'network_g' not in yaml.safe_load(option_file.read_text())
    results = test_entry.test_pipeline(str(root), ['-opt', str(option_file)])
    assert set(results['tiny_val']) == {'img00', 'img01'}
    assert all(row['psnr'] > 10 for row in results['tiny_val'].values())


def test_a_missing_stage_one_network_names_the_command_that_makes_it():
    hint = download_hint('experiments/demo_MSRResNet_x4/models/net_g_1000.pth')
    assert hint.endswith('`python train.py -opt options/demo/train_msrresnet_x4_demo.yml`.')
    assert download_hint('experiments/no_such_run/models/net_g_1000.pth') == ''
