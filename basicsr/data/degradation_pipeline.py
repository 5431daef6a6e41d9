"""Synthetic real-world degradations of a GT batch, on the batch's device (CPU or GPU), for blind SR training.

Two pipelines, chosen by name (:func:`build_degradation`):

* ``realesrgan``: Real-ESRGAN's second-order model (Wang et al. 2021, arXiv 2107.10833), as BasicSR's
  ``RealESRGANModel.feed_data`` runs it: blur with ``kernel1``, random resize (up / down / keep, area / bilinear /
  bicubic), Gaussian or Poisson noise (colour or grey), JPEG; then blur with ``kernel2`` (``second_blur_prob``),
  resize towards the LQ size, noise, and in random order [resize to the LQ size + sinc filter] and JPEG. The three
  kernels come per sample from :class:`~basicsr.data.realesrgan_dataset.RealESRGANDataset`. Options: BasicSR's keys.
* ``bsrgan``: BSRGAN's shuffled model (Zhang et al. 2021, "Designing a Practical Degradation Model for Deep Blind
  Image Super-Resolution"), ranges and order as KAIR's ``degradation_bsrgan``: for x4, a first x2 downsampling with
  probability ``scale2_prob``; then, in random order (the second downsampling before the third), two blurs (each an
  isotropic or anisotropic Gaussian), a random downsampling (resize by 1/U(1, 2 sf), or a shifted Gaussian blur and
  nearest subsampling), the resize to the LQ size, Gaussian noise (colour, grey or channel-correlated), JPEG
  (probability ``jpeg_prob``) and processed camera sensor noise (``isp_prob``); then a final JPEG. Its kernels are
  drawn on the device, so it needs nothing from the dataset but the GT.

Batching: as in BasicSR, choices that change the image size (resize factors and modes, the order of operations) are
drawn once per batch; kernels, noise strengths, noise types and JPEG qualities per sample.

Randomness: every draw comes from the ``generator`` given to ``forward`` (nothing global), so the same generator
state gives the same LQ batch on a device. A generator on the batch's device draws there (fastest); a CPU generator
can drive a GPU batch too (:mod:`basicsr.utils.torch_random`).

``forward(gt, generator, kernels=None, log=None)`` returns the LQ batch (``scale`` times smaller, rounded to 8 bits);
pass a dict as ``log`` to get the parameters drawn: ``log[step]`` holds the batch-wide values of each step and, under
``per_sample``, lists of one value per sample (``scripts/degrade_preview.py`` writes them out).
"""
import math
from typing import Any, Mapping, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from basicsr.data.degradations import add_gaussian_noise_pt, add_poisson_noise_pt, draw_noise_parameters
from basicsr.utils import torch_random
from basicsr.utils.diffjpeg import DiffJPEG
from basicsr.utils.errors import OptionError
from basicsr.utils.img_process_util import filter2D
from basicsr.utils.registry import accepted_arguments, check_arguments

RESIZE_MODES = ('area', 'bilinear', 'bicubic')
Log = dict[str, Any] | None


def _record(log: Log, step: str, per_sample: dict[str, list] | None = None, **values: Any) -> None:
    """Note the parameters of ``step`` in ``log``: batch-wide ``values``, and under ``per_sample`` the tensors among
    them (one value per sample) as lists, with the lists of ``per_sample``."""
    if log is None:
        return
    entry = {k: v for k, v in values.items() if not isinstance(v, torch.Tensor)}
    per_sample = {**{k: v.tolist() for k, v in values.items() if isinstance(v, torch.Tensor)}, **(per_sample or {})}
    if per_sample:
        entry['per_sample'] = per_sample
    log[step] = entry


def _resize(img: torch.Tensor, size: tuple[int, int], mode: str, antialias: bool = False) -> torch.Tensor:
    size = (max(1, size[0]), max(1, size[1]))
    if tuple(img.shape[-2:]) == size:
        return img
    if mode == 'area':
        return F.interpolate(img, size=size, mode='area')
    return F.interpolate(img, size=size, mode=mode, align_corners=False, antialias=antialias)


def _random_mode(modes: Sequence[str], generator: torch.Generator | None) -> str:
    return modes[torch_random.choice([1.0] * len(modes), generator)]


