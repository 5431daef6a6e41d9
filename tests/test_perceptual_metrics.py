"""Perceptual metrics and losses: LPIPS and DISTS against their reference packages with shared weights, the FID
Inception against pytorch-fid, the Fréchet distance against scipy, set-level metrics and the merging of shards,
MS-SSIM against a direct transcription of its definition, weight files (found, refused, missing), the losses in
training (DSGAN with LPIPS), validation with LPIPS and the FID statistics script."""
import re
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import lpips
import numpy as np
import pytest
import scipy.linalg
import scipy.signal
import torch
import torchvision

from basicsr.archs.inception_arch import FID_WEIGHTS_FILE, FID_WEIGHTS_URL, FIDInceptionV3
from basicsr.archs.lpips_arch import LPIPSNet, find_lpips_heads
from basicsr.losses import build_loss
from basicsr.losses.lpips_loss import DISTSLoss, LPIPSLoss
from basicsr.config.preflight import check_plugin_files
from basicsr.metrics import (build_dataset_metrics, calculate_dists, calculate_dists_pt, calculate_lpips,
                             calculate_lpips_pt, calculate_metric, calculate_ms_ssim, calculate_ms_ssim_pt,
                             gather_dataset_metrics, split_metrics)
from basicsr.metrics import fid as fid_module
from basicsr.metrics.fid import (FrechetInceptionDistance, feature_statistics, features_frechet_distance,
                                 frechet_distance, load_reference_stats, save_reference_stats)
from basicsr.metrics.metric_util import to_y_channel
from basicsr.train import train_pipeline
from basicsr.utils.errors import CheckpointError, DataError, OptionError
from basicsr.utils.img_util import img2tensor, imwrite
from basicsr.utils.options import parse_options

from conftest import ROOT, synthetic_image, tiny_train_options, write_yaml
from test_dsgan import dsgan_argv

sys.path.insert(0, str(ROOT / 'scripts'))
import fid_reference_stats  # noqa: E402

LPIPS_HEADS = Path(lpips.__file__).parent / 'weights' / 'v0.1'


def image_pair(size: tuple[int, int] = (64, 72), seed: int = 0, noise: float = 20.) -> tuple[np.ndarray, np.ndarray]:
    """A uint8 BGR image and a noisy copy."""
    img = synthetic_image(seed, *size)
    noisy = img.astype(np.float64) + np.random.default_rng(seed).normal(0, noise, img.shape)
    return img, np.clip(noisy, 0, 255).round().astype(np.uint8)


def to_tensor(img: np.ndarray) -> torch.Tensor:
    return img2tensor(img.astype(np.float32) / 255.).unsqueeze(0)


def torchvision_file(state: dict[str, torch.Tensor], path: Path, prefix_map) -> Path:
    """Save ``state`` re-keyed to torchvision's ``features.<index>.*`` layout."""
    torch.save({prefix_map(key): value for key, value in state.items()}, path)
    return path


def vgg16_features_only(**_) -> SimpleNamespace:
    """torchvision's VGG16 ``features`` (randomly initialised) without the classifier, which the metrics never run
    and whose initialisation dominates the build time."""
    return SimpleNamespace(features=torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs['D']))


