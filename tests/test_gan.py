"""GAN and perceptual losses against hand-computed values, the RaGAN gradient property, the VGG feature extractor
(layer layout, pre/post activation, weight files) and the discriminators' sizes and key names."""
import logging
import math

import pytest
import torch

from basicsr.archs import build_network
from basicsr.archs.vgg_arch import VGGFeatureExtractor, torchvision_weights_file, vgg_layer_names
from basicsr.losses import build_loss
from basicsr.losses.perceptual_loss import gram_matrix
from basicsr.utils.errors import CheckpointError, OptionError


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


LOGITS = [-1.0, 0.0, 2.0]


# ------------------------------------------------------------------------------------------------ GAN losses
@pytest.mark.parametrize('gan_type, real, fake, generator', [
    # BCE with logits: -log sigmoid(x) = softplus(-x) for label 1, softplus(x) for label 0.
    ('vanilla', mean(softplus(-x) for x in LOGITS), mean(softplus(x) for x in LOGITS),
     mean(softplus(-x) for x in LOGITS)),
    ('lsgan', mean((x - 1)**2 for x in LOGITS), mean(x**2 for x in LOGITS), mean((x - 1)**2 for x in LOGITS)),
    ('wgan', -1 / 3, 1 / 3, -1 / 3),
    ('wgan_softplus', mean(softplus(-x) for x in LOGITS), mean(softplus(x) for x in LOGITS),
     mean(softplus(-x) for x in LOGITS)),
    ('hinge', (2 + 1 + 0) / 3, (0 + 1 + 3) / 3, -1 / 3),
])
def test_gan_loss_types_by_hand(gan_type, real, fake, generator):
    loss = build_loss({'type': 'GANLoss', 'gan_type': gan_type, 'loss_weight': 0.5})
    pred = torch.tensor(LOGITS)
    assert loss(pred, True, is_disc=True).item() == pytest.approx(real)
    assert loss(pred, False, is_disc=True).item() == pytest.approx(fake)
    assert loss(pred, True, is_disc=False).item() == pytest.approx(0.5 * generator)  # loss_weight: G only


def test_gan_loss_label_values():
    loss = build_loss({'type': 'GANLoss', 'gan_type': 'vanilla', 'real_label_val': 0.9, 'fake_label_val': 0.1})
    pred = torch.tensor(LOGITS)
    sig = [1 / (1 + math.exp(-x)) for x in LOGITS]
    bce = lambda y: mean(-(y * math.log(s) + (1 - y) * math.log(1 - s)) for s in sig)  # noqa: E731
    assert loss(pred, True, is_disc=True).item() == pytest.approx(bce(0.9))
    assert loss(pred, False, is_disc=True).item() == pytest.approx(bce(0.1))
    lsgan = build_loss({'type': 'GANLoss', 'gan_type': 'lsgan', 'real_label_val': 0.9})
    assert lsgan(pred, True, is_disc=True).item() == pytest.approx(mean((x - 0.9)**2 for x in LOGITS))


REAL, FAKE = [1.0, 3.0], [0.0, -1.0]  # means 2 and -0.5


def test_relativistic_losses_by_hand():
    loss = build_loss({'type': 'GANLoss', 'gan_type': 'vanilla', 'loss_weight': 5e-3})
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    real_rel = [r - mean(FAKE) for r in REAL]  # C(x_r) - E[C(x_f)] = 1.5, 3.5
    fake_rel = [f - mean(REAL) for f in FAKE]  # C(x_f) - E[C(x_r)] = -2, -3
    # Generator: real images labelled fake, fake images labelled real, averaged, times loss_weight.
    expected_g = 5e-3 * (mean(softplus(x) for x in real_rel) + mean(softplus(-x) for x in fake_rel)) / 2
    assert loss.relativistic_generator_loss(real, fake).item() == pytest.approx(expected_g)
    # Discriminator: the other way round, each term halved, no loss_weight.
    l_real, l_fake = loss.relativistic_discriminator_losses(real, fake)
    assert l_real.item() == pytest.approx(mean(softplus(-x) for x in real_rel) / 2)
    assert l_fake.item() == pytest.approx(mean(softplus(x) for x in fake_rel) / 2)


def tiny_discriminator_and_images():
    torch.manual_seed(0)
    net_d = build_network({'type': 'UNetDiscriminatorSN', 'num_feat': 4})
    gt = torch.rand(2, 3, 16, 16)
    sr = torch.rand(2, 3, 16, 16, requires_grad=True)
    return net_d, gt, sr


