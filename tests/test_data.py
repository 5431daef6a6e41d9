"""Datasets, transforms and the sampler: crops line up, back-ends agree, randomness is reproducible."""
import random

import numpy as np
import pytest
import torch

from basicsr.data import build_dataloader, build_dataset
from basicsr.data.paired_image_dataset import PairedImageDataset
from basicsr.data.sampler import EnlargedSampler
from basicsr.data.single_image_dataset import SingleImageDataset
from basicsr.data.transforms import augment, bicubic_lq, mod_crop, paired_random_crop, random_crop_with_bicubic_lq
from basicsr.utils.errors import DataError
from basicsr.utils.img_util import imwrite
from basicsr.utils.lmdb_util import make_lmdb_from_imgs
from basicsr.utils.misc import scan_images

from conftest import make_pairs, synthetic_image


def test_paired_crop_positions_match_across_scales():
    gt = np.arange(40 * 48 * 3, dtype=np.float32).reshape(40, 48, 3)
    lq = gt[::4, ::4]  # LQ pixel (i, j) is GT pixel (4i, 4j): a crop that lines up keeps this relation
    for seed in range(5):
        gt_patch, lq_patch = paired_random_crop(gt, lq, 16, 4, rng=random.Random(seed))
        assert gt_patch.shape == (16, 16, 3) and lq_patch.shape == (4, 4, 3)
        np.testing.assert_array_equal(gt_patch[::4, ::4], lq_patch)


def test_paired_crop_rejects_mismatched_sizes_naming_files():
    with pytest.raises(DataError, match='gt.png .* is not x4 the size of lq.png'):
        paired_random_crop(np.zeros((40, 48, 3)), np.zeros((9, 12, 3)), 16, 4, 'gt.png', rng=random.Random(0),
                           lq_path='lq.png')
    with pytest.raises(DataError, match=r'gt.png \(48x24\) is smaller than the GT patch size 32x32'):
        paired_random_crop(np.zeros((24, 48, 3)), np.zeros((6, 12, 3)), 32, 4, 'gt.png', rng=random.Random(0),
                           lq_path='lq.png')


@pytest.mark.parametrize('scale', [2, 3, 4])
def test_on_the_fly_lq_equals_cropping_the_whole_bicubic_image(scale):
    gt = synthetic_image(3, 61, 77).astype(np.float32) / 255.
    whole_lq = bicubic_lq(mod_crop(gt, scale), scale)
    gt_size = 8 * scale
    for seed in range(12):  # crops at the borders and inside
        gt_patch, lq_patch = random_crop_with_bicubic_lq(gt, gt_size, scale, random.Random(seed))
        ref_gt, ref_lq = paired_random_crop(mod_crop(gt, scale), whole_lq, gt_size, scale, rng=random.Random(seed))
        np.testing.assert_array_equal(gt_patch, ref_gt)
        assert np.abs(lq_patch - ref_lq).max() <= 1 / 255 + 1e-6  # a rounding tie may flip one 8-bit step
        assert np.mean(lq_patch == ref_lq) > 0.99


def test_augment_applies_the_same_transform_to_all_images():
    a = np.random.default_rng(0).random((6, 8, 3))
    seen = set()
    for seed in range(40):
        out_a, out_b = augment([a, a.copy()], True, True, rng=random.Random(seed))
        np.testing.assert_array_equal(out_a, out_b)
        seen.add(out_a.tobytes())
    assert len(seen) == 8  # all dihedral variants occur


def test_paired_dataset_training_sample(tmp_path):
    hr, lr = make_pairs(tmp_path, count=3, size=(48, 60))
    dataset = PairedImageDataset(str(hr), str(lr), gt_size=32, use_hflip=True, use_rot=True, scale=4)
    sample = dataset[(1, 'seed')]
    assert sample['gt'].shape == (3, 32, 32) and sample['lq'].shape == (3, 8, 8)
    assert sample['gt'].dtype == torch.float32 and 0 <= sample['gt'].min() and sample['gt'].max() <= 1
    again = dataset[(1, 'seed')]
    assert torch.equal(sample['gt'], again['gt']) and torch.equal(sample['lq'], again['lq'])
    assert sample['gt_path'].endswith('img01.png') and sample['lq_path'].endswith('img01.png')


def test_paired_dataset_validation_gives_whole_images_rgb(tmp_path):
    hr, lr = make_pairs(tmp_path, count=2, size=(48, 60))
    dataset = PairedImageDataset(str(hr), str(lr), phase='val', scale=4)
    sample = dataset[0]
    assert sample['gt'].shape == (3, 48, 60) and sample['lq'].shape == (3, 12, 15)
    bgr = synthetic_image(0, 48, 60)
    np.testing.assert_allclose(sample['gt'][0].numpy(), bgr[..., 2] / 255., atol=1e-6)  # channel 0 is red


def test_lq_made_on_the_fly_equals_lq_folder(tmp_path):
    hr, lr = make_pairs(tmp_path, count=2, size=(48, 60))
    from_folder = PairedImageDataset(str(hr), str(lr), gt_size=32, use_rot=True, scale=4)
    on_the_fly = PairedImageDataset(str(hr), None, gt_size=32, use_rot=True, scale=4)
    for key in [(0, 'a'), (1, 'b'), (1, 'c')]:
        a, b = from_folder[key], on_the_fly[key]
        assert torch.equal(a['gt'], b['gt'])
        assert (a['lq'] - b['lq']).abs().max() <= 1 / 255 + 1e-6
    val = PairedImageDataset(str(hr), None, phase='val', scale=4)[0]
    ref = PairedImageDataset(str(hr), str(lr), phase='val', scale=4)[0]
    assert torch.equal(val['lq'], ref['lq'])


