"""MATLAB-compatible imresize and BT.601 colour conversions."""
import math

import numpy as np
import pytest
import torch

from basicsr.utils.matlab_functions import (bgr2ycbcr, calculate_weights_indices, imresize, rgb2ycbcr, rgb2ycbcr_pt,
                                            ycbcr2bgr, ycbcr2rgb)

SCALES = [1 / 2, 1 / 3, 1 / 4, 2, 3, 4]


# ---- an independent, slow reference written from MATLAB's definition (pure Python, no shared code) ----

def _cubic(x: float) -> float:
    ax = abs(x)
    if ax <= 1:
        return 1.5 * ax**3 - 2.5 * ax**2 + 1
    if ax <= 2:
        return -0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2
    return 0.0


def _mirror(i: int, n: int) -> int:
    """Symmetric padding that repeats the edge pixel: ... 1 0 | 0 1 ... n-1 | n-1 n-2 ..."""
    while not 0 <= i < n:
        i = -i - 1 if i < 0 else 2 * n - 1 - i
    return i


def _resize_line(values: list[float], scale: float, antialiasing: bool) -> list[float]:
    n = len(values)
    shrink = scale < 1 and antialiasing
    half_width = 2 / scale if shrink else 2  # kernel support in input pixels, each side
    out = []
    for i in range(math.ceil(n * scale)):
        centre = (i + 0.5) / scale - 0.5  # 0-based input coordinate under output pixel i's centre
        taps = []
        for j in range(math.floor(centre - half_width), math.ceil(centre + half_width) + 1):
            d = centre - j
            taps.append((scale * _cubic(scale * d) if shrink else _cubic(d), values[_mirror(j, n)]))
        out.append(sum(w * v for w, v in taps) / sum(w for w, _ in taps))
    return out


def matlab_imresize_reference(img: np.ndarray, scale: float, antialiasing: bool = True) -> np.ndarray:
    """Slow loop-based MATLAB bicubic imresize of an HW or HWC image (float64), columns first, then rows."""
    img = np.asarray(img, dtype=np.float64)
    planes = img[..., None] if img.ndim == 2 else img
    out = []
    for c in range(planes.shape[2]):
        cols = np.array([_resize_line(list(planes[:, x, c]), scale, antialiasing) for x in range(planes.shape[1])]).T
        out.append(np.array([_resize_line(list(row), scale, antialiasing) for row in cols]))
    out = np.stack(out, axis=2)
    return out[..., 0] if img.ndim == 2 else out


def _to_chw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


# ---- hand-worked cases ----

X8 = np.array([3., 1., 4., 1., 5., 9., 2., 6.])


