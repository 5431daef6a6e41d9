"""RealESRGANDataset / RealESRGANPairedDataset (disk, LMDB, meta-info lists) and scripts/degrade_preview.py."""
import importlib
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from basicsr.data import build_dataloader, build_dataset
from basicsr.data.degradation_pipeline import RealESRGANDegradation
from basicsr.data.demo_data import _load_skimage
from basicsr.utils.errors import DataError, OptionError
from basicsr.utils.img_util import imwrite
from basicsr.utils.lmdb_util import make_lmdb_from_imgs

REPO = Path(__file__).resolve().parents[1]
NAMES = ('chelsea', 'coffee', 'rocket')
KERNELS = ('kernel1', 'kernel2', 'sinc_kernel')


@pytest.fixture
def gt_folder(tmp_path: Path) -> Path:
    """Three photographs, one (48x40) smaller than the crop so that it gets padded."""
    folder = tmp_path / 'gt'
    for name, (h, w) in zip(NAMES, ((72, 80), (80, 72), (48, 40))):
        imwrite(np.ascontiguousarray(_load_skimage(name)[:h, :w]), folder / f'{name}.png')
    return folder


def _options(root: Path, **updates) -> dict:
    opt = {'name': 'realesrgan', 'type': 'RealESRGANDataset', 'dataroot_gt': str(root),
           'io_backend': {'type': 'lmdb' if root.suffix == '.lmdb' else 'disk'}, 'crop_pad_size': 64, 'gt_size': 64,
           'use_hflip': True, 'use_rot': True, 'phase': 'train', 'scale': 4, 'num_worker_per_gpu': 0,
           'batch_size_per_gpu': 2, 'dataset_enlarge_ratio': 1, 'pin_memory': False, 'persistent_workers': False}
    opt.update(updates)
    return opt


def _lmdb(folder: Path) -> Path:
    names = sorted(p.name for p in folder.iterdir())
    path = folder.with_suffix('.lmdb')
    make_lmdb_from_imgs(folder, path, names, [Path(n).stem for n in names], progress=False)
    return path


def test_disk_and_lmdb_give_identical_samples(gt_folder: Path) -> None:
    disk = build_dataset(_options(gt_folder))
    lmdb = build_dataset(_options(_lmdb(gt_folder)))
    assert len(disk) == len(lmdb) == 3
    for key in ((0, 11), (1, 12), (2, 13)):
        a, b = disk[key], lmdb[key]
        assert a['gt'].shape == (3, 64, 64)
        for name in ('gt', *KERNELS):
            assert torch.equal(a[name], b[name]), name
        assert Path(a['gt_path']).stem == b['gt_path']
    assert not torch.equal(disk[(0, 11)]['kernel1'], disk[(0, 99)]['kernel1'])  # the seed decides the draws


def test_samples_hold_kernels_as_configured(gt_folder: Path) -> None:
    dataset = build_dataset(_options(gt_folder, blur_kernel_size=15, blur_kernel_size2=11, final_sinc_prob=0,
                                     kernel_list=['iso'], kernel_prob=[1], sinc_prob=0))
    params: dict = {}
    sample = dataset.sample((2, 5), params)
    assert sample['kernel1'].shape == (15, 15) and sample['kernel2'].shape == (11, 11)
    for name in KERNELS:
        assert sample[name].sum().item() == pytest.approx(1.0, abs=1e-5)
    pulse = torch.zeros(15, 15)
    pulse[7, 7] = 1
    assert torch.equal(sample['sinc_kernel'], pulse) and params['sinc_kernel'] == {'type': 'identity'}
    assert params['kernel1']['type'] == 'iso' and 7 <= params['kernel1']['size'] <= 15
    assert sample['gt'].shape == (3, 64, 64)  # the 48x40 image, padded by reflection


def test_meta_info_lists_for_folders_and_lmdb(gt_folder: Path, tmp_path: Path) -> None:
    meta = tmp_path / 'meta.txt'
    meta.write_text('coffee.png\nrocket.png (48,40,3) 1\n')
    assert [Path(p).name for p in build_dataset(_options(gt_folder, meta_info=str(meta))).paths] == \
        ['coffee.png', 'rocket.png']
    lmdb_path = _lmdb(gt_folder)
    basicsr_lmdb_meta = tmp_path / 'lmdb_meta.txt'  # BasicSR's LMDB meta_info.txt format
    basicsr_lmdb_meta.write_text('rocket.png (48,40,3) 1\nchelsea.png (72,80,3) 1\n')
    assert build_dataset(_options(lmdb_path, meta_info=str(basicsr_lmdb_meta))).paths == ['rocket', 'chelsea']
    basicsr_lmdb_meta.write_text('missing.png (1,1,3) 1\n')
    with pytest.raises(DataError, match='line 1.*missing'):
        build_dataset(_options(lmdb_path, meta_info=str(basicsr_lmdb_meta)))