def test_ragan_generator_learns_through_the_real_branch():
    """The real-image term L(C(x_r) - E[C(x_f)], fake) depends on the generator through E[C(x_f)]."""
    loss = build_loss({'type': 'GANLoss', 'gan_type': 'vanilla'})
    net_d, gt, sr = tiny_discriminator_and_images()
    real_pred = net_d(gt).detach()
    fake_pred = net_d(sr)
    real_branch = loss(real_pred - fake_pred.mean(), False)
    grad, = torch.autograd.grad(real_branch, sr)
    assert grad.abs().sum() > 0
    # The full RaGAN generator loss depends on the real logits; the vanilla one does not.
    real_pred.requires_grad_(True)
    ragan_grad, = torch.autograd.grad(loss.relativistic_generator_loss(real_pred, net_d(sr)), real_pred)
    assert ragan_grad.abs().sum() > 0
    vanilla_grad, = torch.autograd.grad(loss(net_d(sr), True), real_pred, allow_unused=True)
    assert vanilla_grad is None


def test_ragan_discriminator_terms_use_their_own_branch_only():
    loss = build_loss({'type': 'GANLoss', 'gan_type': 'vanilla'})
    real = torch.tensor(REAL, requires_grad=True)
    fake = torch.tensor(FAKE, requires_grad=True)
    l_real, l_fake = loss.relativistic_discriminator_losses(real, fake)
    real_grads = torch.autograd.grad(l_real, (real, fake), allow_unused=True)
    assert real_grads[0].abs().sum() > 0 and real_grads[1] is None
    fake_grads = torch.autograd.grad(l_fake, (real, fake), allow_unused=True)
    assert fake_grads[0] is None and fake_grads[1].abs().sum() > 0


def test_gan_loss_rejects_unknown_type_at_option_level():
    with pytest.raises(OptionError, match='gan_type'):
        build_loss({'type': 'GANLoss', 'gan_type': 'relativistic'})


# ------------------------------------------------------------------------------------------------ VGG
def torchvision_features(vgg_type: str) -> torch.nn.Sequential:
    """``torchvision.models.<vgg_type>().features``, built without the (large) classifier."""
    from torchvision.models.vgg import cfgs, make_layers
    config = {'vgg11': 'A', 'vgg13': 'B', 'vgg16': 'D', 'vgg19': 'E'}[vgg_type.removesuffix('_bn')]
    return make_layers(cfgs[config], batch_norm=vgg_type.endswith('_bn'))


def test_vgg_layer_names_follow_torchvision_features():
    for vgg_type in ('vgg11', 'vgg16_bn', 'vgg19'):
        names = vgg_layer_names(vgg_type)
        features = torchvision_features(vgg_type)
        assert len(names) == len(features)
        kinds = {'conv': torch.nn.Conv2d, 'bn': torch.nn.BatchNorm2d, 'relu': torch.nn.ReLU,
                 'pool': torch.nn.MaxPool2d}
        for name, layer in zip(names, features):
            assert isinstance(layer, kinds[name.rstrip('0123456789_')]), name
    assert vgg_layer_names('vgg19')[34:] == ['conv5_4', 'relu5_4', 'pool5']


def test_vgg_builds_only_up_to_the_deepest_layer():
    vgg = VGGFeatureExtractor(['relu1_1', 'conv2_2'], pretrained=False)
    assert list(dict(vgg.vgg_net.named_children())) == vgg_layer_names('vgg19')[:8]
    assert not any(p.requires_grad for p in vgg.parameters())
    vgg.train()
    assert not vgg.vgg_net.training  # a frozen VGG stays in eval mode
    with pytest.raises(OptionError, match='conv6_1'):
        VGGFeatureExtractor(['conv6_1'], pretrained=False)


def test_pre_and_post_activation_features():
    torch.manual_seed(0)
    vgg = VGGFeatureExtractor(['conv5_4', 'relu5_4'], pretrained=False)
    x = torch.rand(1, 3, 32, 32)
    features = vgg(x)
    assert (features['conv5_4'] < 0).any()  # pre-activation features keep their negative values
    assert torch.equal(features['relu5_4'], torch.relu(features['conv5_4']))

    gt = torch.rand(1, 3, 32, 32)
    losses = {}
    for layer in ('conv5_4', 'relu5_4'):
        torch.manual_seed(0)  # the same random VGG weights for both
        losses[layer] = build_loss({'type': 'PerceptualLoss', 'layer_weights': {layer: 1.0},
                                    'pretrained': False})(x, gt)[0].item()
    assert losses['conv5_4'] != pytest.approx(losses['relu5_4'], rel=1e-3)


