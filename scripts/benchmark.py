"""Speed of training, inference, data loading, validation and metrics, for every combination of the speed options.

    python scripts/benchmark.py --quick                       # reduced networks, a few minutes on a CPU
    python scripts/benchmark.py --networks MSRResNet RRDBNet  # standard configurations (slow on a CPU)
    python scripts/benchmark.py --amp none bf16 --compile off --json bench.json

Sections (``--sections``):

* ``train``: iterations/s of the framework's training step (``feed_data`` + ``optimize_parameters`` +
  ``update_learning_rate`` of SRModel, Adam, L1 loss, no EMA) on a batch already in memory, for each combination of
  ``train.amp`` x ``train.channels_last`` x ``train.compile``; next to a plain float32 NCHW PyTorch loop over the
  same network (plain Adam, ``F.l1_loss``, forward/backward/step) and the framework with every speed option off
  (torch's default Adam, as in the plain loop), which shows the framework's own overhead. On a GPU, also the memory
  peak.
* ``inference``: images/s of ``SRModel.test`` (``val.amp``, channels_last) against a plain float32 forward pass;
  and, on the CPU whatever the device, the seconds one 128x128 LR image takes in float32 through
  ``super_resolve`` (as testing runs it, window padding included), the figure to compare networks by.
* ``validation``: seconds per image of ``SRModel.validation`` (PSNR + SSIM on Y, in torch on the device) against
  a plain loop (forward pass, then the numpy PSNR/SSIM of the 8-bit images).
* ``data``: samples/s of the training dataloader (PairedImageDataset, random crop + flips) from an image folder and
  from an LMDB made of the same images (``basicsr.utils.lmdb_util``), both in a temporary folder.
* ``metrics``: PSNR + SSIM of a 512x512 image, on Y and on RGB: the torch functions on the device against the
  numpy reference, with the largest relative difference of their values. The two are timed one after the other,
  not alternately (alternating with OpenCV's thread pool slows torch down, which validation never does).
  Then the perceptual metrics of such a pair (192x192 with ``--quick``) on the device: LPIPS (alex, vgg), DISTS,
  MS-SSIM (numpy and torch), and the FID Inception features of one image (resized to 299x299), with random weights
  (same cost as the published ones, which need files; the networks are built before timing).
* ``degradation``: ms per batch (12 GT patches of 256x256, x4) of the synthetic degradation pipelines on the device
  (``basicsr.data.degradation_pipeline``: Real-ESRGAN's second-order one, BSRGAN's shuffled one) and of the GT's
  unsharp masking that Real-ESRGAN's recipe adds; each timed run draws new parameters (resize factors, orders), so the
  figure is the median over at least 20 batches. Also the CPU cost per sample of RealESRGANDataset's kernels.

With ``--archs NAME ...`` (or ``--archs all``), one more table, ``archs``: every named registered SR network
(``python -m basicsr.archs`` lists them) at its official configuration: its parameters, the CPU seconds of one
128x128 LR image in float32 through ``super_resolve`` (padding included), and the seconds of one training step
(forward, L1, backward, Adam) on a batch of ARCH_BATCH LR patches of ARCH_PATCH pixels (or the network's minimum,
rounded up to the input multiple), on ``--device``. Networks at official sizes take seconds to minutes per image on
a CPU: give few ``--repeats``.

Each figure is the median of ``--repeats`` timed runs after ``--warmup`` untimed ones (fewer timed runs when one
takes so long that ``--budget`` seconds would be exceeded; the ``runs`` column says how many). ``ratio`` is the
speed relative to the section's reference row (above 1: faster). ``--quick`` uses reduced network sizes and, as
compiling takes tens of seconds per network on a CPU, compiles only float32 + channels_last. ``--threads 1`` gives
steadier figures on a machine shared with other jobs.
"""
import argparse
import itertools
import json
import os
import platform
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

import _bootstrap  # makes basicsr importable from a checkout; must come before basicsr imports
from basicsr.archs import build_network
from basicsr.archs.arch_info import input_multiple_of, sr_network_names
from basicsr.data import build_dataloader, build_dataset
from basicsr.data.degradation_pipeline import build_degradation
from basicsr.data.realesrgan_dataset import KERNEL_LIST, KERNEL_PROB, KernelSampler, draw_final_sinc
from basicsr.data.sampler import EnlargedSampler
from basicsr.data.transforms import bicubic_downscale_uint8
from basicsr.metrics import (calculate_dists_pt, calculate_lpips_pt, calculate_ms_ssim, calculate_ms_ssim_pt,
                             calculate_psnr, calculate_psnr_pt, calculate_ssim, calculate_ssim_pt)
from basicsr.metrics.fid import inception_features
from basicsr.models import build_model
from basicsr.models.inference import super_resolve
from basicsr.utils.img_process_util import USMSharp
from basicsr.utils.img_util import img2tensor, imwrite, tensor2img
from basicsr.utils.lmdb_util import make_lmdb_from_imgs
from basicsr.utils.logger import get_root_logger
from basicsr.utils.misc import scan_images
from basicsr.utils.registry import ARCH_REGISTRY
from basicsr.config import parse_options

