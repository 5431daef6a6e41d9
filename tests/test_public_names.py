"""Every name BasicSR 1.4.2 (and 1.3's module paths) makes importable from a module the project covers imports
from the same module here (tests/data/basicsr_1_4_2_names.json says how the list was derived and what was left
out, and why)."""
import importlib
import json
from pathlib import Path

import pytest

NAMES_FILE = Path(__file__).parent / 'data' / 'basicsr_1_4_2_names.json'
TABLE = json.loads(NAMES_FILE.read_text())

# Names in files the lead is rewriting (issue 25): listed here until they are added there; a strict xfail, so the
# test says when an entry has become importable and must leave this table.
AWAITING_LEAD: dict[str, set[str]] = {}  # names the lead had still to add (none left)


def _params():
    for module, names in TABLE['modules'].items():
        waiting = AWAITING_LEAD.get(module, set())
        ready = [n for n in names if n not in waiting]
        yield pytest.param(module, ready, id=module)
        if waiting:
            yield pytest.param(module, sorted(waiting), id=f'{module}-awaiting-lead',
                               marks=pytest.mark.xfail(strict=True, reason='issue 25: the lead adds these'))


@pytest.mark.parametrize('module, names', list(_params()))
def test_basicsr_names_import_from_the_same_module(module, names):
    imported = importlib.import_module(module)  # `from module import name` reads the module's attribute
    missing = [name for name in names if not hasattr(imported, name)]
    assert not missing, f'{module} lacks {missing}'


def test_the_list_is_the_derived_one():
    modules = TABLE['modules']
    assert 'BasicSR 1.4.2' in TABLE['source'] and 'ast' in TABLE['derivation']
    assert sum(map(len, modules.values())) == 356 and len(modules) == 53
    # the names the issue and plug-in repositories cite
    assert 'scandir' in modules['basicsr.data.data_util']
    assert {'UNetDiscriminatorSN', 'VGGStyleDiscriminator'} <= set(modules['basicsr.archs.discriminator_arch'])
    assert 'L1Loss' in modules['basicsr.losses.losses']  # the 1.3 path
    assert not set(modules) & set(TABLE['excluded']['modules'])
    for module, names in TABLE['excluded']['names'].items():
        assert not set(names) & set(modules.get(module, ())), module
        assert all(reason for reason in names.values())


def test_re_exports_are_the_one_implementation():
    """The added names are the project's objects under BasicSR's paths, not copies."""
    import torch

    from basicsr.archs import arch_util, vgg_arch
    from basicsr.data import data_sampler, data_util, prefetch_dataloader, prefetcher, sampler
    from basicsr.losses import basic_loss, losses, pixel_loss
    from basicsr.metrics import niqe
    from basicsr.models import lr_scheduler
    from basicsr.utils import img_util, misc
    assert data_util.scandir is misc.scandir and data_sampler.EnlargedSampler is sampler.EnlargedSampler
    assert prefetch_dataloader.CUDAPrefetcher is prefetcher.CUDAPrefetcher
    assert losses.L1Loss is basic_loss.L1Loss is pixel_loss.L1Loss and losses.l1_loss is basic_loss.l1_loss
    assert niqe.compute_feature is niqe.block_features
    assert importlib.import_module('basicsr.archs.swinir_arch').to_2tuple is arch_util.to_2tuple
    assert vgg_arch.NAMES['vgg19'][:4] == ['conv1_1', 'relu1_1', 'conv1_2', 'relu1_2'] and len(vgg_arch.NAMES) == 4
    assert vgg_arch.NAMES['vgg19'][-1] == 'pool5' and len(vgg_arch.NAMES['vgg19']) == 37

    pred, target, weight = torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4), torch.rand(1, 1, 4, 4)
    assert torch.equal(basic_loss.l1_loss(pred, target, weight), pixel_loss.L1Loss()(pred, target, weight))
    assert torch.equal(basic_loss.mse_loss(pred, target, reduction='sum'), (pred - target).square().sum())
    assert torch.isclose(basic_loss.charbonnier_loss(pred, target), ((pred - target)**2 + 1e-12).sqrt().mean())
    # BasicSR's helper: the cycle an iteration falls in (cumulative periods 10, 20, 30)
    assert [lr_scheduler.get_position_from_periods(i, [10, 20, 30]) for i in (0, 10, 11, 30)] == [0, 0, 1, 2]
    img = img_util.tensor2img_fast(torch.full((1, 3, 2, 2), 0.5))
    assert img.shape == (2, 2, 3) and img.dtype.name == 'uint8' and int(img[0, 0, 0]) == 128