def _round8(img: torch.Tensor) -> torch.Tensor:
    """Clamped to [0, 1] and rounded to the 8-bit grid, as an image saved and read back."""
    return torch.clamp((img * 255.0).round(), 0, 255) / 255.


class Degradation(nn.Module):
    """A batched degradation pipeline: ``forward(gt, generator, kernels=None, log=None) -> lq``.

    ``needs_kernels``: whether ``kernels`` (``kernel1``, ``kernel2``, ``sinc_kernel`` of shape (B, K, K), as the
    Real-ESRGAN datasets give them) are required.
    """
    needs_kernels = False

    def __init__(self, scale: int) -> None:
        super().__init__()
        if scale < 1:
            raise OptionError(f'scale: must be >= 1, got {scale}.', key_path='scale')
        self.scale = scale
        self.jpeger = DiffJPEG(differentiable=False)

    def lq_size(self, gt: torch.Tensor) -> tuple[int, int]:
        return gt.size(-2) // self.scale, gt.size(-1) // self.scale

    def jpeg(self, img: torch.Tensor, quality_range: Sequence[float], generator: torch.Generator | None, log: Log,
             step: str, integer: bool = False) -> torch.Tensor:
        """JPEG at a per-sample quality uniform in ``quality_range`` (``integer``: whole numbers, both ends in)."""
        low, high = quality_range
        if integer:
            quality = torch.floor(torch_random.uniform(low, high + 1, img.size(0), generator, img.device))
        else:
            quality = torch_random.uniform(low, high, img.size(0), generator, img.device)
        _record(log, step, quality=quality)
        return self.jpeger(torch.clamp(img, 0, 1), quality)


