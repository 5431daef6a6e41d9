"""Batch augmentations on synthetic batches: each changes the batch as specified, LQ and GT stay aligned at the
scale, only the given generator decides, and bad entries of train.batch_augment are named."""
import pytest
import torch
from torch.nn import functional as F

from basicsr.data.batch_augment import BATCH_AUGMENT, BatchAugment
from basicsr.utils.errors import ShapeMismatchError

SCALE = 2
LQ_LEVELS = torch.tensor([0.0, 0.25, 0.5, 1.0])


def constant_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Four flat images; GT = 0.2 + 0.5 * LQ, a relation mixing with one weight and one partner keeps."""
    lq = LQ_LEVELS.view(4, 1, 1, 1).expand(4, 3, 8, 12).clone()
    return lq, (0.2 + 0.5 * LQ_LEVELS).view(4, 1, 1, 1).expand(4, 3, 8 * SCALE, 12 * SCALE).clone()


def textured_batch(scale: int = SCALE) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    gt = torch.rand(4, 3, 8 * scale, 12 * scale, generator=generator)
    return torch.rand(4, 3, 8, 12, generator=generator), gt


def apply(entries: list, lq: torch.Tensor, gt: torch.Tensor, seed: int, scale: int = SCALE):
    return BatchAugment(entries, scale)(lq, gt, torch.Generator().manual_seed(seed))


def changed_mask(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    return ((after - before).abs() > 1e-5).any(dim=0)  # (H, W) of one image


def bounding_box(mask: torch.Tensor) -> tuple[slice, slice]:
    rows, cols = mask.nonzero(as_tuple=True)
    return slice(int(rows.min()), int(rows.max()) + 1), slice(int(cols.min()), int(cols.max()) + 1)


def upscaled(mask: torch.Tensor, scale: int) -> torch.Tensor:
    return mask.repeat_interleave(scale, 0).repeat_interleave(scale, 1)


def test_mixup_is_one_convex_combination_for_lq_and_gt():
    lq, gt = constant_batch()
    for seed in range(20):
        out_lq, out_gt = apply([{'type': 'mixup', 'alpha': 1.2}], lq, gt, seed)
        if not torch.equal(out_lq, lq):
            break
    assert not torch.equal(out_lq, lq)
    expected_gt = F.interpolate(0.2 + 0.5 * out_lq, scale_factor=SCALE, mode='nearest')
    torch.testing.assert_close(out_gt, expected_gt)  # the same weight and partner for LQ and GT
    assert torch.equal(out_lq, out_lq[:, :, :1, :1].expand_as(out_lq))  # a blend of whole images, no boxes
    assert out_lq.min() >= 0 and out_lq.max() <= 1


@pytest.mark.parametrize('entry', [{'type': 'cutmix', 'alpha': 0.5}, {'type': 'resizemix', 'scope': [0.3, 0.6]}])
def test_pasted_boxes_are_aligned_between_lq_and_gt(entry):
    lq, gt = constant_batch()
    for seed in range(20):  # one where the random order gives most images another partner
        out_lq, out_gt = apply([entry], lq, gt, seed)
        if sum(not torch.equal(a, b) for a, b in zip(lq, out_lq)) >= 2:
            break
    boxes = 0
    for index in range(4):
        lq_mask, gt_mask = changed_mask(lq[index], out_lq[index]), changed_mask(gt[index], out_gt[index])
        assert torch.equal(gt_mask, upscaled(lq_mask, SCALE))
        if lq_mask.any():
            boxes += 1
            rows, cols = bounding_box(lq_mask)
            assert lq_mask[rows, cols].all()  # a rectangle
            assert 0.2 <= (rows.stop - rows.start) / 8 <= 0.8
            partner = float(out_lq[index, 0, rows.start, cols.start])
            assert float((LQ_LEVELS - partner).abs().min()) < 1e-6  # a flat partner image (resized: still flat)
            assert float(out_gt[index, 0, rows.start * SCALE, cols.start * SCALE]) == pytest.approx(0.2 + 0.5 * partner)
    assert boxes >= 2


def test_resizemix_pastes_the_shrunk_partner():
    lq, gt = textured_batch()
    out_lq, out_gt = apply([{'type': 'resizemix', 'scope': [0.5, 0.5]}], lq, gt, seed=0)
    for index in range(4):
        rows, cols = bounding_box(changed_mask(lq[index], out_lq[index]))
        assert (rows.stop - rows.start, cols.stop - cols.start) == (4, 6)

        def shrunk(batch, size):
            return F.interpolate(batch, size=size, mode='bicubic', antialias=True).clamp(0, 1)

        lq_errors = (shrunk(lq, (4, 6)) - out_lq[index, :, rows, cols]).abs().amax(dim=(1, 2, 3))
        partner = int(lq_errors.argmin())
        assert lq_errors[partner] < 1e-6
        gt_rows = slice(rows.start * SCALE, rows.stop * SCALE)
        gt_cols = slice(cols.start * SCALE, cols.stop * SCALE)
        torch.testing.assert_close(out_gt[index, :, gt_rows, gt_cols], shrunk(gt[partner:partner + 1], (8, 12))[0])


@pytest.mark.parametrize('scale', [SCALE, 1])
def test_cutblur_mixes_clean_gt_into_the_lq_only(scale):
    """Inside: a box of the LQ shows the GT (downscaled to LQ size); outside: all but a box does. GT unchanged."""
    lq, gt = textured_batch(scale)
    clean = gt if scale == 1 else F.interpolate(gt, size=(8, 12), mode='bicubic', antialias=True).clamp(0, 1)
    seen = set()
    for seed in range(12):
        out_lq, out_gt = apply([{'type': 'cutblur', 'alpha': 0.5}], lq, gt, seed, scale)
        assert torch.equal(out_gt, gt)
        from_gt = (out_lq == clean).all(dim=1)  # (N, H, W)
        assert torch.equal(from_gt | (out_lq == lq).all(dim=1), torch.ones_like(from_gt))
        box = from_gt if from_gt.float().mean() < 0.5 else ~from_gt  # the box is the smaller part (alpha 0.5)
        rows, cols = bounding_box(box[0])
        assert box[:, rows, cols].all() and int(box.sum()) == 4 * (rows.stop - rows.start) * (cols.stop - cols.start)
        seen.add('inside' if box is from_gt else 'outside')
    assert seen == {'inside', 'outside'}


def test_same_generator_state_same_batch_and_inputs_untouched():
    lq, gt = textured_batch()
    lq_before, gt_before = lq.clone(), gt.clone()
    entries = [{'type': 'cutblur', 'prob': 0.5}, {'type': 'cutmix', 'prob': 0.5}, {'type': 'mixup', 'prob': 0.5},
               {'type': 'resizemix', 'prob': 0.5}]
    first = apply(entries, lq, gt, seed=11)
    second = apply(entries, lq, gt, seed=11)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    outcomes = {tuple(t.sum().item() for t in apply(entries, lq, gt, seed)) for seed in range(6)}
    assert len(outcomes) > 1  # the generator decides
    assert torch.equal(lq, lq_before) and torch.equal(gt, gt_before)
    assert all(torch.equal(a, b) for a, b in zip(apply([{'type': 'mixup', 'prob': 0.0}], lq, gt, 0), (lq, gt)))


def test_numbers_written_as_yaml_1_1_strings_are_read_as_numbers():
    lq, gt = constant_batch()
    as_float = apply([{'type': 'mixup', 'alpha': 0.5}], lq, gt, seed=4)
    as_text = apply([{'type': 'mixup', 'alpha': '5e-1'}], lq, gt, seed=4)
    assert all(torch.equal(a, b) for a, b in zip(as_float, as_text))


def test_shape_mismatch_is_named():
    lq, gt = textured_batch()
    with pytest.raises(ShapeMismatchError, match=r'GT batch \(4, 3, 16, 24\) is not the LQ batch \(4, 3, 8, 12\) '
                                                 r'times the scale 3'):
        BatchAugment([{'type': 'mixup'}], 3)(lq, gt, torch.Generator())


@pytest.mark.parametrize('entries, problem', [
    ([{'type': 'cutblur', 'prob': 0.5}, {'type': 'mixup', 'alpha': 0.4}], None),
    ([{'type': 'cutmx'}], "[0].type must be one of mixup, cutmix, resizemix, cutblur (got 'cutmx')"),
    ([{'prob': 0.5}], '[0].type must be one of mixup, cutmix, resizemix, cutblur (got None)'),
    ([{'type': ['mixup']}], "[0].type must be one of mixup, cutmix, resizemix, cutblur (got ['mixup'])"),
    ([{'type': 'mixup'}, {'type': 'cutmix', 'alpah': 0.7}],
     "[1].alpah: unknown argument of CutMix. Did you mean 'alpha'?"),
    ([{'type': 'cutblur', 'prob': 1.5}], '[0].prob (cutblur) must be in [0, 1]'),
    ([{'type': 'mixup', 'alpha': 0}], '[0].alpha (mixup) must be > 0'),
    ([{'type': 'cutmix', 'alpha': 1.2}], '[0].alpha (cutmix) must be in (0, 1]'),
    ([{'type': 'resizemix', 'scope': [0.8, 0.2]}], '[0].scope (resizemix) must be [low, high] with 0 < low <= high '
                                                   '<= 1'),
])
def test_schema_check_names_the_entry(entries, problem):
    assert BATCH_AUGMENT.check(entries) == problem
    assert BATCH_AUGMENT.default == []