def test_input_and_range_normalisation():
    torch.manual_seed(0)
    plain = VGGFeatureExtractor(['conv1_1'], use_input_norm=False, pretrained=False)
    normed = VGGFeatureExtractor(['conv1_1'], use_input_norm=True, range_norm=True, pretrained=False)
    normed.load_state_dict(plain.state_dict())
    x = torch.rand(1, 3, 8, 8) * 2 - 1  # [-1, 1]
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    expected = plain(((x + 1) / 2 - mean) / std)['conv1_1']
    assert torch.allclose(normed(x)['conv1_1'], expected, atol=1e-6)


def test_perceptual_and_style_losses_by_hand():
    torch.manual_seed(0)
    x, gt = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    loss = build_loss({'type': 'PerceptualLoss', 'layer_weights': {'conv1_2': 0.5, 'relu2_1': 2.0},
                       'perceptual_weight': 3.0, 'style_weight': 7.0, 'criterion': 'l2', 'pretrained': False})
    percep, style = loss(x, gt)
    fx, fgt = loss.vgg(x), loss.vgg(gt)
    expected_percep = 3.0 * sum(w * (fx[k] - fgt[k]).square().mean() for k, w in loss.layer_weights.items())
    expected_style = 7.0 * sum(w * (gram_matrix(fx[k]) - gram_matrix(fgt[k])).square().mean()
                               for k, w in loss.layer_weights.items())
    assert percep.item() == pytest.approx(expected_percep.item(), rel=1e-5)
    assert style.item() == pytest.approx(expected_style.item(), rel=1e-5)
    fro = build_loss({'type': 'PerceptualLoss', 'layer_weights': {'conv1_2': 1.0}, 'criterion': 'fro',
                      'pretrained': False})
    fro.vgg.load_state_dict(loss.vgg.state_dict(), strict=False)
    f_percep, no_style = fro(x, gt)
    assert f_percep.item() == pytest.approx((fx['conv1_2'] - fgt['conv1_2']).norm().item(), rel=1e-5)
    assert no_style is None


def test_gram_matrix_by_hand():
    features = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)  # c=2, h=1, w=2
    expected = torch.tensor([[1 + 4, 3 + 8], [3 + 8, 9 + 16]]) / 4.0
    assert torch.allclose(gram_matrix(features)[0], expected)


def test_perceptual_loss_gradient_reaches_the_input_only():
    loss = build_loss({'type': 'PerceptualLoss', 'layer_weights': {'conv2_1': 1.0}, 'pretrained': False})
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    loss(x, torch.rand(1, 3, 16, 16))[0].backward()
    assert x.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.parameters())


# ------------------------------------------------------------------------------------------------ VGG weights
def torchvision_features_file(path, vgg_type: str) -> torch.nn.Sequential:
    """A randomly initialised torchvision VGG whose weights are saved at ``path`` in torchvision's layout (only
    ``features.*``, plus a stand-in classifier entry, to keep the file small)."""
    torch.manual_seed(1)
    features = torchvision_features(vgg_type)
    for module in features.modules():
        if isinstance(module, torch.nn.BatchNorm2d):  # non-trivial statistics, so BN loading is checked
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    state = {f'features.{k}': v for k, v in features.state_dict().items()}
    state['classifier.0.weight'] = torch.zeros(2, 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return features.eval()


@pytest.mark.parametrize('vgg_type, layer', [('vgg19', 'conv5_4'), ('vgg11_bn', 'relu3_2')])
def test_weights_found_in_the_torch_hub_cache(tmp_path, monkeypatch, vgg_type, layer):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    path = tmp_path / 'torch' / 'hub' / 'checkpoints' / torchvision_weights_file(vgg_type)
    features = torchvision_features_file(path, vgg_type)
    vgg = VGGFeatureExtractor([layer], vgg_type, use_input_norm=False)
    x = torch.rand(1, 3, 32, 32)
    index = vgg_layer_names(vgg_type).index(layer)
    with torch.no_grad():
        expected = features[:index + 1](x)
    assert torch.allclose(vgg(x)[layer], expected, atol=1e-5)


def test_weights_from_an_explicit_path(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'empty'))
    features = torchvision_features_file(tmp_path / 'my_vgg.pth', 'vgg19')
    vgg = VGGFeatureExtractor(['conv1_1'], vgg_weights_path=str(tmp_path / 'my_vgg.pth'))
    assert torch.equal(vgg.vgg_net.conv1_1.weight, features[0].weight)