class RealESRGANDegradation(Degradation):
    """Real-ESRGAN's second-order degradation (module docstring); arguments are BasicSR's option keys, defaults the
    values of the published ``train_realesrgan_x4plus.yml``.

    Args:
        scale: the LQ is ``scale`` times smaller than the GT.
        resize_prob: probabilities of [up, down, keep] for the first resize; ``resize_range``: [smallest factor,
            largest factor].
        gaussian_noise_prob: probability of Gaussian (else Poisson) noise; ``noise_range``: its sigma (0-255 scale);
            ``poisson_scale_range``: the Poisson noise's scale; ``gray_noise_prob``: probability of grey noise.
        jpeg_range: JPEG quality range of the first round.
        second_blur_prob: probability of the second blur; the ``...2`` keys: the second round's values.
    """
    needs_kernels = True

    def __init__(self, scale: int = 4, resize_prob: list[float] = (0.2, 0.7, 0.1),
                 resize_range: list[float] = (0.15, 1.5), gaussian_noise_prob: float = 0.5,
                 noise_range: list[float] = (1, 30), poisson_scale_range: list[float] = (0.05, 3),
                 gray_noise_prob: float = 0.4, jpeg_range: list[float] = (30, 95), second_blur_prob: float = 0.8,
                 resize_prob2: list[float] = (0.3, 0.4, 0.3), resize_range2: list[float] = (0.3, 1.2),
                 gaussian_noise_prob2: float = 0.5, noise_range2: list[float] = (1, 25),
                 poisson_scale_range2: list[float] = (0.05, 2.5), gray_noise_prob2: float = 0.4,
                 jpeg_range2: list[float] = (30, 95)) -> None:
        super().__init__(scale)
        for key, value in (('resize_prob', resize_prob), ('resize_prob2', resize_prob2)):
            if len(value) != 3 or min(value) < 0 or sum(value) <= 0:
                raise OptionError(f'{key}: expected 3 non-negative weights [up, down, keep], got {list(value)}.',
                                  key_path=key)
        self.rounds = [
            {'resize_prob': resize_prob, 'resize_range': resize_range, 'gaussian_noise_prob': gaussian_noise_prob,
             'noise_range': noise_range, 'poisson_scale_range': poisson_scale_range,
             'gray_noise_prob': gray_noise_prob, 'jpeg_range': jpeg_range},
            {'resize_prob': resize_prob2, 'resize_range': resize_range2, 'gaussian_noise_prob': gaussian_noise_prob2,
             'noise_range': noise_range2, 'poisson_scale_range': poisson_scale_range2,
             'gray_noise_prob': gray_noise_prob2, 'jpeg_range': jpeg_range2}]
        self.second_blur_prob = second_blur_prob

    def forward(self, gt: torch.Tensor, generator: torch.Generator | None,
                kernels: Mapping[str, torch.Tensor] | None = None, log: Log = None) -> torch.Tensor:
        missing = [k for k in ('kernel1', 'kernel2', 'sinc_kernel') if k not in (kernels or {})]
        if missing:
            raise ValueError(f"RealESRGANDegradation needs the per-sample kernels {missing} (from RealESRGANDataset's "
                             'samples).')
        kernel1, kernel2, sinc = (kernels[k].to(gt.device) for k in ('kernel1', 'kernel2', 'sinc_kernel'))
        first, second = self.rounds
        lq_h, lq_w = self.lq_size(gt)

        out = filter2D(gt, kernel1)
        factor = self._resize_factor(first, generator)
        out = self._random_resize(out, (int(gt.size(-2) * factor), int(gt.size(-1) * factor)), generator, log,
                                  'resize1', factor=factor)
        out = self._noise(out, first, generator, log, 'noise1')
        out = self.jpeg(out, first['jpeg_range'], generator, log, 'jpeg1')

        second_blur = torch_random.uniform_scalar(0, 1, generator) < self.second_blur_prob
        _record(log, 'blur2', applied=second_blur)
        if second_blur:
            out = filter2D(out, kernel2)
        factor = self._resize_factor(second, generator)
        out = self._random_resize(out, (int(lq_h * factor), int(lq_w * factor)), generator, log, 'resize2',
                                  factor=factor)
        out = self._noise(out, second, generator, log, 'noise2')
        # [resize to the LQ size + sinc filter] and JPEG in random order (Real-ESRGAN found other orders create
        # twisted lines)
        sinc_first = torch_random.uniform_scalar(0, 1, generator) < 0.5
        _record(log, 'final_order', order='resize+sinc, jpeg' if sinc_first else 'jpeg, resize+sinc')
        if sinc_first:
            out = filter2D(self._random_resize(out, (lq_h, lq_w), generator, log, 'resize_final'), sinc)
            out = self.jpeg(out, second['jpeg_range'], generator, log, 'jpeg2')
        else:
            out = self.jpeg(out, second['jpeg_range'], generator, log, 'jpeg2')
            out = filter2D(self._random_resize(out, (lq_h, lq_w), generator, log, 'resize_final'), sinc)
        return _round8(out)

    @staticmethod
    def _resize_factor(options: dict[str, Any], generator: torch.Generator | None) -> float:
        direction = torch_random.choice(options['resize_prob'], generator)
        low, high = options['resize_range']
        if direction == 0:
            return torch_random.uniform_scalar(1, high, generator)
        if direction == 1:
            return torch_random.uniform_scalar(low, 1, generator)
        return 1.0

    @staticmethod
    def _random_resize(img: torch.Tensor, size: tuple[int, int], generator: torch.Generator | None, log: Log,
                       step: str, **details: Any) -> torch.Tensor:
        mode = _random_mode(RESIZE_MODES, generator)
        _record(log, step, **details, mode=mode, size=list(size))
        return _resize(img, size, mode)

    @staticmethod
    def _noise(img: torch.Tensor, options: dict[str, Any], generator: torch.Generator | None, log: Log,
               step: str) -> torch.Tensor:
        gaussian = torch_random.uniform_scalar(0, 1, generator) < options['gaussian_noise_prob']
        value_range = options['noise_range'] if gaussian else options['poisson_scale_range']
        strength, gray = draw_noise_parameters(img, value_range, options['gray_noise_prob'], generator)
        _record(log, step, type='gaussian' if gaussian else 'poisson', **{'sigma' if gaussian else 'scale': strength},
                gray=gray)
        if gaussian:
            return add_gaussian_noise_pt(img, strength, gray, clip=True, rounds=False, generator=generator)
        return add_poisson_noise_pt(img, strength, clip=True, rounds=False, gray_noise=gray, generator=generator)


