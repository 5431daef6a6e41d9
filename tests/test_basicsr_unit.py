"""BasicSR 1.4.2's own unit tests (its tests/ folder) for what the project covers, in this project's words with the
same assertions, on the CPU. Those already ported elsewhere are not repeated here:

* test_losses/test_losses.py -> test_basicsr_api.py (test_pixel_losses_as_basicsr_tests_call_them, test_weighted_tv_loss)
* test_metrics/test_psnr_ssim.py -> test_basicsr_api.py (test_psnr_ssim_as_basicsr_tests_call_them)
* test_data/test_paired_image_dataset.py, test_single_image_dataset.py -> test_basicsr_api.py
* test_archs/test_srresnet_arch.py -> test_basicsr_api.py (test_arch_util_helpers)
* test_models/test_sr_model.py -> test_plugins.py without the perceptual loss; the rest of it is here
* test_archs/test_ecbsr_arch.py -> test_ecbsr_arch.py (another issue)

Not ported, the networks being out of the project's scope: test_basicvsr_arch.py, test_duf_arch.py.
"""
import pytest
import torch

from basicsr.archs.arch_util import flow_warp, pixel_unshuffle
from basicsr.archs.discriminator_arch import VGGStyleDiscriminator
from basicsr.archs.srresnet_arch import MSRResNet
from basicsr.data.paired_image_dataset import PairedImageDataset
from basicsr.losses.losses import L1Loss, PerceptualLoss
from basicsr.models.sr_model import SRModel
from basicsr.utils.known_files import WEIGHTS

from conftest import make_pairs
from test_basicsr_compat import vgg19_weights  # noqa: F401  (fixture: a VGG19 file in torchvision's place)
from test_plugins import basicsr_raw_options


def test_vgg_style_discriminator():
    """test_archs/test_discriminator_arch.py."""
    net = VGGStyleDiscriminator(num_in_ch=3, num_feat=4)
    assert net(torch.rand((1, 3, 128, 128))).shape == (1, 1)
    net = VGGStyleDiscriminator(num_in_ch=3, num_feat=4, input_size=256)
    assert net(torch.rand((1, 3, 256, 256))).shape == (1, 1)
    with pytest.raises(AssertionError):  # an input that is not input_size
        net(torch.rand((1, 3, 128, 128)))
    with pytest.raises(AssertionError, match='128 or 256, got 64'):  # neither 128 nor 256
        VGGStyleDiscriminator(num_in_ch=3, num_feat=4, input_size=64)


def test_arch_util_shape_checks_are_assertion_errors():
    """BasicSR asserts these shapes; plug-in code may catch AssertionError."""
    with pytest.raises(AssertionError, match='multiples of 2, got 5x4'):
        pixel_unshuffle(torch.rand(1, 1, 5, 4), 2)
    assert pixel_unshuffle(torch.rand(1, 1, 6, 4), 2).shape == (1, 4, 3, 2)
    with pytest.raises(AssertionError, match='flow must be'):
        flow_warp(torch.rand(1, 1, 4, 4), torch.zeros(1, 4, 5, 2))


def test_the_niqe_model_downloads_with_the_hash_of_basicsrs_file():
    """BasicSR ships niqe_pris_params.npz; here it is a known download, checked against the 1.4.2 file's SHA-256."""
    (niqe_file,) = WEIGHTS['NIQE']
    assert niqe_file.name == 'niqe_pris_params.npz' and '/v1.4.2/basicsr/metrics/' in niqe_file.urls[0]
    assert niqe_file.check == '2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296'


def test_sr_model_with_the_perceptual_loss(tmp_path, vgg19_weights):  # noqa: F811
    """test_models/test_sr_model.py: the perceptual and style terms, and validation in test mode with a progress bar
    and with no suffix (the parts test_plugins.py does not run)."""
    opt = basicsr_raw_options(4)
    opt['train']['perceptual_opt'] = {
        'type': 'PerceptualLoss', 'layer_weights': {'conv5_4': 1}, 'vgg_type': 'vgg19', 'use_input_norm': True,
        'range_norm': False, 'perceptual_weight': 1.0, 'style_weight': 1.0, 'criterion': 'l1'}
    model = SRModel(opt)
    assert model.__class__.__name__ == 'SRModel' and isinstance(model.net_g, MSRResNet)
    assert isinstance(model.cri_pix, L1Loss) and isinstance(model.cri_perceptual, PerceptualLoss)
    assert isinstance(model.optimizers[0], torch.optim.Adam) and model.ema_decay == 0.999
    model.feed_data({'gt': torch.rand((1, 3, 32, 32)), 'lq': torch.rand((1, 3, 8, 8))})
    model.optimize_parameters(1)
    assert model.output.shape == (1, 3, 32, 32) and isinstance(model.log_dict, dict)
    assert {'l_pix', 'l_percep', 'l_style'} <= set(model.log_dict)

    hr, lr = make_pairs(tmp_path / 'data', count=2, size=(32, 32))
    dataset = PairedImageDataset(dict(name='Test', dataroot_gt=str(hr), dataroot_lq=str(lr),
                                      io_backend=dict(type='disk'), scale=4, phase='val'))
    loader = torch.utils.data.DataLoader(dataset=dataset, batch_size=1, shuffle=False, num_workers=0)
    model.opt['is_train'] = False
    model.opt['val'].update(suffix='test', pbar=True)
    model.opt['path']['visualization'] = str(tmp_path / 'vis')
    model.nondist_validation(loader, 1, None, save_img=True)
    assert isinstance(model.metric_results['psnr'], float)
    assert (tmp_path / 'vis' / 'Test' / 'img00_test.png').is_file()
    model.opt['val']['suffix'] = None  # images are then named after the run
    model.opt['name'] = 'demo'
    model.nondist_validation(loader, 1, None, save_img=True)
    assert isinstance(model.metric_results['psnr'], float)
    assert (tmp_path / 'vis' / 'Test' / 'img00_demo.png').is_file()