SECTIONS = ('train', 'inference', 'validation', 'data', 'metrics', 'degradation')
DEGRADATION_BATCH, DEGRADATION_GT, DEGRADATION_RUNS = 12, 256, 20
PLAIN_TRAIN = 'plain fp32 loop'
FRAMEWORK_PLAIN = 'framework, no speed options'


@dataclass(frozen=True)
class NetworkSpec:
    """A network at its standard configuration and at the reduced ``--quick`` size, with training batch sizes."""
    arch: dict[str, Any]
    batch: int
    quick_arch: dict[str, Any]
    quick_batch: int = 4


NETWORKS = {
    'MSRResNet': NetworkSpec({'num_feat': 64, 'num_block': 16, 'upscale': 4}, 16,
                             {'num_feat': 16, 'num_block': 2, 'upscale': 4}),
    'RRDBNet': NetworkSpec({'num_feat': 64, 'num_block': 23, 'num_grow_ch': 32, 'scale': 4}, 4,
                           {'num_feat': 16, 'num_block': 2, 'num_grow_ch': 8, 'scale': 4}),
    'RCAN': NetworkSpec({'num_feat': 64, 'num_group': 10, 'num_block': 20, 'squeeze_factor': 16, 'upscale': 4}, 4,
                        {'num_feat': 16, 'num_group': 2, 'num_block': 2, 'squeeze_factor': 4, 'upscale': 4}),
    'RDN': NetworkSpec({'num_feat': 64, 'num_block': 16, 'num_layer': 8, 'num_grow_ch': 64, 'upscale': 4}, 4,
                       {'num_feat': 16, 'num_block': 2, 'num_layer': 3, 'num_grow_ch': 16, 'upscale': 4}),
    'A2N': NetworkSpec({'num_feat': 40, 'num_up_feat': 24, 'num_block': 16, 'upscale': 4}, 16,
                       {'num_feat': 16, 'num_up_feat': 8, 'num_block': 2, 'upscale': 4}),
    'SRResNet': NetworkSpec({'num_feat': 64, 'num_block': 16, 'upscale': 4}, 16,
                            {'num_feat': 16, 'num_block': 2, 'upscale': 4}),
    'EDSR': NetworkSpec({'num_feat': 256, 'num_block': 32, 'res_scale': 0.1, 'upscale': 4}, 16,
                        {'num_feat': 16, 'num_block': 2, 'upscale': 4}),
    'SwinIR': NetworkSpec({'img_size': 48, 'window_size': 8, 'depths': [6] * 6, 'embed_dim': 180, 'num_heads': [6] * 6,
                           'mlp_ratio': 2, 'upsampler': 'pixelshuffle', 'upscale': 4}, 4,
                          {'img_size': 16, 'window_size': 8, 'depths': [2, 2], 'embed_dim': 24, 'num_heads': [6, 6],
                           'mlp_ratio': 2, 'upsampler': 'pixelshuffle', 'upscale': 4}),
    'HAT': NetworkSpec({'img_size': 64, 'window_size': 16, 'depths': [6] * 6, 'embed_dim': 180, 'num_heads': [6] * 6,
                        'mlp_ratio': 2, 'upscale': 4}, 4,
                       {'img_size': 32, 'window_size': 16, 'depths': [2], 'embed_dim': 30, 'num_heads': [6],
                        'mlp_ratio': 2, 'upscale': 4}),
    'SPAN': NetworkSpec({'feature_channels': 48, 'upscale': 4}, 64, {'feature_channels': 16, 'upscale': 4}),
}
SCALE = 4
CPU_LQ = 128  # LR side of the CPU figure of the inference section
ARCH_SECTION = 'archs'  # the --archs table (registered networks at their official configurations)
ARCH_BATCH, ARCH_PATCH = 2, 32  # the training step of the --archs table: batch and LR patch side


@dataclass(frozen=True)
class Sizes:
    """Image sizes and counts of one benchmark mode."""
    train_lq: int  # LQ patch of a training batch
    infer_lq: int  # LQ image of inference and validation
    data_images: int  # images in the dataloader set
    data_hr: int  # their HR size
    data_gt_size: int  # GT patch of the dataloader
    data_batch: int
    data_batches: int  # batches per timed dataloader run
    val_images: int
    metric_size: int  # PSNR/SSIM image side
    perceptual_size: int  # LPIPS/DISTS/MS-SSIM/FID image side (VGG16 at 512x512 takes seconds on a CPU)


STANDARD = Sizes(train_lq=32, infer_lq=64, data_images=16, data_hr=480, data_gt_size=128, data_batch=16,
                 data_batches=8, val_images=2, metric_size=512, perceptual_size=512)
QUICK = Sizes(train_lq=16, infer_lq=32, data_images=8, data_hr=192, data_gt_size=64, data_batch=4,
              data_batches=4, val_images=2, metric_size=512, perceptual_size=192)


@dataclass(frozen=True)
class Combo:
    """One combination of the speed options."""
    amp: str = 'none'
    channels_last: bool = False
    compile: bool = False

    @property
    def label(self) -> str:
        parts = ['fp32' if self.amp == 'none' else self.amp]
        parts += ['channels_last'] * self.channels_last + ['compile'] * self.compile
        return ' + '.join(parts)


