"""NIQE: the fits against known distributions and a direct re-computation, the ordering of clean / blurred / noisy
images under a model fitted on clean ones, finding (or not) the pristine model, and NIQE as a validation metric."""
import math
import re
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from basicsr.metrics import calculate_metric, niqe
from basicsr.metrics.niqe import BLOCK_SIZE, NIQEModel, calculate_niqe, estimate_aggd_param, fit_niqe_model
from basicsr.train import train_pipeline
from basicsr.utils.checkpoint import load_checkpoint
from basicsr.utils.errors import DataError, OptionError
from basicsr.utils.img_util import img2tensor, imwrite

from conftest import ROOT, make_pairs, synthetic_image, tiny_train_options, write_yaml

sys.path.insert(0, str(ROOT / 'scripts'))
import fit_niqe_model as fit_script  # noqa: E402


def dead_leaves(seed: int, height: int = 192, width: int = 288) -> np.ndarray:
    """A uint8 BGR 'dead leaves' image: overlapping discs of random colours, many small and few large, whose edge
    statistics resemble natural images' (clean: no blur, hardly any noise)."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width, 3), rng.uniform(0, 255, 3))
    yy, xx = np.mgrid[0:height, 0:width]
    for _ in range(400):
        radius = 6 / math.sqrt(rng.uniform(0.01, 1))
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        img[(yy - cy)**2 + (xx - cx)**2 < radius**2] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 2, img.shape)
    return np.clip(img, 0, 255).round().astype(np.uint8)


@pytest.fixture(scope='module')
def model_file(tmp_path_factory) -> Path:
    """A pristine model fitted on clean dead-leaves images, through the script users run."""
    folder = tmp_path_factory.mktemp('pristine')
    for seed in range(6):
        imwrite(dead_leaves(seed), folder / f'{seed}.png')
    output = folder / 'model' / 'niqe_pris_params.npz'
    assert fit_script.main(['--input', str(folder), '--output', str(output), '--convert-to', 'y']) == 0
    return output


def aggd_samples(rng: np.random.Generator, shape: float, left: float, right: float, n: int) -> np.ndarray:
    """Samples of an asymmetric generalised Gaussian: a side with probability proportional to its scale, then the
    magnitude |g|^(1/shape) * scale with g ~ Gamma(1/shape) (so the density falls as exp(-(|x|/scale)^shape))."""
    magnitude = rng.gamma(1 / shape, 1.0, n)**(1 / shape)
    negative = rng.uniform(size=n) < left / (left + right)
    return np.where(negative, -left * magnitude, right * magnitude)


@pytest.mark.parametrize('shape, left, right', [(2.0, 1.0, 1.0), (1.0, 0.5, 2.0), (0.6, 3.0, 1.5)])
def test_aggd_fit_recovers_the_parameters_of_its_distribution(shape, left, right):
    samples = aggd_samples(np.random.default_rng(0), shape, left, right, 400_000)
    fitted_shape, fitted_left, fitted_right = estimate_aggd_param(samples)
    assert fitted_shape == pytest.approx(shape, rel=0.03)
    assert (fitted_left, fitted_right) == pytest.approx((left, right), rel=0.03)
    # the mean feature of the neighbour products is the distribution's mean
    mean = (fitted_right - fitted_left) * math.gamma(2 / fitted_shape) / math.gamma(1 / fitted_shape)
    assert mean == pytest.approx(samples.mean(), abs=0.02 * (left + right))


def test_aggd_fit_without_both_signs_is_nan():
    assert all(math.isnan(v) for v in estimate_aggd_param(np.abs(np.random.default_rng(0).normal(size=100))))


def _direct_mscn(img: np.ndarray, sigma: float = 7 / 6, radius: int = 3) -> np.ndarray:
    """MSCN coefficients written out: the window from its formula, edge padding, a sum over the 49 offsets."""
    offsets = range(-radius, radius + 1)
    weights = {(dy, dx): math.exp(-(dy * dy + dx * dx) / (2 * sigma * sigma)) for dy in offsets for dx in offsets}
    total = sum(weights.values())
    padded = np.pad(img, radius, mode='edge')
    h, w = img.shape
    mu = np.zeros_like(img)
    mu_sq = np.zeros_like(img)
    for (dy, dx), weight in weights.items():
        shifted = padded[radius + dy:radius + dy + h, radius + dx:radius + dx + w]
        mu += weight / total * shifted
        mu_sq += weight / total * shifted**2
    return (img - mu) / (np.sqrt(np.abs(mu_sq - mu * mu)) + 1)


def _direct_ggd(values: np.ndarray) -> tuple[float, float]:
    """Shape (by scanning the grid for the closest moment ratio) and mean scale, written out with math.gamma."""
    values = values.ravel().tolist()
    neg = [v * v for v in values if v < 0]
    pos = [v * v for v in values if v > 0]
    left_std, right_std = math.sqrt(sum(neg) / len(neg)), math.sqrt(sum(pos) / len(pos))
    ratio = left_std / right_std
    r_hat = (sum(abs(v) for v in values) / len(values))**2 / (sum(v * v for v in values) / len(values))
    target = r_hat * (ratio**3 + 1) * (ratio + 1) / (ratio**2 + 1)**2
    best = min((k for k in range(9801)), key=lambda k: (_ratio(0.2 + k / 1000) - target)**2)
    shape = 0.2 + best / 1000
    factor = math.sqrt(math.gamma(1 / shape) / math.gamma(3 / shape))
    return shape, (left_std + right_std) * factor / 2


def _ratio(shape: float) -> float:
    return math.gamma(2 / shape)**2 / (math.gamma(1 / shape) * math.gamma(3 / shape))


def test_block_features_match_a_direct_recomputation():
    img = niqe.prepare_image(synthetic_image(3, 2 * BLOCK_SIZE + 10, BLOCK_SIZE + 7), crop_border=0)
    features, sharpness = niqe.image_features(img, niqe.gaussian_window())
    assert features.shape == (2, 36) and sharpness.shape == (2, )
    coefficients = _direct_mscn(img[:2 * BLOCK_SIZE, :BLOCK_SIZE])
    for block in range(2):  # blocks go down the first column
        values = coefficients[block * BLOCK_SIZE:(block + 1) * BLOCK_SIZE]
        shape, scale = _direct_ggd(values)
        assert features[block, 0] == pytest.approx(shape, abs=1e-9)
        assert features[block, 1] == pytest.approx(scale, rel=1e-9)
        horizontal = values * np.concatenate([values[:, -1:], values[:, :-1]], axis=1)  # left neighbour, wrapped
        std_to_scale = math.sqrt(math.gamma(1 / features[block, 2]) / math.gamma(3 / features[block, 2]))
        for side, index in ((horizontal[horizontal < 0], 4), (horizontal[horizontal > 0], 5)):
            assert features[block, index] == pytest.approx(math.sqrt(np.mean(side**2)) * std_to_scale, rel=1e-9)
    assert 0.2 <= features[:, 18].min() and features[:, 18].max() <= 10  # the half-scale shapes are fitted too
    assert sharpness[0] != sharpness[1]


def test_niqe_ranks_clean_below_blurred_and_noisy(model_file):
    rng = np.random.default_rng(7)
    for seed in (100, 101):
        clean = dead_leaves(seed)
        blurred = cv2.GaussianBlur(clean, (0, 0), 2.5)
        noisy = np.clip(clean + rng.normal(0, 20, clean.shape), 0, 255).round().astype(np.uint8)
        scores = [calculate_niqe(img, crop_border=4, params_path=str(model_file)) for img in (clean, blurred, noisy)]
        assert scores[0] < scores[1] and scores[0] < scores[2], scores
        assert scores[0] < 0.5 * min(scores[1:])


def test_niqe_inputs_and_degenerate_images(model_file):
    img = dead_leaves(100)
    score = calculate_niqe(img, 4, params_path=str(model_file))
    assert calculate_niqe(img.transpose(2, 0, 1), 4, input_order='CHW', params_path=str(model_file)) == score
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    assert calculate_niqe(grey, 4, input_order='HW', params_path=str(model_file)) == pytest.approx(
        calculate_niqe(img, 4, convert_to='gray', params_path=str(model_file)), rel=0.05)
    flat = np.full((120, 120, 3), 128, np.uint8)
    assert math.isnan(calculate_niqe(flat, 4, params_path=str(model_file)))  # no texture: NIQE is undefined
    with pytest.raises(ValueError, match='at least that large, got 90x120'):
        calculate_niqe(img[:98, :128], 4, params_path=str(model_file))
    # through the validation path: [0, 1] RGB tensors, the GT passed and ignored
    tensor = img2tensor(img.astype(np.float32) / 255.)[None]
    value = calculate_metric(tensor, tensor.flip(-1), {'type': 'calculate_niqe', 'crop_border': 4,
                                                       'params_path': str(model_file), 'better': 'lower'})
    assert value == pytest.approx(score, rel=1e-12)


@pytest.fixture
def no_model_anywhere(tmp_path, monkeypatch) -> Path:
    """Default places under ``tmp_path`` (empty) and no $BASICSR_NIQE_PARAMS."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    monkeypatch.delenv(niqe.PARAMS_ENV, raising=False)
    return tmp_path