def test_downscale_by_two_with_antialiasing_by_hand() -> None:
    # Kernel 0.5 * cubic(d / 2) at d = +-0.5, 1.5, 2.5, 3.5 is (111, 29, -9, -3) / 256; the first taps of the
    # first output fall at indices -3..-1, which symmetric padding maps to 2, 1, 0.
    x = X8
    expected = np.array([
        (140 * x[0] + 102 * x[1] + 26 * x[2] - 9 * x[3] - 3 * x[4]) / 256,
        (-12 * x[0] + 29 * x[1] + 111 * x[2] + 111 * x[3] + 29 * x[4] - 9 * x[5] - 3 * x[6]) / 256,
        (-3 * x[1] - 9 * x[2] + 29 * x[3] + 111 * x[4] + 111 * x[5] + 29 * x[6] - 9 * x[7] - 3 * x[7]) / 256,
        (-3 * x[3] - 9 * x[4] + 26 * x[5] + 102 * x[6] + 140 * x[7]) / 256,
    ])
    column = X8[:, None]  # width 1 stays width 1 (every tap mirrors onto the one pixel)
    np.testing.assert_allclose(imresize(column, 0.5)[:, 0], expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(imresize(torch.from_numpy(column), 0.5)[:, 0].numpy(), expected, rtol=0, atol=1e-12)


def test_downscale_by_two_without_antialiasing_by_hand() -> None:
    # Plain cubic at d = +-0.5, 1.5 is (9, -1) / 16.
    x = X8
    expected = [(8 * x[0] + 9 * x[1] - x[2]) / 16, (-x[1] + 9 * x[2] + 9 * x[3] - x[4]) / 16,
                (-x[3] + 9 * x[4] + 9 * x[5] - x[6]) / 16, (-x[5] + 9 * x[6] + 8 * x[7]) / 16]
    np.testing.assert_allclose(imresize(X8[None, :], 0.5, antialiasing=False)[0], expected, rtol=0, atol=1e-12)


def test_upscale_by_two_by_hand() -> None:
    # Output centres fall at -0.25, 0.25, 0.75, ...: cubic at 0.25, 0.75, 1.25, 1.75 is (111, 29, -9, -3) / 128.
    x = X8
    out = imresize(X8[:, None], 2)[:, 0]
    assert out.shape == (16, )
    expected = np.array([140 * x[0] - 12 * x[1], 102 * x[0] + 29 * x[1] - 3 * x[2], 26 * x[0] + 111 * x[1] - 9 * x[2],
                         -9 * x[0] + 111 * x[1] + 29 * x[2] - 3 * x[3]]) / 128
    np.testing.assert_allclose(out[:4], expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out[-1], (140 * x[7] - 12 * x[6]) / 128, rtol=0, atol=1e-12)


def test_weights_and_indices() -> None:
    weights, indices = calculate_weights_indices(8, 4, 0.5, antialiasing=True)
    np.testing.assert_allclose(weights[1] * 256, [-3, -9, 29, 111, 111, 29, -9, -3], atol=1e-12)
    np.testing.assert_array_equal(indices[:, 0], [-3, -1, 1, 3])  # 0-based, not yet mirrored
    weights, indices = calculate_weights_indices(5, 15, 3, antialiasing=True)
    assert weights.shape == indices.shape == (15, 4)
    np.testing.assert_allclose(weights.sum(axis=1), 1, atol=1e-12)


# ---- against the slow reference ----

@pytest.mark.parametrize('scale', SCALES + [0.6, 1.7])
@pytest.mark.parametrize('antialiasing', [True, False])
def test_matches_slow_matlab_reference(scale: float, antialiasing: bool) -> None:
    # 7x9 is smaller than the x1/4 kernel (16 pixels wide), so mirroring has to wrap more than once.
    img = np.random.default_rng(1).random((7, 9, 2))
    expected = matlab_imresize_reference(img, scale, antialiasing)
    np.testing.assert_allclose(imresize(img, scale, antialiasing), expected, rtol=0, atol=1e-12)
    out_pt = imresize(_to_chw(img), scale, antialiasing).numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(out_pt, expected, rtol=0, atol=1e-12)


def test_separable_and_constant_preserving() -> None:
    col, row = np.random.default_rng(2).random(10), np.random.default_rng(3).random(13)
    out = imresize(np.outer(col, row), 1 / 3)
    expected = np.outer(imresize(col[:, None], 1 / 3)[:, 0], imresize(row[None, :], 1 / 3)[0])
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(imresize(np.full((9, 11, 3), 0.3), 1 / 4), 0.3, rtol=0, atol=1e-12)


def test_output_is_not_clipped_or_rounded() -> None:
    step = np.zeros((8, 8), np.float32)
    step[:, 4:] = 1
    out = imresize(step, 2)
    assert out.max() > 1 and out.min() < 0  # cubic overshoot survives
    uint8_out = imresize((step * 255).astype(np.uint8), 2)
    assert uint8_out.dtype == np.float32 and not np.all(uint8_out == np.round(uint8_out))
    np.testing.assert_allclose(uint8_out, out * 255, rtol=0, atol=1e-4)


# ---- numpy and torch paths agree ----

@pytest.mark.parametrize('scale', SCALES)
@pytest.mark.parametrize('size', [(17, 23), (12, 9), (32, 30)])
def test_numpy_and_torch_agree(scale: float, size: tuple[int, int]) -> None:
    rng = np.random.default_rng(size[0] * 100 + size[1])
    imgs = rng.random((2, *size, 3), dtype=np.float32)
    out_np = [imresize(img, scale) for img in imgs]
    expected_shape = (math.ceil(size[0] * scale), math.ceil(size[1] * scale), 3)
    assert all(o.shape == expected_shape and o.dtype == np.float32 for o in out_np)
    batch = torch.from_numpy(imgs).permute(0, 3, 1, 2)  # NCHW
    out_pt = imresize(batch, scale)
    assert out_pt.shape == (2, 3, *expected_shape[:2]) and out_pt.dtype == torch.float32
    for i in range(2):
        np.testing.assert_allclose(out_pt[i].permute(1, 2, 0).numpy(), out_np[i], rtol=0, atol=1e-6)
        np.testing.assert_allclose(imresize(batch[i], scale).numpy(), out_pt[i].numpy(), rtol=0, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.parametrize('scale', [1 / 4, 3])
def test_cuda_matches_cpu(scale: float) -> None:
    batch = torch.rand(2, 3, 19, 24, generator=torch.Generator().manual_seed(0))
    on_gpu = imresize(batch.cuda(), scale)
    assert on_gpu.device.type == 'cuda'
    torch.testing.assert_close(on_gpu.cpu(), imresize(batch, scale), rtol=0, atol=1e-6)


def test_layouts_and_dtypes() -> None:
    img = np.random.default_rng(4).random((10, 14))
    assert imresize(img, 0.5).shape == (5, 7) and imresize(img, 0.5).dtype == np.float64
    assert imresize(img[..., None], 0.5).shape == (5, 7, 1)
    assert imresize(torch.from_numpy(img), 3).shape == (30, 42)
    assert imresize(torch.from_numpy(img), 3).dtype == torch.float64
    assert imresize(torch.zeros(1, 2, 3, 10, 14), 0.5).shape == (1, 2, 3, 5, 7)
    assert imresize(torch.zeros(3, 10, 14, dtype=torch.uint8), 0.5).dtype == torch.float32
    leaf = torch.rand(1, 3, 8, 8, requires_grad=True)
    assert not imresize(leaf, 0.5).requires_grad


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match='scale'):
        imresize(np.zeros((4, 4)), 0)
    with pytest.raises(ValueError, match='HW or HWC'):
        imresize(np.zeros((1, 4, 4, 3)), 0.5)
    with pytest.raises(TypeError, match='numpy array or torch tensor'):
        imresize([[0.0]], 0.5)


# ---- colour conversions ----

@pytest.mark.parametrize('rgb, ycbcr', [((255, 255, 255), (235, 128, 128)), ((0, 0, 0), (16, 128, 128)),
                                        ((255, 0, 0), (81, 90, 240)), ((0, 0, 255), (41, 240, 110))])
def test_ycbcr_spot_values_uint8(rgb: tuple[int, int, int], ycbcr: tuple[int, int, int]) -> None:
    pixel = np.array(rgb, np.uint8).reshape(1, 1, 3)
    out = rgb2ycbcr(pixel)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 0], ycbcr)
    np.testing.assert_array_equal(bgr2ycbcr(pixel[..., ::-1])[0, 0], ycbcr)
    assert rgb2ycbcr(pixel, y_only=True).shape == (1, 1) and rgb2ycbcr(pixel, y_only=True)[0, 0] == ycbcr[0]
    np.testing.assert_allclose(ycbcr2rgb(out)[0, 0], rgb, atol=1)
    np.testing.assert_array_equal(ycbcr2bgr(out)[0, 0], ycbcr2rgb(out)[0, 0, ::-1])