# ---------------------------------------------------------------------------------------------------- BSRGAN
BSRGAN_MODES = ('bilinear', 'bicubic', 'area')  # OpenCV's INTER_LINEAR, INTER_CUBIC, INTER_AREA, as KAIR picks
_BLUR, _BLUR_AGAIN, _DOWNSAMPLE, _RESIZE_TO_LQ, _NOISE, _JPEG, _SENSOR_NOISE = range(7)
_BSRGAN_STEPS = ('blur', 'blur', 'downsample', 'resize_to_lq', 'noise', 'jpeg', 'sensor_noise')
_KERNEL_SIZE = 25  # the largest blur kernel (KAIR: 2 * randint(2, 11) + 3) and the shifted Gaussian's size


def _offsets(size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) offsets from the centre of a size x size kernel, each (1, size, size)."""
    axis = torch.arange(size, device=device, dtype=torch.float32) - size // 2
    yy, xx = torch.meshgrid(axis, axis, indexing='ij')
    return xx[None], yy[None]


def _normalise(kernels: torch.Tensor) -> torch.Tensor:
    return kernels / kernels.sum(dim=(-2, -1), keepdim=True)


class BSRGANDegradation(Degradation):
    """BSRGAN's shuffled degradation (module docstring), batched.

    Args:
        scale: 2, 3 or 4 (the first x2 downsampling exists only for 4, as in KAIR).
        scale2_prob: probability of that first downsampling.
        noise_range: Gaussian noise levels (0-255 scale; KAIR: integers 2..25), drawn per sample.
        jpeg_range: JPEG qualities (integers, both ends included; KAIR: 30..95), drawn per sample.
        jpeg_prob: probability of the JPEG step inside the shuffled sequence (the final JPEG is always applied).
        isp_prob: probability of the processed camera sensor noise (:meth:`sensor_noise`).

    Deviations from KAIR, for batching and devices: size-changing choices are made per batch; MATLAB's bicubic
    ``imresize`` is torch's antialiased bicubic; the channel-correlated noise uses the covariance
    ``L^2 U^T D U`` as drawn (KAIR takes its element-wise absolute value, which need not be a covariance); the
    camera sensor noise is a reverse-then-forward ISP of our own (KAIR leaves it to an external model).
    """

    def __init__(self, scale: int = 4, scale2_prob: float = 0.25, noise_range: list[float] = (2, 25),
                 jpeg_range: list[int] = (30, 95), jpeg_prob: float = 0.9, isp_prob: float = 0.25) -> None:
        super().__init__(scale)
        self.scale2_prob, self.noise_range, self.jpeg_range = scale2_prob, noise_range, jpeg_range
        self.jpeg_prob, self.isp_prob = jpeg_prob, isp_prob

    def forward(self, gt: torch.Tensor, generator: torch.Generator | None,
                kernels: Mapping[str, torch.Tensor] | None = None, log: Log = None) -> torch.Tensor:
        """``kernels`` are not used (this pipeline draws its own)."""
        out, sf = gt, self.scale
        lq_size = self.lq_size(gt)
        half_first = sf == 4 and torch_random.uniform_scalar(0, 1, generator) < self.scale2_prob
        if half_first:
            out = self._half(out, generator, log)
            sf = 2
        order = torch_random.permutation(len(_BSRGAN_STEPS), generator)
        first, second = order.index(_DOWNSAMPLE), order.index(_RESIZE_TO_LQ)
        if first > second:  # the random downsampling comes before the resize to the LQ size
            order[first], order[second] = order[second], order[first]
        _record(log, 'order', steps=[_BSRGAN_STEPS[i] for i in order])
        for step in order:
            if step in (_BLUR, _BLUR_AGAIN):
                out = self.blur(out, sf, generator, log, f'blur{1 + (step == _BLUR_AGAIN)}')
            elif step == _DOWNSAMPLE:
                out = self.downsample(out, sf, generator, log)
            elif step == _RESIZE_TO_LQ:
                mode = _random_mode(BSRGAN_MODES, generator)
                _record(log, 'resize_to_lq', mode=mode, size=list(lq_size))
                out = torch.clamp(_resize(out, lq_size, mode), 0, 1)
            elif step == _NOISE:
                out = self.gaussian_noise(out, generator, log)
            elif step == _JPEG:
                out = self._where(self.jpeg_prob, self._jpeg(out, generator, log, 'jpeg'), out, generator, log,
                                  'jpeg_applied')
            else:
                out = self._where(self.isp_prob, self.sensor_noise(out, generator, log), out, generator, log,
                                  'sensor_noise_applied')
        return _round8(self._jpeg(out, generator, log, 'jpeg_final'))

    # --------------------------------------------------------------------------------------------- steps
    def _half(self, img: torch.Tensor, generator: torch.Generator | None, log: Log) -> torch.Tensor:
        """The first x2 downsampling: a random OpenCV-like interpolation, or MATLAB-like antialiased bicubic."""
        size = (img.size(-2) // 2, img.size(-1) // 2)
        if torch_random.uniform_scalar(0, 1, generator) < 0.5:
            mode, antialias = _random_mode(BSRGAN_MODES, generator), False
        else:
            mode, antialias = 'bicubic', True
        _record(log, 'downsample_x2', mode=mode, antialias=antialias)
        return torch.clamp(_resize(img, size, mode, antialias), 0, 1)

    def blur(self, img: torch.Tensor, sf: int, generator: torch.Generator | None, log: Log,
             step: str) -> torch.Tensor:
        """KAIR's ``add_blur`` per sample: half anisotropic Gaussians (variances uniform in [0, 4 + sf], any angle),
        half isotropic ones (sigma uniform in [0, 2 + 0.2 sf]); sizes 7 to 25; reflected borders."""
        b, device = img.size(0), img.device
        aniso = torch_random.rand(b, generator, device) < 0.5
        sizes = 2 * torch.floor(torch_random.uniform(2, 12, b, generator, device)) + 3
        theta = torch_random.uniform(0, math.pi, b, generator, device)
        variances = torch_random.uniform(0, 4.0 + sf, (b, 2), generator, device).clamp_min(1e-6)
        sigma = torch_random.uniform(0, 2.0 + 0.2 * sf, b, generator, device).clamp_min(1e-3)
        xx, yy = _offsets(_KERNEL_SIZE, device)
        cos, sin = torch.cos(theta).view(-1, 1, 1), torch.sin(theta).view(-1, 1, 1)
        along, across = xx * cos + yy * sin, xx * sin - yy * cos
        form_aniso = along**2 / variances[:, :1, None] + across**2 / variances[:, 1:, None]
        form_iso = (xx**2 + yy**2) / sigma.view(-1, 1, 1)**2
        kernels = torch.exp(-0.5 * torch.where(aniso.view(-1, 1, 1), form_aniso, form_iso))
        radius = ((sizes - 1) / 2).view(-1, 1, 1)
        kernels = _normalise(kernels * ((xx.abs() <= radius) & (yy.abs() <= radius)))
        _record(log, step, anisotropic=aniso, size=sizes.int(), theta=theta, variances=variances, sigma=sigma)
        return filter2D(img, kernels)

    def downsample(self, img: torch.Tensor, sf: int, generator: torch.Generator | None, log: Log) -> torch.Tensor:
        """KAIR's second downsampling: with probability 3/4 a resize by 1 / U(1, 2 sf) with a random interpolation,
        else a Gaussian blur (sigma U(0.1, 0.6 sf), per sample) centred between the kept pixels, then keeping every
        ``sf``-th pixel."""
        h, w = img.shape[-2:]
        if torch_random.uniform_scalar(0, 1, generator) < 0.75:
            factor = torch_random.uniform_scalar(1, 2 * sf, generator)
            mode = _random_mode(BSRGAN_MODES, generator)
            _record(log, 'downsample', type='resize', factor=factor, mode=mode)
            return torch.clamp(_resize(img, (int(h / factor), int(w / factor)), mode), 0, 1)
        sigma = torch_random.uniform(0.1, 0.6 * sf, img.size(0), generator, img.device).view(-1, 1, 1)
        _record(log, 'downsample', type='blur+subsample', sigma=sigma.flatten())
        xx, yy = _offsets(_KERNEL_SIZE, img.device)
        shift = (sf - 1) / 2  # the average around pixel (i + shift) is kept at i: the centre of each sf x sf block
        kernels = _normalise(torch.exp(-((xx - shift)**2 + (yy - shift)**2) / (2 * sigma**2)))
        return torch.clamp(filter2D(img, kernels)[..., ::sf, ::sf], 0, 1)

    def gaussian_noise(self, img: torch.Tensor, generator: torch.Generator | None, log: Log) -> torch.Tensor:
        """KAIR's ``add_Gaussian_noise`` per sample: a level in ``noise_range``; colour noise (40%), grey noise (40%)
        or noise correlated across channels (20%), the latter with covariance ``L^2 U^T D U`` (``L``: the largest
        level, ``D`` uniform diagonal, ``U`` a random orthonormal basis)."""
        b, c, h, w = img.shape
        device = img.device
        level = torch.floor(torch_random.uniform(self.noise_range[0], self.noise_range[1] + 1, b, generator, device))
        kind = torch_random.rand(b, generator, device)
        colour = torch_random.randn(img.shape, generator, device) * (level / 255.).view(-1, 1, 1, 1)
        grey = torch_random.randn((b, 1, h, w), generator, device) * (level / 255.).view(-1, 1, 1, 1)
        basis = _orthonormal_columns(torch_random.rand((b, c, c), generator, device))
        scales = torch.sqrt(torch_random.rand((b, c), generator, device))
        mixing = self.noise_range[1] / 255. * basis @ torch.diag_embed(scales)  # U^T = basis; noise = L U^T D^1/2 z
        correlated = torch.einsum('bij,bjhw->bihw', mixing, torch_random.randn(img.shape, generator, device))
        if log is not None:
            kinds = torch.where(kind > 0.6, 0, torch.where(kind < 0.4, 1, 2)).tolist()
            names = [('colour', 'grey', 'correlated')[i] for i in kinds]
            _record(log, 'noise', level=level, per_sample={'type': names})
        noise = torch.where((kind > 0.6).view(-1, 1, 1, 1), colour,
                            torch.where((kind < 0.4).view(-1, 1, 1, 1), grey.expand_as(img), correlated))
        return torch.clamp(img + noise, 0, 1)

    def _jpeg(self, img: torch.Tensor, generator: torch.Generator | None, log: Log, step: str) -> torch.Tensor:
        """KAIR's ``add_JPEG_noise``: the image as 8-bit, JPEG at an integer quality per sample, 8-bit again."""
        return _round8(self.jpeg(_round8(img), self.jpeg_range, generator, log, step, integer=True))

    def sensor_noise(self, img: torch.Tensor, generator: torch.Generator | None, log: Log) -> torch.Tensor:
        """Processed camera sensor noise, per sample: the image is taken back to a linear RGGB Bayer mosaic
        (inverse tone curve, inverse gamma 2.2, inverse colour correction and white balance), given shot and
        read noise there, and processed again (bilinear demosaicing, white balance, colour correction, gamma, tone
        curve). The noise parameters follow Brooks et al. 2019 ("Unprocessing images for learned raw denoising"):
        ``log(shot)`` uniform in [log 1e-4, log 0.012], ``log(read) = 2.18 log(shot) + 1.2 + N(0, 0.26)``. Each
        processing step inverts its unprocessing step, so without noise the image comes back changed only by the
        demosaicing's interpolation."""
        b, c, h, w = img.shape
        device = img.device
        red_gain = torch_random.uniform(1.9, 2.4, b, generator, device)
        blue_gain = torch_random.uniform(1.5, 1.9, b, generator, device)
        gains = torch.stack([red_gain, torch.ones_like(red_gain), blue_gain], 1).view(b, 3, 1, 1)
        # a random colour correction near the identity, rows summing to 1 (camera RGB from linear sRGB)
        mixing = torch.eye(3, device=device) + torch_random.uniform(0, 0.3, (b, 3, 3), generator, device)
        rgb_to_cam = mixing / mixing.sum(-1, keepdim=True)
        log_shot = torch_random.uniform(math.log(1e-4), math.log(0.012), b, generator, device)
        log_read = 2.18 * log_shot + 1.2 + 0.26 * torch_random.randn(b, generator, device)
        shot, read = torch.exp(log_shot).view(b, 1, 1, 1), torch.exp(log_read).view(b, 1, 1, 1)
        _record(log, 'sensor_noise', shot=shot.flatten(), read=read.flatten(), red_gain=red_gain, blue_gain=blue_gain)

        linear = torch.clamp(0.5 - torch.sin(torch.asin(1.0 - 2.0 * img.clamp(0, 1)) / 3.0), 1e-8, 1) ** 2.2
        camera = torch.einsum('bij,bjhw->bihw', rgb_to_cam, linear) / gains
        mosaic_mask = _bayer_masks(h, w, device)
        raw = (camera * mosaic_mask).sum(1, keepdim=True)
        raw = raw + torch.sqrt(torch.clamp(shot * raw + read, min=0)) * torch_random.randn(raw.shape, generator,
                                                                                           device)
        camera = _demosaic(raw, mosaic_mask) * gains
        linear = torch.einsum('bij,bjhw->bihw', torch.linalg.inv(rgb_to_cam), camera).clamp(1e-8, 1)
        srgb = linear ** (1 / 2.2)
        return torch.clamp(3 * srgb**2 - 2 * srgb**3, 0, 1)

    @staticmethod
    def _where(prob: float, changed: torch.Tensor, unchanged: torch.Tensor, generator: torch.Generator | None,
               log: Log, step: str) -> torch.Tensor:
        """Per sample, ``changed`` with probability ``prob``, else ``unchanged``."""
        applied = torch_random.rand(changed.size(0), generator, changed.device) < prob
        _record(log, step, applied=applied)
        return torch.where(applied.view(-1, 1, 1, 1), changed, unchanged)