def test_a_missing_model_names_every_place_and_the_remedies(no_model_anywhere, monkeypatch):
    img = dead_leaves(100)
    with pytest.raises(DataError) as info:
        calculate_niqe(img, 4)
    message = str(info.value)
    assert f"{no_model_anywhere / 'torch' / 'hub' / 'basicsr' / 'niqe_pris_params.npz'} (torch hub folder)" in message
    assert f"{no_model_anywhere / 'home' / '.cache' / 'basicsr' / 'niqe_pris_params.npz'} (user cache)" in message
    for remedy in ('$BASICSR_NIQE_PARAMS', 'params_path', 'scripts/fit_niqe_model.py'):
        assert remedy in message
    missing = no_model_anywhere / 'nowhere.npz'
    monkeypatch.setenv(niqe.PARAMS_ENV, str(missing))
    with pytest.raises(DataError, match=re.escape(f'Looked in: {missing} ($BASICSR_NIQE_PARAMS).')):
        calculate_niqe(img, 4)
    with pytest.raises(DataError, match=re.escape(f'Looked in: {missing}x (params_path).')):
        calculate_niqe(img, 4, params_path=f'{missing}x')


def test_the_model_is_found_in_the_default_places(no_model_anywhere, model_file):
    model = niqe.load_niqe_model(str(model_file))
    cache = no_model_anywhere / 'home' / '.cache' / 'basicsr' / niqe.PARAMS_FILE
    hub = no_model_anywhere / 'torch' / 'hub' / 'basicsr' / niqe.PARAMS_FILE
    for path, factor in ((cache, 2), (hub, 3), (hub, 4)):  # the hub folder comes first; a replaced file is re-read
        NIQEModel(model.mu, model.cov * factor, model.window).save(path)
        assert niqe.load_niqe_model().cov == pytest.approx(model.cov * factor)
    img = dead_leaves(100)
    assert calculate_niqe(img, 4) != calculate_niqe(img, 4, params_path=str(model_file))