def test_ycbcr_float_path() -> None:
    img = np.random.default_rng(5).random((6, 7, 3)).astype(np.float32)
    ycc = rgb2ycbcr(img)
    assert ycc.dtype == np.float32
    r, g, b = (img[..., i].astype(np.float64) for i in range(3))
    np.testing.assert_allclose(ycc[..., 0], (16 + 65.481 * r + 128.553 * g + 24.966 * b) / 255, atol=1e-6)
    np.testing.assert_allclose(bgr2ycbcr(img[..., ::-1], y_only=True), ycc[..., 0], atol=1e-7)
    np.testing.assert_allclose(ycbcr2rgb(ycc), img, atol=1e-5)  # MATLAB's rounded inverse matrix
    np.testing.assert_allclose(rgb2ycbcr(np.ones((1, 1, 3), np.float32))[0, 0], [235 / 255, 128 / 255, 128 / 255],
                               atol=1e-7)
    tensor = torch.from_numpy(img.astype(np.float64)).permute(2, 0, 1)[None]
    np.testing.assert_allclose(rgb2ycbcr_pt(tensor)[0].permute(1, 2, 0).numpy(), rgb2ycbcr(img.astype(np.float64)),
                               rtol=0, atol=1e-12)
    assert rgb2ycbcr_pt(tensor, y_only=True).shape == (1, 1, 6, 7)


def test_ycbcr_rejects_other_types() -> None:
    with pytest.raises(TypeError, match='uint8'):
        rgb2ycbcr(np.zeros((2, 2, 3), np.int16))
    with pytest.raises(ValueError, match='RGB'):
        rgb2ycbcr_pt(torch.zeros(1, 1, 4, 4))