@dataclass
class Row:
    """One figure of the report."""
    section: str
    network: str
    config: str
    value: float
    unit: str
    runs: int
    ratio: float | None = None
    options: dict[str, Any] | None = None
    memory_mb: float | None = None
    note: str = ''


# --------------------------------------------------------------------------------------------- timing
@dataclass
class Timing:
    """Median seconds of one run, the number of timed runs, the reference's median over the same rounds, and on a
    GPU the memory peak of one run."""
    seconds: float
    runs: int
    reference_seconds: float | None = None
    memory_mb: float | None = None


class Timer:
    """Times callables after warm-up runs, synchronising the GPU around each run.

    With a reference, the two are timed alternately, one run each per round, so that a change in the machine's load
    (other jobs on a shared machine) affects both alike and their ratio stays meaningful.
    """

    def __init__(self, device: torch.device, warmup: int, repeats: int, budget: float) -> None:
        self.device, self.warmup, self.repeats, self.budget = device, warmup, repeats, budget

    def _sync(self) -> None:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)

    def _once(self, fn: Callable[[], Any]) -> float:
        self._sync()
        start = time.perf_counter()
        fn()
        self._sync()
        return time.perf_counter() - start

    def _peak_memory_mb(self, fn: Callable[[], Any]) -> float | None:
        if self.device.type != 'cuda':
            return None
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(self.device)
        self._once(fn)
        return torch.cuda.max_memory_allocated(self.device) / 2**20

    def __call__(self, fn: Callable[[], Any], extra_warmup: int = 0,
                 make_reference: Callable[[], Callable[[], Any]] | None = None) -> Timing:
        """Time ``fn`` (after ``warmup + extra_warmup`` runs) and, alternately with it, the reference that
        ``make_reference`` returns; that is made after ``fn``'s memory peak is taken, so it does not count there.

        Slow callables get fewer timed runs than ``repeats`` (at least one), so that the timed rounds take about
        ``budget`` seconds at most.
        """
        round_seconds = max([self._once(fn) for _ in range(self.warmup + extra_warmup)] or [0.0])
        memory = self._peak_memory_mb(fn)
        reference = make_reference() if make_reference else None
        if reference is not None:
            round_seconds += max([self._once(reference) for _ in range(self.warmup)] or [0.0])
        runs = max(1, min(self.repeats, int(self.budget / round_seconds) if round_seconds else self.repeats))
        times, reference_times = [], []
        for _ in range(runs):
            if reference is not None:
                reference_times.append(self._once(reference))
            times.append(self._once(fn))
        reference_seconds = statistics.median(reference_times) if reference_times else None
        return Timing(statistics.median(times), runs, reference_seconds, memory)