def test_unusable_model_files_are_refused_by_name(tmp_path, model_file):
    model = niqe.load_niqe_model(str(model_file))
    np.savez(tmp_path / 'keys.npz', mu_pris_param=model.mu, cov=model.cov)
    np.savez(tmp_path / 'objects.npz', mu_pris_param=np.array([{'a': 1}], dtype=object), cov_pris_param=model.cov,
             gaussian_window=model.window)
    np.savez(tmp_path / 'shape.npz', mu_pris_param=model.mu[:18], cov_pris_param=model.cov,
             gaussian_window=model.window)
    (tmp_path / 'text.npz').write_text('not numbers')
    for name, problem in [('keys', 'missing cov_pris_param, gaussian_window'), ('objects', 'not a readable .npz'),
                          ('shape', 'must hold 36 values'), ('text', 'not a readable .npz')]:
        with pytest.raises(DataError, match=re.escape(f"{tmp_path / f'{name}.npz'}: ") + f'.*{problem}'):
            niqe.load_niqe_model(str(tmp_path / f'{name}.npz'))


def test_fitting_needs_textured_blocks():
    with pytest.raises(DataError, match='at least 2 textured 96x96 blocks'):
        fit_niqe_model([np.full((96, 96), 100.)])


def _niqe_options(tmp_path: Path) -> dict:
    opt = tiny_train_options(tmp_path)
    gt, lq = make_pairs(tmp_path / 'val_large', count=2, size=(104, 208), seed=50)  # 1x2 blocks after the crop
    opt['datasets']['val'].update(dataroot_gt=str(gt), dataroot_lq=str(lq))
    opt['train']['total_iter'] = 6
    opt['val'].update(val_freq=2, save_img=False,
                      metrics={'niqe': {'type': 'calculate_niqe', 'crop_border': 4, 'better': 'lower'}})
    return opt


def test_validation_keeps_the_lowest_niqe_as_best(tmp_path, model_file, monkeypatch):
    monkeypatch.setenv(niqe.PARAMS_ENV, str(model_file))
    path = write_yaml(tmp_path / 'niqe.yml', _niqe_options(tmp_path))
    train_pipeline(root_path=str(tmp_path), argv=['-opt', str(path)])
    exp = tmp_path / 'experiments' / 'tiny'
    log = next(exp.glob('train_*.log')).read_text()
    values = [float(v) for v in re.findall(r'# niqe: ([\d.]+)', log)]
    assert len(values) == 3 and len(set(values)) == 3, values  # validations at iterations 2, 4, 6
    best = load_checkpoint(exp / 'training_states' / '6.state')['best_metric_results']['tiny_val']['niqe']
    assert best['better'] == 'lower' and round(best['val'], 4) == min(values)
    assert best['iter'] == 2 * (values.index(min(values)) + 1)


def test_training_with_niqe_and_no_model_stops_before_it_starts(tmp_path, no_model_anywhere):
    path = write_yaml(tmp_path / 'niqe.yml', _niqe_options(tmp_path))
    with pytest.raises(OptionError, match=r'val\.metrics\.niqe: NIQE needs its pristine model'):
        train_pipeline(root_path=str(tmp_path), argv=['-opt', str(path)])
    assert not (tmp_path / 'experiments' / 'tiny' / 'models').exists()