@pytest.fixture
def empty_caches(tmp_path, monkeypatch) -> Path:
    """The torch hub dir and the home folder under ``tmp_path`` (empty)."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    return tmp_path


# ----------------------------------------------------------------------------------------------- LPIPS
@pytest.mark.parametrize('net', ['alex', 'vgg'])
def test_lpips_equals_the_lpips_package_with_the_same_weights(tmp_path, monkeypatch, net):
    torch.manual_seed(0)
    # torchvision's VGG16 features without its 100M-parameter classifier, which LPIPS does not use (speed only)
    monkeypatch.setattr(lpips.pretrained_networks.tv, 'vgg16', vgg16_features_only)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # torchvision's deprecated `pretrained` argument, inside lpips
        reference = lpips.LPIPS(net=net, pnet_rand=True, verbose=False)  # random trunk, the package's heads
    # the package's slices keep torchvision's module indices: slice2.3.weight is features.3.weight
    trunk = torchvision_file(reference.net.state_dict(), tmp_path / 'trunk.pth',
                             lambda key: 'features.' + key.split('.', 1)[1])
    img, noisy = image_pair()
    x, y = to_tensor(img), to_tensor(noisy)
    expected = reference(torch.cat([x, x.flip(-1)]), torch.cat([y, x]), normalize=True).view(-1).detach()
    options = dict(net=net, backbone_path=str(trunk), heads_path=str(LPIPS_HEADS / f'{net}.pth'))
    ours = calculate_lpips_pt(torch.cat([x, x.flip(-1)]), torch.cat([y, x]), **options)
    assert ours.dtype == torch.float64 and ours.shape == (2,)
    torch.testing.assert_close(ours.float(), expected, rtol=0, atol=1e-6)
    assert expected[0] > 0.01 and expected[1] > 0.01  # far from the trivial value
    assert calculate_lpips(img, noisy, **options) == pytest.approx(ours[0].item(), abs=1e-6)  # numpy entry
    assert calculate_lpips_pt(x, x, **options).item() == 0
    # through the validation dispatch: quantised tensors, the _pt twin
    assert calculate_metric(x, y, {'type': 'calculate_lpips', 'better': 'lower', **options}) == pytest.approx(
        ours[0].item(), abs=1e-6)


def test_lpips_heads_are_found_in_the_installed_packages(empty_caches):
    assert find_lpips_heads('alex', None) == LPIPS_HEADS / 'alex.pth'
    cached = empty_caches / 'home' / '.cache' / 'basicsr' / 'lpips_v0.1_vgg.pth'
    cached.parent.mkdir(parents=True)
    cached.write_bytes((LPIPS_HEADS / 'vgg.pth').read_bytes())
    assert find_lpips_heads('vgg', None) == cached  # basicsr's caches come before the packages


def test_lpips_refuses_heads_that_are_not_lpips_heads(tmp_path):
    torch.save({'lin0.model.1.weight': torch.ones(1, 32, 1, 1)}, tmp_path / 'wrong.pth')
    with pytest.raises(CheckpointError, match=r'wrong\.pth: not LPIPS heads of alex: lin0\.model\.1\.weight should '
                                              r'be a \(1, 64, 1, 1\) tensor, it is of shape \(1, 32, 1, 1\)'):
        LPIPSNet('alex', pretrained=False, heads_path=str(tmp_path / 'wrong.pth'))
    heads = torch.load(LPIPS_HEADS / 'alex.pth', map_location='cpu', weights_only=True)
    heads['lin2.model.1.weight'] = -heads['lin2.model.1.weight']
    torch.save(heads, tmp_path / 'negative.pth')
    with pytest.raises(CheckpointError, match='negative weights'):
        LPIPSNet('alex', pretrained=False, heads_path=str(tmp_path / 'negative.pth'))


def test_lpips_loss_gradients_flow_to_the_output_only(caplog):
    loss_fn = build_loss({'type': 'LPIPSLoss', 'loss_weight': 0.5, 'net': 'alex', 'pretrained': False},
                         'train.perceptual_opt')
    assert 'random trunk weights (pretrained: false)' in caplog.text and 'not comparable' in caplog.text
    img, noisy = image_pair((40, 48))
    x = to_tensor(noisy).requires_grad_()
    loss_fn.train()
    assert not loss_fn.network.training  # frozen measure, no dropout
    percep, style = loss_fn(x, to_tensor(img))
    assert style is None and percep.ndim == 0 and percep.item() > 0
    percep.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in loss_fn.parameters())
    unweighted = loss_fn.network(to_tensor(noisy), to_tensor(img))
    assert percep.item() == pytest.approx(0.5 * unweighted.item(), rel=1e-6)
    assert loss_fn(to_tensor(img), to_tensor(img))[0].item() == 0


def test_lpips_random_trunk_is_the_same_in_every_process_and_leaves_the_rng_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first = LPIPSNet('alex', pretrained=False).state_dict()
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(7)
    second = LPIPSNet('alex', pretrained=False).state_dict()
    assert all(torch.equal(value, second[key]) for key, value in first.items())
    assert sorted(k for k in first if k.startswith('lin')) == [f'lin{k}.model.1.weight' for k in range(5)]


# ----------------------------------------------------------------------------------------------- DISTS
def test_dists_equals_torchmetrics_with_the_same_weights(tmp_path, monkeypatch):
    import torchmetrics.functional.image.dists as tm_dists
    monkeypatch.setattr(tm_dists, 'vgg16', vgg16_features_only)
    torch.manual_seed(0)
    reference = tm_dists.DISTSNetwork().eval()  # a random VGG16, the package's alpha/beta
    state = {key: value for stage in ('stage1', 'stage2', 'stage3', 'stage4', 'stage5')
             for key, value in getattr(reference, stage).state_dict().items() if not key.endswith('filter')}
    trunk = torchvision_file(state, tmp_path / 'vgg16.pth', lambda key: f'features.{key}')
    img, noisy = image_pair((48, 56), seed=3)
    x, y = to_tensor(img), to_tensor(noisy)
    expected = reference(x, y).view(-1)
    alpha_beta = tm_dists._PATH_WEIGHT_DISTS
    ours = calculate_dists_pt(x, y, backbone_path=str(trunk), alpha_beta_path=str(alpha_beta))
    torch.testing.assert_close(ours.float(), expected, rtol=0, atol=1e-6)
    assert expected.item() > 0.01
    assert calculate_dists(img, noisy, backbone_path=str(trunk), alpha_beta_path=str(alpha_beta)) == pytest.approx(
        ours.item(), abs=1e-6)
    assert abs(calculate_dists_pt(x, x, backbone_path=str(trunk), alpha_beta_path=str(alpha_beta)).item()) < 1e-6


def test_dists_loss_gradients_flow():
    loss_fn = DISTSLoss(loss_weight=2.0, pretrained=False)
    img, noisy = image_pair((24, 20), seed=4)  # L2 pooling works at any size
    x = to_tensor(noisy).requires_grad_()
    percep, style = loss_fn(x, to_tensor(img))
    percep.backward()
    assert style is None and percep.item() > 0
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert percep.item() == pytest.approx(2 * loss_fn.network(to_tensor(noisy), to_tensor(img)).item(), rel=1e-6)


# ----------------------------------------------------------------------------------------------- FID
def scipy_frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """pytorch-fid's formula, with scipy's general matrix square root."""
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean.real))


def random_features(rng: np.random.Generator, n: int, dim: int, shift: float = 0.) -> np.ndarray:
    mixing = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    return rng.normal(size=(n, dim)) @ mixing + shift + rng.normal(size=dim) * 0.1


def test_frechet_distance_equals_the_scipy_reference():
    rng = np.random.default_rng(0)
    a, b = random_features(rng, 300, 48), random_features(rng, 250, 48, shift=0.3)
    (mu1, sigma1), (mu2, sigma2) = feature_statistics(a), feature_statistics(b)
    np.testing.assert_allclose(sigma1, np.cov(a, rowvar=False), rtol=1e-12, atol=1e-14)
    expected = scipy_frechet_distance(mu1, sigma1, mu2, sigma2)
    assert expected > 1
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-6)
    assert fid_module.calculate_fid(mu1, sigma1, mu2, sigma2) == frechet_distance(mu1, sigma1, mu2, sigma2)  # BasicSR's
    assert features_frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    assert features_frechet_distance(a, (mu2, sigma2)) == pytest.approx(expected, rel=1e-6)
    # fewer images than dimensions (singular covariances, as on validation sets), where the features' small
    # matrices replace the D x D ones; reference: the eigenvalues of sigma1 sigma2
    a, b = random_features(rng, 20, 64), random_features(rng, 30, 64, shift=0.2)
    (mu1, sigma1), (mu2, sigma2) = feature_statistics(a), feature_statistics(b)
    roots = np.sqrt(np.clip(scipy.linalg.eigvals(sigma1 @ sigma2).real, 0, None)).sum()
    diff = mu1 - mu2
    expected = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * roots
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-6)
    assert features_frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    assert features_frechet_distance(a, (mu2, sigma2)) == pytest.approx(expected, rel=1e-6)


def test_identical_sets_are_at_distance_zero_in_any_order():
    features = random_features(np.random.default_rng(1), 100, 32)
    mu, sigma = feature_statistics(features)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-9 * np.trace(sigma)
    shuffled = feature_statistics(features[np.random.default_rng(2).permutation(100)])
    assert np.array_equal(shuffled[0], mu) and np.array_equal(shuffled[1], sigma)  # canonical order: bit-equal


@pytest.fixture
def cheap_features(monkeypatch):
    """Inception replaced by a fixed random projection of the image, for what does not need Inception (the merging
    logic, the statistics files); the network itself is tested against pytorch-fid."""
    projection = torch.randn(3 * 8 * 8, 2048, generator=torch.Generator().manual_seed(0))

    def features(images, pretrained=True, inception_weights_path=None):
        pooled = torch.nn.functional.adaptive_avg_pool2d(images, 8).flatten(1)
        return (pooled @ projection).numpy()

    monkeypatch.setattr(fid_module, 'inception_features', features)
    monkeypatch.setattr(fid_reference_stats, 'inception_features', features)


def test_merged_shards_give_exactly_the_single_process_value(cheap_features):
    pairs = [tuple(map(to_tensor, image_pair((20, 24), seed=seed))) for seed in range(9)]
    single, shards = FrechetInceptionDistance(pretrained=False), [FrechetInceptionDistance(pretrained=False)
                                                                  for _ in range(2)]
    for index, (gt, sr) in enumerate(pairs):
        single.update(sr, gt)
        shards[index % 2].update(sr, gt)  # the evaluation sampler's interleaved shares
    value = single.compute()
    assert value > 0
    merged = single.merge_states([shard.state() for shard in shards])
    assert single.compute(merged) == value
    assert FrechetInceptionDistance.merge_states([shards[1].state(), shards[0].state()])['sr'].shape == (9, 2048)
    assert gather_dataset_metrics({'fid': single}) == {'fid': value}  # one process: its own state
    empty = FrechetInceptionDistance(pretrained=False).state()  # a rank with no images left
    assert single.compute(single.merge_states([single.state(), empty])) == value


def test_reference_statistics_file_and_the_gt_set_give_the_same_fid(tmp_path, cheap_features):
    pairs = [tuple(map(to_tensor, image_pair((20, 24), seed=seed))) for seed in range(5)]
    with_gt = FrechetInceptionDistance(pretrained=False)
    for gt, sr in pairs:
        with_gt.update(sr, gt)
    mu, sigma = feature_statistics(with_gt.state()['gt'])
    save_reference_stats(tmp_path / 'ref.npz', mu, sigma, 5)
    with_file = FrechetInceptionDistance(reference_stats=str(tmp_path / 'ref.npz'), pretrained=False)
    for _, sr in pairs:
        with_file.update(sr, None)
    assert with_file.state()['gt'].shape == (0, 2048)  # the GT images are not run through Inception
    # two routes to one value: the statistics' matrix square root, and the SVD of the features (with the GT set);
    # they agree to the rounding of a rank-5 2048x2048 problem, which moves with the numpy/scipy build (3e-7 seen)
    assert with_file.compute() == pytest.approx(with_gt.compute(), rel=1e-6)
    one = FrechetInceptionDistance(pretrained=False)
    one.update(*pairs[0][::-1])
    assert np.isnan(one.compute())  # a covariance needs two images
    np.savez(tmp_path / 'bad.npz', mu=mu[:10], sigma=sigma)
    with pytest.raises(DataError, match=r'bad\.npz: FID reference statistics: mu has shape \(10,\), '
                                        r'expected \(2048,\)'):
        load_reference_stats(tmp_path / 'bad.npz')
    with pytest.raises(DataError, match='without reference_stats FID compares the SR images with the GT'):
        FrechetInceptionDistance(pretrained=False).update(pairs[0][1], None)


def test_set_level_metrics_are_told_apart_built_and_refused_per_image():
    metrics_opt = {'psnr': {'type': 'calculate_psnr', 'crop_border': 0, 'better': 'higher'},
                   'fid': {'type': 'calculate_fid', 'pretrained': False, 'better': 'lower'},
                   'lpips': {'type': 'calculate_lpips', 'pretrained': False, 'better': 'lower'}}
    per_image, per_set = split_metrics(metrics_opt)
    assert list(per_image) == ['psnr', 'lpips'] and list(per_set) == ['fid']
    built = build_dataset_metrics(metrics_opt)
    assert list(built) == ['fid'] and isinstance(built['fid'], FrechetInceptionDistance)
    with pytest.raises(OptionError, match='val.metrics.fid.resolution: unknown argument'):
        build_dataset_metrics({'fid': {'type': 'calculate_fid', 'resolution': 2}})
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(OptionError, match='calculate_fid is computed over a whole set'):
        calculate_metric(x, x, metrics_opt['fid'])


def test_fid_inception_is_pytorch_fids_network(tmp_path, monkeypatch):
    import pytorch_fid.inception as pytorch_fid
    ours = FIDInceptionV3(pretrained=False)
    generator = torch.Generator().manual_seed(1)
    for module in ours.modules():  # batch-norm statistics that are not the identity, so the file matters
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1, generator=generator)
            module.running_var.uniform_(0.5, 2, generator=generator)
    state = {k: v for k, v in ours.state_dict().items() if not k.endswith('num_batches_tracked')}
    state.update({'fc.weight': torch.zeros(1008, 2048), 'fc.bias': torch.zeros(1008)})
    layout = torchvision.models.inception_v3(num_classes=1008, aux_logits=False, init_weights=False).state_dict()
    assert set(state) == {k for k in layout if not k.endswith('num_batches_tracked')}  # the file's key names
    monkeypatch.setattr(pytorch_fid, 'load_state_dict_from_url', lambda *args, **kwargs: state)
    reference = pytorch_fid.InceptionV3([3]).eval()
    torch.save(state, tmp_path / FID_WEIGHTS_FILE)
    image = to_tensor(synthetic_image(5, 75, 80))
    with torch.no_grad():
        expected = reference(image)[0].view(1, -1)
    features = fid_module.inception_features(image, True, str(tmp_path / FID_WEIGHTS_FILE))  # loads the file
    assert features.shape == (1, 2048) and features.dtype == np.float32
    torch.testing.assert_close(torch.from_numpy(features), expected, rtol=1e-5, atol=1e-5)
    assert expected.abs().mean() > 0.01
    state['fc.weight'] = torch.zeros(1000, 2048)  # torchvision's ImageNet Inception: another network
    torch.save(state, tmp_path / 'imagenet.pth')
    with pytest.raises(CheckpointError, match='expected a 1008-class fc.weight'):
        FIDInceptionV3(inception_weights_path=str(tmp_path / 'imagenet.pth'))


def test_fid_statistics_script_and_the_metric_agree(tmp_path, capsys, cheap_features):
    images = [synthetic_image(seed, 40, 48) for seed in range(2)]
    for index, img in enumerate(images):
        imwrite(img, tmp_path / 'ref' / f'{index}.png')
    output = tmp_path / 'stats' / 'ref.npz'
    argv = ['--input', str(tmp_path / 'ref'), '--output', str(output), '--random-weights', '--device', 'cpu']
    assert fid_reference_stats.main(argv) == 0
    assert 'random Inception weights' in capsys.readouterr().out
    with np.load(output) as data:
        assert data['mu'].shape == (2048,) and data['sigma'].shape == (2048, 2048) and int(data['count']) == 2
    assert sorted(p.name for p in output.parent.iterdir()) == ['ref.npz']  # written through a temporary file
    with pytest.raises(SystemExit, match='exists; pass --overwrite'):
        fid_reference_stats.main(argv)
    trace = np.trace(load_reference_stats(output)[1])
    for flip, tolerance in ((False, 1e-6), (True, None)):
        metric = FrechetInceptionDistance(reference_stats=str(output), pretrained=False)
        batch = torch.cat([to_tensor(img) for img in images])
        metric.update(batch.flip(-1) if flip else batch, None)
        if tolerance:  # the same images, read as the metric sees them
            assert abs(metric.compute()) < tolerance * trace
        else:
            assert metric.compute() > 0.01 * trace


# ----------------------------------------------------------------------------------------------- MS-SSIM
def ms_ssim_definition(x: np.ndarray, y: np.ndarray) -> float:
    """Wang et al. 2003, transcribed directly (one channel, float64): 11x11 Gaussian (sigma 1.5) local statistics
    over the valid region, five scales of 2x2 block means, cs at scales 1-4, the full SSIM at scale 5."""
    g = np.exp(-(np.arange(11) - 5)**2 / (2 * 1.5**2))
    window = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * 255)**2, (0.03 * 255)**2
    weights = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
    result = 1.0
    for scale in range(5):
        def local(a):
            return scipy.signal.correlate2d(a, window, mode='valid')
        mx, my = local(x), local(y)
        vx, vy, cxy = local(x * x) - mx**2, local(y * y) - my**2, local(x * y) - mx * my
        cs = (2 * cxy + c2) / (vx + vy + c2)
        if scale < 4:
            result *= max(cs.mean(), 0)**weights[scale]
            h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
            x = (x[0:h:2, 0:w:2] + x[1:h:2, 0:w:2] + x[0:h:2, 1:w:2] + x[1:h:2, 1:w:2]) / 4
            y = (y[0:h:2, 0:w:2] + y[1:h:2, 0:w:2] + y[0:h:2, 1:w:2] + y[1:h:2, 1:w:2]) / 4
        else:
            result *= max((((2 * mx * my + c1) / (mx**2 + my**2 + c1)) * cs).mean(), 0)**weights[scale]
    return result


@pytest.mark.parametrize('test_y_channel', [False, True])
def test_ms_ssim_equals_its_definition_and_numpy_equals_torch(test_y_channel):
    img, noisy = image_pair((181, 190), seed=6, noise=15.)
    crop = 2
    a, b = (im[crop:-crop, crop:-crop].astype(np.float64) for im in (img, noisy))
    if test_y_channel:
        a, b = to_y_channel(a).astype(np.float64), to_y_channel(b).astype(np.float64)
    expected = np.mean([ms_ssim_definition(a[..., c], b[..., c]) for c in range(a.shape[2])])
    value = calculate_ms_ssim(img, noisy, crop, test_y_channel=test_y_channel)
    assert value == pytest.approx(expected, abs=1e-6) and 0.3 < value < 0.99
    torch_value = calculate_ms_ssim_pt(to_tensor(img), to_tensor(noisy), crop, test_y_channel=test_y_channel)
    assert torch_value.dtype == torch.float64 and torch_value.item() == pytest.approx(value, abs=1e-6)
    assert calculate_ms_ssim(img, img, crop, test_y_channel=test_y_channel) == pytest.approx(1.0, abs=1e-12)


def test_ms_ssim_of_too_small_images_is_nan_with_a_warning():
    img, noisy = image_pair((180, 200))
    with pytest.warns(RuntimeWarning, match='at least 176x176 after cropping'):
        assert np.isnan(calculate_ms_ssim(img, noisy, 4))
    with pytest.warns(RuntimeWarning, match='at least 176x176'):
        assert torch.isnan(calculate_ms_ssim_pt(to_tensor(img), to_tensor(noisy), 4)).all()


# ----------------------------------------------------------------------------------------------- weight files
def test_missing_weight_files_are_one_error_naming_the_places_and_the_option(empty_caches):
    hub = empty_caches / 'torch' / 'hub' / 'checkpoints'
    with pytest.raises(OptionError) as info:
        check_plugin_files([('val.metrics.lpips', {'type': 'calculate_lpips', 'net': 'vgg', 'better': 'lower'},
                             'metric')])
    message = str(info.value)
    assert message.startswith('val.metrics.lpips: ImageNet weights of vgg16 (LPIPS-vgg) not found. Looked in: '
                              f'{hub / "vgg16-397923af.pth"} (torch hub cache). Nothing is downloaded')
    assert 'backbone_path' in message and 'pretrained: false' in message
    with pytest.raises(OptionError, match=re.escape(f'Looked in: {empty_caches / "heads.pth"} (heads_path)')):
        check_plugin_files([('val.metrics.lpips', {'type': 'calculate_lpips', 'pretrained': False,
                                      'heads_path': str(empty_caches / 'heads.pth')}, 'metric')])
    with pytest.raises(OptionError) as info:
        check_plugin_files([('val.metrics.fid', {'type': 'calculate_fid', 'better': 'lower'}, 'metric')])
    assert f'{hub / FID_WEIGHTS_FILE} (torch hub cache)' in str(info.value) and FID_WEIGHTS_URL in str(info.value)
    assert 'inception_weights_path' in str(info.value)
    with pytest.raises(OptionError, match=r'val\.metrics\.fid: .*nowhere\.npz: FID reference statistics file not'):
        check_plugin_files([('val.metrics.fid', {'type': 'calculate_fid', 'pretrained': False,
                                    'reference_stats': str(empty_caches / 'nowhere.npz')}, 'metric')])
    with pytest.raises(OptionError, match=r'val\.metrics\.dists: ImageNet weights of vgg16 \(DISTS\) not found'):
        check_plugin_files([('val.metrics.dists', {'type': 'calculate_dists'}, 'metric')])
    check_plugin_files([('val.metrics.lpips', {'type': 'calculate_lpips', 'pretrained': False}, 'metric'),
                        ('val.metrics.fid', {'type': 'calculate_fid', 'pretrained': False}, 'metric')])  # none read
    with pytest.raises(CheckpointError, match=r'ImageNet weights of alexnet \(LPIPS-alex\) not found'):
        LPIPSLoss()
    with pytest.raises(CheckpointError, match='backbone_path'):
        LPIPSLoss.check_files(net='alex', loss_weight=0.01)  # the check training runs before it starts
    with pytest.raises(CheckpointError, match='DISTS'):
        DISTSLoss()
    with pytest.raises(OptionError, match='backbone_path is set but pretrained is false'):
        LPIPSLoss(pretrained=False, backbone_path='x.pth')


# ----------------------------------------------------------------------------------------------- training
def test_dsgan_trains_with_the_lpips_perceptual_loss(tmp_path):
    source, target = tmp_path / 'source', tmp_path / 'target'
    for index in range(2):  # 128-pixel source patches give 32x32 X_b, enough for AlexNet
        imwrite(synthetic_image(300 + index, 132, 136), source / f'src{index}.png')
        imwrite(synthetic_image(400 + index, 36, 40), target / f'tgt{index}.png')
    argv = dsgan_argv(tmp_path, 2) + [
        f'datasets:train:dataroot_source={source}', f'datasets:train:dataroot_target={target}',
        'datasets:train:gt_size=128',
        'train:perceptual_opt={type: LPIPSLoss, net: alex, pretrained: false, loss_weight: 0.01}']
    train_pipeline(argv=argv)
    experiment = next((tmp_path / 'experiments').iterdir())
    log = next(experiment.glob('train_*.log')).read_text()
    assert 'LPIPS-alex: random trunk weights (pretrained: false)' in log
    percep = [float(v) for v in re.findall(r'l_g_percep: ([-\d.e+]+)', log)]
    # weight 0.01 times LPIPS with uniform heads: at most 4 per layer (unit vectors), 5 layers
    assert len(percep) == 2 and all(0 < v <= 0.01 * 20 for v in percep)
    assert (experiment / 'models' / 'net_g_2.pth').is_file()


def test_validation_reports_lpips_on_a_random_trunk(tmp_path):
    opt = tiny_train_options(tmp_path)
    opt['train']['total_iter'] = 2
    opt['val'].update(val_freq=2, save_img=False, metrics={
        'psnr': {'type': 'calculate_psnr', 'crop_border': 4, 'test_y_channel': True},
        'lpips_random_alex': {'type': 'calculate_lpips', 'net': 'alex', 'pretrained': False, 'better': 'lower'}})
    train_pipeline(root_path=str(tmp_path), argv=['-opt', str(write_yaml(tmp_path / 'opt.yml', opt))])
    log = next((tmp_path / 'experiments' / 'tiny').glob('train_*.log')).read_text()
    assert 'not comparable with published LPIPS' in log
    value = float(re.search(r'# lpips_random_alex: ([\d.]+)', log).group(1))
    assert 0 < value < 1


def test_the_gan_demo_validates_with_a_labelled_random_lpips():
    opt = parse_options(ROOT / 'options' / 'demo' / 'train_esrgan_x4_demo.yml', is_train=True, root_path=str(ROOT))
    lpips_opts = [(name, o) for name, o in opt['val']['metrics'].items() if o['type'] == 'calculate_lpips']
    assert len(lpips_opts) == 1
    name, lpips_opt = lpips_opts[0]
    assert 'random' in name and lpips_opt['pretrained'] is False and lpips_opt['better'] == 'lower'
    check_plugin_files([(f'val.metrics.{k}', v, 'metric') for k, v in opt['val']['metrics'].items()])