# --------------------------------------------------------------------------------------------- data
def synthetic_hr(seed: int, size: int) -> np.ndarray:
    """A uint8 BGR image with smooth structure and fine texture, so PNG sizes and decoding times are realistic."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (size // 16, size // 16, 3)).astype(np.float32)
    img = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC) + rng.normal(0, 6, (size, size, 3))
    return np.clip(img, 0, 255).round().astype(np.uint8)


def write_pairs(folder: Path, count: int, hr_size: int, seed: int) -> tuple[Path, Path]:
    """``folder/HR`` and ``folder/LR`` (bicubic x4) PNG pairs."""
    for i in range(count):
        hr = synthetic_hr(seed + i, hr_size)
        imwrite(hr, folder / 'HR' / f'{i:04d}.png')
        imwrite(bicubic_downscale_uint8(hr, SCALE), folder / 'LR' / f'{i:04d}.png')
    return folder / 'HR', folder / 'LR'


def to_lmdb(folder: Path) -> Path:
    """An LMDB of the images of ``folder`` (keys: file stems), next to it."""
    names = scan_images(folder)
    lmdb_path = folder.with_suffix('.lmdb')
    make_lmdb_from_imgs(folder, lmdb_path, names, [Path(n).stem for n in names], progress=False)
    return lmdb_path


def dataset_options(gt: Path, lq: Path, sizes: Sizes, lmdb: bool, workers: int) -> dict[str, Any]:
    return {'name': 'bench_train', 'type': 'PairedImageDataset', 'dataroot_gt': str(gt), 'dataroot_lq': str(lq),
            'io_backend': {'type': 'lmdb' if lmdb else 'disk'}, 'gt_size': sizes.data_gt_size, 'use_hflip': True,
            'use_rot': True, 'num_worker_per_gpu': workers, 'batch_size_per_gpu': sizes.data_batch,
            'dataset_enlarge_ratio': 1000}


# --------------------------------------------------------------------------------------------- framework
def parsed_options(workdir: Path, name: str, arch: dict[str, Any], combo: Combo, device: torch.device,
                   train_set: dict[str, Any], val_set: dict[str, Any], unfused: bool = False) -> dict[str, Any]:
    """Training options of an SRModel, validated and completed by the option parser as ``train.py`` does."""
    optim = {'type': 'Adam', 'lr': 1e-4, 'betas': [0.9, 0.99], **({'fused': False} if unfused else {})}
    opt = {
        'name': 'benchmark', 'model_type': 'SRModel', 'scale': SCALE, 'num_gpu': int(device.type == 'cuda'),
        'manual_seed': 0, 'datasets': {'train': train_set, 'val': val_set},
        'network_g': {'type': name, **arch}, 'path': {'root': str(workdir)},
        'train': {'ema_decay': 0.0, 'optim_g': optim, 'total_iter': 10**9, 'pixel_opt': {'type': 'L1Loss'},
                  'amp': combo.amp, 'channels_last': combo.channels_last, 'compile': combo.compile},
        'val': {'amp': combo.amp, 'pbar': False,
                'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 4, 'test_y_channel': True},
                            'ssim': {'type': 'calculate_ssim', 'crop_border': 4, 'test_y_channel': True}}},
        'logger': {'use_tb_logger': False},
    }
    path = workdir / 'options.json'  # JSON is YAML
    path.write_text(json.dumps(opt))
    parsed = parse_options(path)
    parsed.update(dist=False, rank=0, world_size=1, auto_resume=False)
    return parsed


def combos_of(args: argparse.Namespace) -> list[Combo]:
    """The grid of ``--amp`` x ``--channels-last`` x ``--compile``; with ``--quick`` only float32 +
    channels_last is also compiled (compiling one network takes tens of seconds on a CPU)."""
    grid = [Combo(amp, cl == 'on', comp == 'on')
            for comp, amp, cl in itertools.product(args.compile, args.amp, args.channels_last)]
    if args.only:
        wanted = {label.replace(' ', '') for label in args.only}
        return [c for c in grid if c.label.replace(' ', '') in wanted]
    if args.quick and Combo('none', True, True) in grid:
        grid = [c for c in grid if not c.compile or c == Combo('none', True, True)]
    return grid


# --------------------------------------------------------------------------------------------- sections
class Bench:
    """Holds the settings and temporary data of one benchmark run; each ``*_section`` method adds rows."""

    def __init__(self, args: argparse.Namespace, device: torch.device, workdir: Path) -> None:
        self.args, self.device, self.workdir = args, device, workdir
        self.sizes = QUICK if args.quick else STANDARD
        self.timer = Timer(device, args.warmup, args.repeats, args.budget)
        self.rows: list[Row] = []
        sizes = self.sizes
        self.train_hr, self.train_lr = write_pairs(workdir / 'train', sizes.data_images, sizes.data_hr, 0)
        self.val_hr, self.val_lr = write_pairs(workdir / 'val', sizes.val_images, sizes.infer_lq * SCALE, 100)
        self.train_set = dataset_options(self.train_hr, self.train_lr, sizes, False, 0)
        self.val_set = {'name': 'bench_val', 'type': 'PairedImageDataset', 'dataroot_gt': str(self.val_hr),
                        'dataroot_lq': str(self.val_lr), 'io_backend': {'type': 'disk'}}

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(f'  {row.section:<10} {row.network:<10} {row.config:<40} {row.value:10.4g} {row.unit}', flush=True)

    def arch(self, name: str) -> dict[str, Any]:
        spec = NETWORKS[name]
        return spec.quick_arch if self.args.quick else spec.arch

    def options(self, name: str, combo: Combo, unfused: bool = False, train_set: dict | None = None) -> dict:
        return parsed_options(self.workdir, name, self.arch(name), combo, self.device, train_set or self.train_set,
                              self.val_set, unfused)

    def model(self, name: str, combo: Combo, unfused: bool = False) -> Any:
        opt = self.options(name, combo, unfused)
        torch.manual_seed(0)
        return build_model(opt)

    def plain_network(self, name: str) -> torch.nn.Module:
        torch.manual_seed(0)
        return build_network({'type': name, **self.arch(name)}, 'network_g').to(self.device)

    # ----------------------------------------------------------------------------------------- train
    def train_section(self, name: str, combos: list[Combo]) -> None:
        spec = NETWORKS[name]
        batch = spec.quick_batch if self.args.quick else spec.batch
        lq_size = self.sizes.train_lq
        generator = torch.Generator().manual_seed(0)
        data = {'lq': torch.rand(batch, 3, lq_size, lq_size, generator=generator).to(self.device),
                'gt': torch.rand(batch, 3, lq_size * SCALE, lq_size * SCALE, generator=generator).to(self.device)}

        plain = self.timer(self.plain_train_step(name, data))
        self.add(Row('train', name, PLAIN_TRAIN, 1 / plain.seconds, 'iterations/s', plain.runs, 1.0,
                     memory_mb=plain.memory_mb, note=f'batch {batch}, LQ {lq_size}x{lq_size}'))
        for combo, unfused in [(Combo(), True)] + [(c, False) for c in combos]:
            model = self.model(name, combo, unfused)
            step = iter(range(1, 10**9))

            def framework_step() -> None:
                current_iter = next(step)
                model.update_learning_rate(current_iter)
                model.feed_data(data)
                model.optimize_parameters(current_iter)

            timing = self.timer(framework_step, extra_warmup=int(combo.compile),  # the first call compiles
                                make_reference=lambda: self.plain_train_step(name, data))
            note = "torch's default Adam (not fused)" if unfused else ''
            if combo.compile and not getattr(model.net_g, 'compiled', False):
                note = 'compile fell back to eager'
            self.add(Row('train', name, FRAMEWORK_PLAIN if unfused else combo.label, 1 / timing.seconds,
                         'iterations/s', timing.runs, timing.reference_seconds / timing.seconds, asdict(combo),
                         timing.memory_mb, note))
            del model

    def plain_train_step(self, name: str, data: dict[str, torch.Tensor]) -> Callable[[], None]:
        """One iteration of the plain float32 NCHW loop: a fresh network, plain Adam, ``F.l1_loss``."""
        net = self.plain_network(name).train()
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-4, betas=(0.9, 0.99))

        def plain_step() -> None:
            optimizer.zero_grad(set_to_none=True)
            loss = F.l1_loss(net(data['lq']), data['gt'])
            loss.backward()
            optimizer.step()

        return plain_step

    # ----------------------------------------------------------------------------------------- inference
    def inference_section(self, name: str, combos: list[Combo]) -> None:
        size = self.sizes.infer_lq
        lq = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0)).to(self.device)
        net = self.plain_network(name).eval()

        @torch.inference_mode()
        def plain_forward() -> None:
            net(lq)

        plain = self.timer(plain_forward)
        self.add(Row('inference', name, 'plain fp32 forward', 1 / plain.seconds, 'images/s', plain.runs, 1.0,
                     note=f'LQ {size}x{size}'))
        for combo in unique(Combo(c.amp, c.channels_last) for c in combos):
            model = self.model(name, combo)

            def framework_test() -> None:
                model.feed_data({'lq': lq})
                model.test()

            timing = self.timer(framework_test, make_reference=lambda: plain_forward)
            self.add(Row('inference', name, combo.label, 1 / timing.seconds, 'images/s', timing.runs,
                         timing.reference_seconds / timing.seconds, asdict(combo)))
        self.cpu_inference(name)

    def cpu_inference(self, name: str) -> None:
        """Seconds for one CPU_LQ x CPU_LQ image on the CPU in float32, through ``super_resolve``."""
        cpu = torch.device('cpu')
        torch.manual_seed(0)
        net = build_network({'type': name, **self.arch(name)}, 'network_g').eval()
        lq = torch.rand(1, 3, CPU_LQ, CPU_LQ, generator=torch.Generator().manual_seed(0))
        timer = self.timer if self.device == cpu else Timer(cpu, self.args.warmup, self.args.repeats, self.args.budget)
        timing = timer(torch.inference_mode()(lambda: super_resolve(net, lq)))
        note = f'torch threads: {torch.get_num_threads()}, output {CPU_LQ * SCALE}x{CPU_LQ * SCALE}'
        self.add(Row('inference', name, f'CPU fp32, one {CPU_LQ}x{CPU_LQ} LR image', timing.seconds, 's/image',
                     timing.runs, note=note))

    # ----------------------------------------------------------------------------------------- archs
    def archs_section(self, names: list[str]) -> None:
        """Parameters, CPU inference time of one CPU_LQ image and training-step time of each registered network
        at its ``official_config``."""
        cpu = torch.device('cpu')
        cpu_timer = self.timer if self.device == cpu else Timer(cpu, self.args.warmup, self.args.repeats,
                                                                 self.args.budget)
        for name in names:
            torch.manual_seed(0)
            config = ARCH_REGISTRY.info(name)['official_config']
            net = build_network({'type': name, **config}, 'network_g').eval()
            params = sum(p.numel() for p in net.parameters())
            self.add(Row(ARCH_SECTION, name, 'parameters (official configuration)', params, 'parameters', 1,
                         options=config, note=ARCH_REGISTRY.info(name).get('source', '')))
            lq = torch.rand(1, 3, CPU_LQ, CPU_LQ, generator=torch.Generator().manual_seed(0))
            timing = cpu_timer(torch.inference_mode()(lambda: super_resolve(net, lq)))
            self.add(Row(ARCH_SECTION, name, f'CPU fp32, one {CPU_LQ}x{CPU_LQ} LR image', timing.seconds, 's/image',
                         timing.runs, note=f'torch threads: {torch.get_num_threads()}'))
            self.add(self.arch_train_step(name, net.to(self.device).train()))
            del net

    def arch_train_step(self, name: str, net: torch.nn.Module) -> Row:
        multiple = input_multiple_of(net)
        smallest = max(ARCH_PATCH, ARCH_REGISTRY.info(name).get('min_size', 0))  # Real-CUGAN takes 32 or 40 at least
        patch = -(-smallest // multiple) * multiple
        lq = torch.rand(ARCH_BATCH, 3, patch, patch, device=self.device)
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)

        def step() -> None:
            optimizer.zero_grad(set_to_none=True)
            out = net(lq)
            F.l1_loss(out, torch.zeros_like(out)).backward()
            optimizer.step()

        timing = self.timer(step)
        return Row(ARCH_SECTION, name, f'train step, batch {ARCH_BATCH} of {patch}x{patch} LR ({self.device})',
                   timing.seconds, 's/step', timing.runs, memory_mb=timing.memory_mb)

    # ----------------------------------------------------------------------------------------- validation
    def validation_section(self, name: str, combos: list[Combo]) -> None:
        val_opt = self.options(name, Combo())['datasets']['val']
        loader = build_dataloader(build_dataset(val_opt), val_opt)
        net = self.plain_network(name).eval()

        @torch.inference_mode()
        def plain_validation() -> None:
            for data in loader:
                sr, hr = tensor2img(net(data['lq'].to(self.device))), tensor2img(data['gt'])
                calculate_psnr(sr, hr, 4, test_y_channel=True)
                calculate_ssim(sr, hr, 4, test_y_channel=True)

        count = len(loader.dataset)
        plain = self.timer(plain_validation)
        self.add(Row('validation', name, 'plain loop, numpy metrics', plain.seconds / count, 's/image', plain.runs,
                     1.0, note=f'LQ {self.sizes.infer_lq}x{self.sizes.infer_lq}, PSNR + SSIM on Y'))
        for combo in unique(Combo(c.amp, c.channels_last) for c in combos):
            model = self.model(name, combo)
            timing = self.timer(lambda: model.validation(loader, 0),
                                make_reference=lambda: plain_validation)
            self.add(Row('validation', name, combo.label, timing.seconds / count, 's/image', timing.runs,
                         timing.reference_seconds / timing.seconds, asdict(combo)))

    # ----------------------------------------------------------------------------------------- data
    def data_section(self) -> None:
        sizes, workers = self.sizes, self.args.workers
        lmdb_gt, lmdb_lq = to_lmdb(self.train_hr), to_lmdb(self.train_lr)
        note = (f'{workers} workers, {sizes.data_hr}x{sizes.data_hr} images, GT patch {sizes.data_gt_size}, '
                f'batch {sizes.data_batch}')
        samples = sizes.data_batches * sizes.data_batch
        folder_rate = None
        for label, gt, lq, lmdb in (('folder (PNG)', self.train_hr, self.train_lr, False),
                                    ('LMDB (PNG level 1)', lmdb_gt, lmdb_lq, True)):
            # one loader at a time: workers of another would prefetch in the background
            timing = self.timer(self.train_loader(gt, lq, lmdb))
            rate = samples / timing.seconds
            folder_rate = folder_rate or rate
            self.add(Row('data', 'PairedImageDataset', label, rate, 'samples/s', timing.runs, rate / folder_rate,
                         note=note))

    def train_loader(self, gt: Path, lq: Path, lmdb: bool) -> Callable[[], None]:
        """A callable that loads ``data_batches`` batches from a training dataloader over ``gt``/``lq``."""
        train_set = dataset_options(gt, lq, self.sizes, lmdb, self.args.workers)
        dataset_opt = self.options('MSRResNet', Combo(), train_set=train_set)['datasets']['train']
        dataset = build_dataset(dataset_opt)
        sampler = EnlargedSampler(len(dataset), ratio=dataset_opt['dataset_enlarge_ratio'])
        batches = iter(build_dataloader(dataset, dataset_opt, sampler))

        def load() -> None:
            for _ in range(self.sizes.data_batches):
                next(batches)

        return load

    # ----------------------------------------------------------------------------------------- metrics
    def metrics_section(self) -> None:
        size = self.sizes.metric_size
        hr = synthetic_hr(7, size)
        noisy = np.clip(hr + np.random.default_rng(1).normal(0, 8, hr.shape), 0, 255).round().astype(np.uint8)
        sr_t, hr_t = image_tensor(noisy).to(self.device), image_tensor(hr).to(self.device)
        for y_channel in (True, False):
            results = {}

            def numpy_metrics() -> None:
                results['numpy'] = (calculate_psnr(noisy, hr, 4, test_y_channel=y_channel),
                                    calculate_ssim(noisy, hr, 4, test_y_channel=y_channel))

            def torch_metrics() -> None:
                results['torch'] = (calculate_psnr_pt(sr_t, hr_t, 4, test_y_channel=y_channel).item(),
                                    calculate_ssim_pt(sr_t, hr_t, 4, test_y_channel=y_channel).item())

            channels = 'Y' if y_channel else 'RGB'
            reference = self.timer(numpy_metrics)
            self.add(Row('metrics', f'{size}x{size}', f'numpy reference (CPU), {channels}', reference.seconds * 1000,
                         'ms/image', reference.runs, 1.0, note=f'PSNR + SSIM on {channels}, crop 4'))
            # timed apart, not alternately: between OpenCV calls torch's threads find the cores still taken by
            # OpenCV's spinning thread pool (about 2.5 ms lost per call here), which validation never does
            timing = self.timer(torch_metrics)
            difference = max(abs(a - b) / abs(a) for a, b in zip(results['numpy'], results['torch']))
            self.add(Row('metrics', f'{size}x{size}', f'torch on {self.device.type}, {channels}',
                         timing.seconds * 1000, 'ms/image', timing.runs, reference.seconds / timing.seconds,
                         note=f'max relative difference {difference:.1e}'))
        self.perceptual_metrics()

    def perceptual_metrics(self) -> None:
        size = self.sizes.perceptual_size
        hr = synthetic_hr(7, size)
        noisy = np.clip(hr + np.random.default_rng(1).normal(0, 8, hr.shape), 0, 255).round().astype(np.uint8)
        sr_t, hr_t = image_tensor(noisy).to(self.device), image_tensor(hr).to(self.device)
        device = self.device.type
        cases = [
            (f'LPIPS-alex on {device}', lambda: calculate_lpips_pt(sr_t, hr_t, net='alex', pretrained=False)),
            (f'LPIPS-vgg on {device}', lambda: calculate_lpips_pt(sr_t, hr_t, net='vgg', pretrained=False)),
            (f'DISTS on {device}', lambda: calculate_dists_pt(sr_t, hr_t, pretrained=False)),
            ('MS-SSIM numpy (CPU), Y', lambda: calculate_ms_ssim(noisy, hr, 4, test_y_channel=True)),
            (f'MS-SSIM torch on {device}, Y', lambda: calculate_ms_ssim_pt(sr_t, hr_t, 4, test_y_channel=True)),
            (f'FID Inception features on {device}', lambda: inception_features(sr_t, pretrained=False)),
        ]
        for config, fn in cases:
            timing = self.timer(fn, extra_warmup=1)  # the first call builds the network
            note = 'one image, resized to 299x299' if 'FID' in config else 'one image pair'
            if 'MS-SSIM' not in config:
                note += '; random weights (the published ones cost the same)'
            self.add(Row('metrics', f'{size}x{size}', config, timing.seconds * 1000, 'ms/image', timing.runs,
                         note=note))


    # ----------------------------------------------------------------------------------------- degradation
    def degradation_section(self) -> None:
        batch, size = DEGRADATION_BATCH, DEGRADATION_GT
        gt = torch.cat([image_tensor(synthetic_hr(200 + i, size)) for i in range(batch)]).to(self.device)
        samplers = [KernelSampler(21, tuple(KERNEL_LIST), tuple(KERNEL_PROB), blur_sigma, (0.5, 4), (1, 2), 0.1)
                    for blur_sigma in ((0.2, 3), (0.2, 1.5))]
        rng = np.random.default_rng(0)

        def draw_kernels() -> dict[str, np.ndarray]:
            return {'kernel1': samplers[0].draw(rng)[0], 'kernel2': samplers[1].draw(rng)[0],
                    'sinc_kernel': draw_final_sinc(rng, 0.8, 21)[0]}

        drawn = [draw_kernels() for _ in range(batch)]
        kernels = {k: torch.from_numpy(np.stack([d[k] for d in drawn])).float().to(self.device) for k in drawn[0]}
        timer = Timer(self.device, self.args.warmup, max(self.args.repeats, DEGRADATION_RUNS), self.args.budget)
        note = f'batch {batch}, GT {size}x{size} -> LQ {size // SCALE}x{size // SCALE}, median over new draws'
        sharpener = USMSharp().to(self.device)
        usm = timer(lambda: sharpener(gt))
        self.add(Row('degradation', 'USMSharp', f'GT sharpening on {self.device.type}', usm.seconds * 1000,
                     'ms/batch', usm.runs, note=f'batch {batch}, GT {size}x{size}, radius 51'))
        for name, label in (('realesrgan', 'Real-ESRGAN'), ('bsrgan', 'BSRGAN')):
            pipeline = build_degradation(name, {'scale': SCALE}).to(self.device)
            generator = torch.Generator(self.device).manual_seed(0)  # advances: every run draws anew
            with torch.no_grad():
                timing = timer(lambda: pipeline(gt, generator, kernels))
            self.add(Row('degradation', label, f'pipeline on {self.device.type}', timing.seconds * 1000, 'ms/batch',
                         timing.runs, note=note))
        kernel_timing = timer(lambda: [draw_kernels() for _ in range(batch)])
        self.add(Row('degradation', 'RealESRGANDataset', 'kernels (numpy, CPU worker)',
                     kernel_timing.seconds * 1000 / batch, 'ms/sample', kernel_timing.runs,
                     note='first, second and final-sinc kernels of one sample'))


def image_tensor(img: np.ndarray) -> torch.Tensor:
    """A uint8 BGR HWC image as a (1, 3, H, W) RGB tensor in [0, 1]."""
    return img2tensor(img.astype(np.float32) / 255.)[None]


def unique(combos: Any) -> list[Combo]:
    return list(dict.fromkeys(combos))


# --------------------------------------------------------------------------------------------- report
def machine_info(device: torch.device) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(':', 1)[1].strip() for line in Path('/proc/cpuinfo').read_text().splitlines()
                   if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    info = {'cpu': cpu, 'cpu_cores': os.cpu_count(), 'torch_threads': torch.get_num_threads(),
            'cpu_capability': torch.backends.cpu.get_cpu_capability(),
            'cpu_native_bf16': bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()),
            'torch': torch.__version__, 'python': platform.python_version(), 'device': str(device),
            'load_average_start': os.getloadavg()[0]}
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    return info


def format_table(rows: list[Row]) -> str:
    """Markdown tables, one per section."""
    lines = []
    for section in (*SECTIONS, ARCH_SECTION):
        chosen = [r for r in rows if r.section == section]
        if not chosen:
            continue
        lines += ['', f'### {section}', '', '| network | configuration | value | runs | ratio | notes |',
                  '| --- | --- | --- | --- | --- | --- |']
        for r in chosen:
            ratio = f'{r.ratio:.2f}x' if r.ratio is not None else ''
            memory = f', peak {r.memory_mb:.0f} MiB' if r.memory_mb is not None else ''
            lines.append(f'| {r.network} | {r.config} | {r.value:.4g} {r.unit} | {r.runs} | {ratio} | '
                         f'{r.note}{memory} |')
    return '\n'.join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('--quick', action='store_true', help='reduced network and image sizes')
    parser.add_argument('--networks', nargs='+', choices=sorted(NETWORKS), default=None,
                        help='networks to measure (default: all; with --quick: MSRResNet RRDBNet)')
    parser.add_argument('--sections', nargs='+', choices=SECTIONS, default=None,
                        help='default: all, or none when --archs is given')
    parser.add_argument('--archs', nargs='+', metavar='NAME',
                        help="also time these registered SR networks at their official configurations ('all': every "
                             "one; see python -m basicsr.archs)")
    parser.add_argument('--amp', nargs='+', choices=('none', 'bf16', 'fp16'), default=['none', 'bf16', 'fp16'])
    parser.add_argument('--channels-last', nargs='+', choices=('off', 'on'), default=['off', 'on'])
    parser.add_argument('--compile', nargs='+', choices=('off', 'on'), default=['off', 'on'])
    parser.add_argument('--only', nargs='+', metavar='LABEL',
                        help="just these combinations of the grid, e.g. fp32 fp32+channels_last bf16+channels_last")
    parser.add_argument('--warmup', type=int, default=1,
                        help='untimed runs before the timed ones (compiled networks get one more)')
    parser.add_argument('--repeats', type=int, default=5, help='timed runs (the median is reported)')
    parser.add_argument('--budget', type=float, default=None,
                        help='seconds of timed runs per figure (default 120, with --quick 5); slower figures get '
                             'fewer runs, at least one')
    parser.add_argument('--device', choices=('auto', 'cpu', 'cuda'), default='auto')
    parser.add_argument('--workers', type=int, default=min(4, os.cpu_count() or 1), help='dataloader workers')
    parser.add_argument('--threads', type=int, default=torch.get_num_threads(),
                        help='CPU threads of torch (fewer than the cores can be steadier on a shared machine)')
    parser.add_argument('--json', type=Path, help='also write the figures to this JSON file')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.warmup < 0 or args.repeats < 1 or args.threads < 1:
        raise SystemExit('error: --warmup must be >= 0, --repeats and --threads >= 1.')
    torch.set_num_threads(args.threads)
    if args.sections is None:
        args.sections = [] if args.archs else list(SECTIONS)
    archs = sr_network_names() if args.archs == ['all'] else args.archs or []
    unknown = [name for name in archs if name not in sr_network_names()]
    if unknown:
        raise SystemExit(f"error: --archs: {', '.join(unknown)} not registered SR networks "
                         f"(python -m basicsr.archs --kind sr lists them).")
    if args.budget is None:
        args.budget = 5.0 if args.quick else 120.0
    use_cuda = args.device == 'cuda' or (args.device == 'auto' and torch.cuda.is_available())
    device = torch.device('cuda', torch.cuda.current_device()) if use_cuda else torch.device('cpu')
    networks = args.networks or (['MSRResNet', 'RRDBNet'] if args.quick else list(NETWORKS))
    get_root_logger(log_level=30)  # warnings only (e.g. a compile fallback)
    combos = combos_of(args)
    info = machine_info(device)
    print(f"Benchmark on {info.get('gpu', info['cpu'])} ({device}), torch {info['torch']}, "
          f"{'quick' if args.quick else 'standard'} sizes; load average {info['load_average_start']:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix='basicsr-bench-') as tmp:
        bench = Bench(args, device, Path(tmp))
        for name in networks:
            for section in ('train', 'inference', 'validation'):
                if section in args.sections:
                    getattr(bench, f'{section}_section')(name, combos)
        if 'data' in args.sections:
            bench.data_section()
        if 'metrics' in args.sections:
            bench.metrics_section()
        if 'degradation' in args.sections:
            bench.degradation_section()
        bench.archs_section(archs)
    info['load_average_end'] = os.getloadavg()[0]
    print(format_table(bench.rows))
    print(f"\nLoad average (1 min) at start {info['load_average_start']:.2f}, at end {info['load_average_end']:.2f}.")
    if args.json:
        settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        report = {'machine': info, 'settings': {**settings, 'networks': networks, 'sizes': asdict(bench.sizes)},
                  'results': [asdict(r) for r in bench.rows]}
        args.json.write_text(json.dumps(report, indent=1))
        print(f'Figures written to {args.json}.')
    return 0


if __name__ == '__main__':
    _bootstrap.run(main)