def _orthonormal_columns(matrices: torch.Tensor) -> torch.Tensor:
    """Gram-Schmidt on the columns of each (C, C) matrix: KAIR's ``orth`` of a random matrix, by a formula that gives
    the same basis on every device (library QR routines may choose other signs)."""
    columns: list[torch.Tensor] = []
    for column in matrices.unbind(-1):
        for done in columns:
            column = column - (column * done).sum(-1, keepdim=True) * done
        columns.append(column / column.norm(dim=-1, keepdim=True).clamp_min(1e-12))
    return torch.stack(columns, -1)


def _bayer_masks(h: int, w: int, device: torch.device) -> torch.Tensor:
    """(1, 3, H, W) masks of the R, G and B sites of an RGGB mosaic."""
    rows = torch.arange(h, device=device).view(-1, 1) % 2
    cols = torch.arange(w, device=device).view(1, -1) % 2
    red = (rows == 0) & (cols == 0)
    blue = (rows == 1) & (cols == 1)
    return torch.stack([red, ~(red | blue), blue]).unsqueeze(0).float()


def _demosaic(raw: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Bilinear demosaicing of an RGGB mosaic (B, 1, H, W): each colour's missing sites are the mean of their
    nearest sites of that colour (borders reflected, which keeps the mosaic's phase)."""
    green = raw.new_tensor([[0, 1, 0], [1, 4, 1], [0, 1, 0]]) / 4
    red_blue = raw.new_tensor([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 4
    kernels = torch.stack([red_blue, green, red_blue]).unsqueeze(1)  # (3, 1, 3, 3)
    sparse = F.pad(raw * masks, (1, 1, 1, 1), mode='reflect')
    return F.conv2d(sparse, kernels, groups=3)


# ---------------------------------------------------------------------------------------------------- building
DEGRADATIONS: dict[str, type[Degradation]] = {'realesrgan': RealESRGANDegradation, 'bsrgan': BSRGANDegradation}


def build_degradation(name: str, opt: Mapping[str, Any]) -> Degradation:
    """The pipeline ``name`` (a key of :data:`DEGRADATIONS`) configured from an option file's top level ``opt``.

    ``realesrgan`` reads its keys (``scale``, ``resize_prob``, ...) from the top level, where BasicSR's option files
    have them; ``bsrgan`` reads ``scale`` from the top level and its own keys from the section ``bsrgan`` (absent:
    KAIR's values), so that both can live in one file. Keys a pipeline does not take are left alone; values are
    checked against the constructor's types.
    """
    if name not in DEGRADATIONS:
        raise OptionError(f"degradation: unknown pipeline '{name}'; expected one of {', '.join(DEGRADATIONS)}.",
                          key_path='degradation')
    cls = DEGRADATIONS[name]
    section = {'scale': opt['scale']} if 'scale' in opt else {}
    if name == 'bsrgan':
        section.update(opt.get('bsrgan') or {})
        return cls(**check_arguments(cls, section, 'bsrgan'))
    accepted = accepted_arguments(cls)
    section.update({k: v for k, v in opt.items() if k in accepted})
    return cls(**check_arguments(cls, section, 'options'))