@pytest.mark.parametrize('updates, key', [({'kernel_prob': [0.5, 0.5]}, 'kernel_prob'),
                                          ({'kernel_list2': ['gauss']}, 'kernel_list2'),
                                          ({'blur_kernel_size': 20}, 'blur_kernel_size'),
                                          ({'gt_size': 128}, 'gt_size')])
def test_bad_options_name_the_key(gt_folder: Path, updates: dict, key: str) -> None:
    with pytest.raises(OptionError, match=key):
        build_dataset(_options(gt_folder, **updates))


def test_batches_feed_the_pipeline(gt_folder: Path) -> None:
    opt = _options(gt_folder)
    loader = build_dataloader(build_dataset(opt), opt, sampler=[(0, 1), (1, 2)])
    batch = next(iter(loader))
    assert batch['kernel1'].shape == (2, 21, 21)
    lq = RealESRGANDegradation(scale=4)(batch['gt'], torch.Generator().manual_seed(0),
                                        {k: batch[k] for k in KERNELS})
    assert lq.shape == (2, 3, 16, 16)


def test_paired_dataset_reads_basicsr_pair_lists(tmp_path: Path) -> None:
    for i, name in enumerate(NAMES[:2]):
        img = np.ascontiguousarray(_load_skimage(name)[:64, :64])
        imwrite(img, tmp_path / 'gt' / f'{name}.png')
        imwrite(cv2.resize(img, (16, 16), interpolation=cv2.INTER_AREA), tmp_path / 'lq' / f'lq_{i}.png')
    meta = tmp_path / 'pairs.txt'
    meta.write_text('chelsea.png, lq_0.png\ncoffee.png, lq_1.png\n')
    opt = {'name': 'pairs', 'type': 'RealESRGANPairedDataset', 'dataroot_gt': str(tmp_path / 'gt'),
           'dataroot_lq': str(tmp_path / 'lq'), 'meta_info': str(meta), 'io_backend': {'type': 'disk'},
           'gt_size': 32, 'use_hflip': True, 'use_rot': False, 'phase': 'train', 'scale': 4}
    dataset = build_dataset(opt)
    sample = dataset[(1, 3)]
    assert sample['gt'].shape == (3, 32, 32) and sample['lq'].shape == (3, 8, 8)
    assert sample['lq_path'].endswith('lq_1.png') and sample['gt_path'].endswith('coffee.png')
    val = build_dataset({**opt, 'phase': 'val'})[0]
    assert val['gt'].shape == (3, 64, 64) and val['lq'].shape == (3, 16, 16)
    meta.write_text('chelsea.png lq_0.png\n')
    with pytest.raises(DataError, match="line 1: expected 'gt_path, lq_path'"):
        build_dataset(opt)
    with pytest.raises(DataError, match='no LQ image'):  # without the list, names must match
        build_dataset({**opt, 'meta_info': None})


def test_degrade_preview_writes_the_grid(gt_folder: Path, tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / 'scripts'))
    try:
        preview = importlib.import_module('degrade_preview')
    finally:
        sys.path.remove(str(REPO / 'scripts'))
    option_file = tmp_path / 'opt.yml'
    option_file.write_text(f'scale: 4\nsecond_blur_prob: 1.0\ndatasets:\n  train:\n    type: RealESRGANDataset\n'
                           f'    dataroot_gt: {gt_folder}\n    crop_pad_size: 48\n    final_sinc_prob: 1.0\n')
    for pipeline in ('realesrgan', 'bsrgan'):
        output = tmp_path / f'{pipeline}.png'
        assert preview.main(['-opt', str(option_file), '--output', str(output), '--num', '3',
                             '--pipeline', pipeline, '--device', 'cpu']) == 0
        grid = cv2.imread(str(output))
        assert grid.shape == (preview.HEADER + 3 * (48 + preview.GAP), 2 * 48 + preview.GAP, 3)
        report = json.loads(output.with_suffix('.json').read_text())
        assert report['pipeline'] == pipeline and len(report['rows']) == 3
        assert report['rows'][0]['kernels']['sinc_kernel']['type'] == 'sinc'
        if pipeline == 'realesrgan':
            assert report['batch']['blur2'] == {'applied': True}
            assert 'quality' in report['rows'][2]['pipeline']['jpeg2']
        else:
            assert 'quality' in report['rows'][2]['pipeline']['jpeg_final']
