"""BasicSR option files run as published; what we do not support fails by name.

``basicsr_options/`` holds copies of BasicSR 1.4.2's option files (same relative paths as in its ``options/``),
written from their documented keys and values. They run unchanged, dataset paths included, from a folder where tiny
synthetic datasets sit at those paths:

* ``train/SRResNet_SRGAN/train_MSRResNet_x4.yml`` (validates PSNR and NIQE) and its ``test/`` counterpart;
* ``train/ESRGAN/train_RRDBNet_PSNR_x4.yml`` and ``train_ESRGAN_x4.yml``, the two stages of ESRGAN (the second
  starts from the first's ``net_g_1000000.pth``);
* ``train/RCAN/train_RCAN_x2.yml``.

To keep the tests short, command-line overrides (``--force_yml``, as a user would pass them) cut the runs to one or
two iterations of batch 2 without worker processes, and shrink the big generators (RRDBNet 23 -> 1 RRDB, RCAN
10 groups x 20 blocks -> 1 x 1); every other key is the published one.
"""
import re
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from basicsr.archs import build_network
from basicsr.archs.vgg_arch import torchvision_weights_file
from basicsr.metrics import niqe
from basicsr.test import test_pipeline as evaluate
from basicsr.utils.checkpoint import save_checkpoint
from basicsr.utils.errors import OptionError
from basicsr.utils.options import parse_options

from conftest import SHORT, synthetic_image, train

OPTIONS = Path(__file__).resolve().parent / 'basicsr_options'
MSRRESNET_X4 = OPTIONS / 'train' / 'SRResNet_SRGAN' / 'train_MSRResNet_x4.yml'
TEST_MSRRESNET_X4 = OPTIONS / 'test' / 'SRResNet_SRGAN' / 'test_MSRResNet_x4.yml'
RRDBNET_PSNR_X4 = OPTIONS / 'train' / 'ESRGAN' / 'train_RRDBNet_PSNR_x4.yml'
ESRGAN_X4 = OPTIONS / 'train' / 'ESRGAN' / 'train_ESRGAN_x4.yml'
RCAN_X2 = OPTIONS / 'train' / 'RCAN' / 'train_RCAN_x2.yml'

# With SHORT (conftest), the generator sizes below are the only departures from the published files.
SMALL_RRDBNET = ['network_g:num_block=1']  # 23 RRDBs take many seconds per iteration on a CPU
SMALL_RCAN = ['network_g:num_group=1', 'network_g:num_block=1']  # likewise 10 groups x 20 RCABs


@pytest.fixture(scope='module')
def niqe_model(tmp_path_factory) -> Path:
    """A NIQE pristine model fitted here (BasicSR's file cannot be downloaded), for ``$BASICSR_NIQE_PARAMS``."""
    path = tmp_path_factory.mktemp('niqe') / 'niqe_pris_params.npz'
    images = (niqe.prepare_image(synthetic_image(seed, 192, 288), 0, convert_to='gray') for seed in range(4))
    niqe.fit_niqe_model(images).save(path)
    return path


@pytest.fixture
def vgg19_weights(tmp_path, monkeypatch) -> Path:
    """A VGG19 weights file in torchvision's layout and place (random values: ImageNet's cannot be downloaded)."""
    from torchvision.models.vgg import cfgs, make_layers
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    features = make_layers(cfgs['E'])
    path = tmp_path / 'torch' / 'hub' / 'checkpoints' / torchvision_weights_file('vgg19')
    save_checkpoint({f'features.{k}': v for k, v in features.state_dict().items()}, path)
    return path


def test_the_published_msrresnet_file_trains_and_validates_with_niqe(root, niqe_model, monkeypatch):
    monkeypatch.setenv(niqe.PARAMS_ENV, str(niqe_model))
    exp, log = train(root, MSRRESNET_X4, 'train:total_iter=2', *SHORT)
    assert (exp / 'models' / 'net_g_2.pth').is_file() and (exp / 'training_states' / '2.state').is_file()
    assert 'Network MSRResNet, with parameters: 1,517,571' in log
    assert 'Training set DIV2K: 3 images, enlarge ratio 100, batch 2' in log
    assert 'iter:       2' in log and 'l_pix:' in log
    for name in ('Set5', 'Set14'):
        assert re.search(rf'Validation {name}\n\t # psnr: [\d.]+\tBest: .*\n\t # niqe: [\d.]+\tBest: [\d.]+ @ 2 iter',
                         log)
    saved = yaml.safe_load((exp / 'options.yml').read_text())
    assert saved['train']['scheduler']['periods'] == [250000] * 4 and saved['train']['ema_decay'] == 0.999


def test_without_a_niqe_model_the_published_file_stops_before_training(root, monkeypatch):
    monkeypatch.delenv(niqe.PARAMS_ENV, raising=False)
    monkeypatch.setenv('TORCH_HOME', str(root / 'torch'))
    monkeypatch.setenv('HOME', str(root / 'home'))
    with pytest.raises(OptionError, match=r'val\.metrics\.niqe: NIQE needs its pristine model.*Looked in: .*'
                                          r'torch/hub/basicsr/niqe_pris_params\.npz.*BASICSR_NIQE_PARAMS'):
        train(root, MSRRESNET_X4, *SHORT)
    assert not (root / 'experiments').exists()