def test_lmdb_gives_byte_identical_crops_to_folders(tmp_path):
    hr, lr = make_pairs(tmp_path, count=3, size=(48, 60))
    lmdbs = {}
    for name, folder in (('gt', hr), ('lq', lr)):
        paths = scan_images(folder)
        lmdbs[name] = tmp_path / f'{name}.lmdb'
        make_lmdb_from_imgs(str(folder), str(lmdbs[name]), paths, [p.rsplit('.', 1)[0] for p in paths],
                            progress=False)
    disk = PairedImageDataset(str(hr), str(lr), gt_size=32, use_hflip=True, use_rot=True, scale=4)
    lmdb = PairedImageDataset(str(lmdbs['gt']), str(lmdbs['lq']), io_backend={'type': 'lmdb'}, gt_size=32,
                              use_hflip=True, use_rot=True, scale=4)
    assert len(disk) == len(lmdb) == 3
    for index in range(3):
        for seed in ('x', 'y'):
            a, b = disk[(index, seed)], lmdb[(index, seed)]
            assert a['gt'].numpy().tobytes() == b['gt'].numpy().tobytes()
            assert a['lq'].numpy().tobytes() == b['lq'].numpy().tobytes()


def test_folder_mismatches_name_the_file(tmp_path):
    hr, lr = make_pairs(tmp_path, count=2)
    (lr / 'img01.png').rename(lr / 'other.png')
    with pytest.raises(DataError, match='img01.png: no LQ image img01.png'):
        PairedImageDataset(str(hr), str(lr), gt_size=32, scale=4)


def test_meta_info_file_selects_and_checks_files(tmp_path):
    hr, lr = make_pairs(tmp_path, count=3)
    meta = tmp_path / 'meta.txt'
    meta.write_text('img02.png (48,60,3)\nimg00.png (48,60,3)\n')
    dataset = PairedImageDataset(str(hr), str(lr), meta_info_file=str(meta), gt_size=32, scale=4)
    assert [p['gt_path'].rsplit('/', 1)[1] for p in dataset.paths] == ['img02.png', 'img00.png']
    meta.write_text('img00.png\nmissing.png\n')
    with pytest.raises(DataError, match='meta.txt, line 2: missing.png does not exist'):
        PairedImageDataset(str(hr), str(lr), meta_info_file=str(meta), gt_size=32, scale=4)


def test_grey_rgba_and_16bit_images_are_converted(tmp_path):
    base = synthetic_image(5, 16, 16)
    imwrite(base[..., 0], tmp_path / 'grey.png')
    imwrite(np.concatenate([base, np.full((16, 16, 1), 128, np.uint8)], axis=2), tmp_path / 'rgba.png')
    imwrite(base.astype(np.uint16) * 257, tmp_path / 'deep.png')
    dataset = SingleImageDataset(str(tmp_path))
    samples = {p.rsplit('/', 1)[1]: dataset[i]['lq'] for i, p in enumerate(dataset.paths)}
    assert all(t.shape == (3, 16, 16) for t in samples.values())
    assert torch.equal(samples['grey.png'][0], samples['grey.png'][2])
    np.testing.assert_allclose(samples['rgba.png'].numpy(), samples['deep.png'].numpy(), atol=1e-6)


def test_sampler_is_reproducible_and_resumes_mid_epoch():
    sampler = EnlargedSampler(10, ratio=3, seed=7)
    sampler.set_epoch(2)
    full = list(sampler)
    assert len(full) == 30 and sorted(i for i, _ in full) == sorted(list(range(10)) * 3)
    sampler.set_epoch(2, skip=12)
    assert list(sampler) == full[12:]
    sampler.set_epoch(3)
    assert [i for i, _ in sampler] != [i for i, _ in full]
    ranks = [list(EnlargedSampler(10, num_replicas=2, rank=r, ratio=3, seed=7)) for r in (0, 1)]
    assert sorted(ranks[0] + ranks[1]) == sorted(EnlargedSampler(10, ratio=3, seed=7).__iter__())


def test_batches_do_not_depend_on_the_number_of_workers(tmp_path):
    hr, lr = make_pairs(tmp_path, count=4, size=(48, 60))
    opts = {'type': 'PairedImageDataset', 'name': 't', 'phase': 'train', 'scale': 4, 'dataroot_gt': str(hr),
            'dataroot_lq': str(lr), 'gt_size': 32, 'use_hflip': True, 'use_rot': True, 'batch_size_per_gpu': 2,
            'pin_memory': False, 'persistent_workers': False, 'num_worker_per_gpu': 0}
    batches = []
    for workers in (0, 2):
        dataset = build_dataset({**opts, 'num_worker_per_gpu': workers})
        sampler = EnlargedSampler(len(dataset), ratio=2, seed=3)
        loader = build_dataloader(dataset, {**opts, 'num_worker_per_gpu': workers}, sampler)
        batches.append([b['gt'] for b in loader])
    assert len(batches[0]) == 4
    assert all(torch.equal(a, b) for a, b in zip(*batches))