def test_missing_weights_error_says_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    with pytest.raises(CheckpointError) as err:
        VGGFeatureExtractor(['conv5_4'])
    message = str(err.value)
    assert str(tmp_path / 'torch' / 'hub' / 'checkpoints' / 'vgg19-dcbb9e9d.pth') in message
    assert 'vgg_weights_path' in message and 'pretrained: false' in message
    with pytest.raises(CheckpointError, match='nowhere.pth'):
        VGGFeatureExtractor(['conv5_4'], vgg_weights_path=str(tmp_path / 'nowhere.pth'))


def test_weights_in_another_layout_are_refused(tmp_path):
    torch.save({'conv1_1.weight': torch.zeros(64, 3, 3, 3)}, tmp_path / 'odd.pth')
    with pytest.raises(CheckpointError, match='features.0.weight'):
        VGGFeatureExtractor(['conv1_1'], vgg_weights_path=str(tmp_path / 'odd.pth'))


def test_random_weights_are_announced():
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger('basicsr')
    logger.addHandler(handler)
    try:
        VGGFeatureExtractor(['conv1_1'], pretrained=False)
    finally:
        logger.removeHandler(handler)
    assert any(r.levelno == logging.WARNING and 'random weights' in r.getMessage() for r in records)


# ------------------------------------------------------------------------------------------------ discriminators
def count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize('opt, expected', [
    ({'type': 'VGGStyleDiscriminator', 'input_size': 128}, 14_499_401),
    ({'type': 'VGGStyleDiscriminator', 'input_size': 256}, 21_055_049),
    ({'type': 'UNetDiscriminatorSN'}, 4_376_897),
    # SRGAN paper, 96x96 input: convs 4,683,520 + BN 3,712 + dense 18,874,368 + 1,024 + 1,025.
    ({'type': 'SRGANDiscriminator', 'input_size': 96}, 23_563_649),
])
def test_discriminator_parameter_counts(opt, expected):
    assert count(build_network({**opt, 'num_feat': 64})) == expected


def test_discriminator_key_names():
    vgg_keys = set(build_network({'type': 'VGGStyleDiscriminator', 'num_feat': 4}).state_dict())
    convs = ['conv0_0', 'conv0_1'] + [f'conv{s}_{h}' for s in range(1, 5) for h in (0, 1)]
    bns = ['bn0_1'] + [f'bn{s}_{h}' for s in range(1, 5) for h in (0, 1)]
    expected = ({f'{c}.weight' for c in convs} | {'conv0_0.bias'}
                | {f'{b}.{k}' for b in bns for k in ('weight', 'bias', 'running_mean', 'running_var',
                                                    'num_batches_tracked')}
                | {f'linear{i}.{k}' for i in (1, 2) for k in ('weight', 'bias')})
    assert vgg_keys == expected
    unet_keys = set(build_network({'type': 'UNetDiscriminatorSN', 'num_feat': 4}).state_dict())
    sn = {f'conv{i}.{k}' for i in range(1, 9) for k in ('weight_orig', 'weight_u', 'weight_v')}
    assert unet_keys == sn | {f'conv{i}.{k}' for i in (0, 9) for k in ('weight', 'bias')}
    srgan_keys = set(build_network({'type': 'SRGANDiscriminator', 'num_feat': 4, 'input_size': 32}).state_dict())
    assert {'features.0.weight', 'features.0.bias', 'features.2.weight', 'features.3.running_var',
            'features.20.weight', 'features.21.weight', 'classifier.0.weight', 'classifier.2.bias'} <= srgan_keys
    assert 'features.2.bias' not in srgan_keys  # no bias before BatchNorm


@pytest.mark.parametrize('opt, size, out_shape', [
    ({'type': 'VGGStyleDiscriminator', 'input_size': 128}, 128, (2, 1)),
    ({'type': 'VGGStyleDiscriminator', 'input_size': 256}, 256, (2, 1)),
    ({'type': 'SRGANDiscriminator', 'input_size': 48}, 48, (2, 1)),
    ({'type': 'UNetDiscriminatorSN'}, 40, (2, 1, 40, 40)),
])
def test_discriminator_outputs_and_size_checks(opt, size, out_shape):
    net = build_network({**opt, 'num_feat': 4})
    assert net(torch.rand(2, 3, size, size)).shape == out_shape
    with pytest.raises(ValueError, match='gt_size'):
        net(torch.rand(2, 3, size + 4, size + 4))