@pytest.mark.parametrize('section, replacement, named', [
    ('model_type: SRModel', 'model_type: HiFaceGANModel', 'model_type.*HiFaceGANModel'),
    ('  type: MSRResNet', '  type: EDVR', 'network_g.type.*EDVR'),
    ('    type: L1Loss', '    type: MultiScaleGANLoss', 'train.pixel_opt.type.*MultiScaleGANLoss'),
    ('  resume_state: ~', '  resume_state: ~\n  ignore_resume_networks: [network_g]', 'path.ignore_resume_networks'),
    ('  warmup_iter: -1', '  warmup_iter: -1\n  gw_opt: {type: L1Loss}', 'train.gw_opt'),
    ('      type: calculate_niqe', '      type: calculate_brisque', 'val.metrics.niqe.type.*calculate_brisque'),
])
def test_unsupported_basicsr_options_fail_by_name(root, section, replacement, named):
    text = MSRRESNET_X4.read_text()
    assert section in text
    path = root / MSRRESNET_X4.name
    path.write_text(text.replace(section, replacement, 1))
    changed = replacement.splitlines()[-1]
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if text.startswith(changed))
    with pytest.raises(OptionError, match=f'{path}, line {line}: {named}'):
        parse_options(path, root_path=root)


def test_the_published_test_file_evaluates_every_set(root):
    torch.manual_seed(0)
    weights = root / 'experiments' / '001_MSRResNet_x4_f64b16_DIV2K_1000k_B16G1_wandb' / 'models'
    save_checkpoint({'params': build_network({'type': 'MSRResNet'}).state_dict()}, weights / 'net_g_1000000.pth')
    results = evaluate(root_path=str(root), argv=['-opt', str(TEST_MSRRESNET_X4)])
    # as in BasicSR, images are named after the LQ file (DIV2K's carry the x4 suffix)
    assert {name: sorted(per_image) for name, per_image in results.items()} == {
        'Set5': ['img00', 'img01'], 'Set14': ['img00', 'img01'], 'DIV2K100': ['img00x4', 'img01x4']}
    out = root / 'results' / '001_MSRResNet_x4_f64b16_DIV2K_1000k_B16G1_wandb'
    saved = sorted(p.name for p in (out / 'visualization' / 'Set5').iterdir())  # suffix ~: the experiment name
    assert saved == [f'img0{i}_001_MSRResNet_x4_f64b16_DIV2K_1000k_B16G1_wandb.png' for i in (0, 1)]
    assert (out / 'metrics.csv').read_text().splitlines()[0] == 'dataset,image,psnr,ssim'


def test_the_published_esrgan_recipe_trains_both_stages(root, vgg19_weights):
    # stage 1: the PSNR-oriented RRDBNet (L1 only)
    exp, log = train(root, RRDBNET_PSNR_X4, 'train:total_iter=2', *SHORT, *SMALL_RRDBNET)
    assert 'Network RRDBNet, with parameters: ' in log and 'l_pix:' in log and 'Validation Set5\n\t # psnr: ' in log
    # stage 2 starts from the weights the published file names: those of the end of stage 1
    shutil.copy(exp / 'models' / 'net_g_2.pth', exp / 'models' / 'net_g_1000000.pth')
    gan_exp, log = train(root, ESRGAN_X4, 'train:total_iter=1', *SHORT, *SMALL_RRDBNET)
    assert f"Loaded RRDBNet from {exp / 'models' / 'net_g_1000000.pth'} [params]" in log
    assert 'Network VGGStyleDiscriminator, with parameters: ' in log
    assert f'ImageNet weights loaded from {vgg19_weights}' in log
    for loss in ('l_g_pix', 'l_g_percep', 'l_g_gan', 'l_d_real', 'l_d_fake'):
        assert f'{loss}:' in log
    assert 'Validation Set14\n\t # psnr: ' in log
    assert (gan_exp / 'models' / 'net_g_1.pth').is_file() and (gan_exp / 'models' / 'net_d_1.pth').is_file()
    assert sorted(p.name for p in (gan_exp / 'visualization').iterdir()) == ['img00', 'img01']  # save_img: true


def test_the_published_rcan_x2_file_trains(root):
    exp, log = train(root, RCAN_X2, 'train:total_iter=2', *SHORT, *SMALL_RCAN)
    assert 'Network RCAN, with parameters: ' in log and 'iter:       2' in log and 'l_pix:' in log
    assert 'Validation Set5\n\t # psnr: ' in log
    assert (exp / 'models' / 'net_g_2.pth').is_file()
    saved = yaml.safe_load((exp / 'options.yml').read_text())
    assert saved['network_g']['rgb_mean'] == [0.4488, 0.4371, 0.4040] and saved['scale'] == 2
