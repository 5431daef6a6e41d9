"""BasicSR plug-in repositories run unchanged whatever order they register in and whatever extra keys their option
files carry (issue 25).

``plugin_project/gansr`` is a Real-ESRGAN-style plug-in: its ``archs/`` registers its own ``UNetDiscriminatorSN``,
``VGGStyleDiscriminator`` and ``SRVGGNetCompact`` (the names of basicsr's built-ins), and its ``TwoLossModel``
subclasses SRModel and trains its own ``train.l1_opt`` / ``train.l2_opt``. Runs that register plug-ins happen in
subprocesses (two in all: starting one costs seconds), so this test process keeps basicsr's built-ins.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from basicsr.utils.registry import Registry

from conftest import ROOT, tiny_train_options, write_yaml

PLUGIN_PROJECT = Path(__file__).resolve().parent / 'plugin_project'

# A fresh interpreter: plug-ins registered before or after basicsr.archs is imported, then 2 GAN iterations with
# the plug-in's generator and discriminator, then modules imported a second time; with a second option file, that
# file parsed strictly (the error kept) and then trained with --lenient (stderr from then on follows a marker).
SCRIPT = r'''
import importlib, json, sys
order, option_file, root, lenient_file = sys.argv[1:5]
if order == 'basicsr_first':
    import basicsr.archs
import gansr.archs
archs_before = gansr.archs.BASICSR_ARCHS_LOADED
import gansr
from basicsr.archs import build_network
from basicsr.train import train_pipeline
from basicsr.utils.registry import ARCH_REGISTRY
from gansr.archs.discriminator_arch import CALLS

train_pipeline(root, argv=['-opt', option_file])
result = {'archs_imported_before_plugin': archs_before, 'calls': dict(CALLS),
          'vgg_style': type(build_network({'type': 'VGGStyleDiscriminator', 'num_feat': 4})).__module__}
# modules run a second time under their names (as a half-imported module is): the plug-in's and built-ins
importlib.reload(gansr.archs.srvgg_arch)
importlib.reload(importlib.import_module('basicsr.archs.discriminator_arch'))
importlib.reload(importlib.import_module('basicsr.archs.srvgg_arch'))
result['after_reimport'] = {name: ARCH_REGISTRY.get(name).__module__
                            for name in ('UNetDiscriminatorSN', 'VGGStyleDiscriminator', 'SRVGGNetCompact')}
if lenient_file:
    from basicsr.utils.errors import OptionError
    from basicsr.utils.options import parse_options
    try:
        parse_options(lenient_file)
    except OptionError as err:
        result['strict_error'] = str(err)
    print('LENIENT RUN', file=sys.stderr, flush=True)
    train_pipeline(root, argv=['-opt', lenient_file, '--lenient'])
print('RESULT ' + json.dumps(result))
'''


def _env(project: Path) -> dict:
    return {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT), str(project)])}


@pytest.fixture(scope='module')
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('gansr') / 'project'
    shutil.copytree(PLUGIN_PROJECT, root)
    return root


def _gan_options(project: Path, name: str) -> Path:
    opt = tiny_train_options(project / name, name=name, model_type='SRGANModel', train__total_iter=2,
                             network_g={'type': 'SRVGGNetCompact', 'num_feat': 4, 'num_conv': 1, 'upscale': 4},
                             network_d={'type': 'UNetDiscriminatorSN', 'num_feat': 4},
                             train__optim_d={'type': 'Adam', 'lr': 1e-3, 'betas': [0.9, 0.99]},
                             train__gan_opt={'type': 'GANLoss', 'gan_type': 'vanilla', 'loss_weight': 0.1},
                             train__ema_decay=0, val={'val_freq': 100}, logger__save_checkpoint_freq=2,
                             logger__use_tb_logger=False)
    del opt['path']['root']  # the run goes under the root the script gives
    return write_yaml(project / f'{name}.yml', opt)


def _lenient_options(project: Path) -> Path:
    """A plug-in repository's file: a dataset key no dataset reads (BasicSR ignores it), a loss no model here
    implements, and the plug-in model's own loss keys; no pixel_opt (the model sets up its losses itself)."""
    opt = tiny_train_options(project / 'lenient', name='lenient', model_type='TwoLossModel', train__total_iter=2,
                             train__ema_decay=0, datasets__train__task='SR',
                             train__mystery_opt={'type': 'L1Loss', 'loss_weight': 1.0},
                             train__l1_opt={'type': 'L1Loss', 'loss_weight': 1.0},
                             train__l2_opt={'type': 'MSELoss', 'loss_weight': 1.0},
                             network_g={'type': 'SRVGGNetCompact', 'num_feat': 4, 'num_conv': 1, 'upscale': 4},
                             val={'val_freq': 100}, logger__save_checkpoint_freq=2, logger__use_tb_logger=False)
    del opt['train']['pixel_opt'], opt['path']['root']
    return write_yaml(project / 'lenient.yml', opt)


@pytest.fixture(scope='module', params=['plugin_first', 'basicsr_first'])
def run(request, project) -> tuple[str, dict, str]:
    """(order, the script's result, its stderr); the lenient file runs with the plug-in-first order."""
    order = request.param
    lenient_file = str(_lenient_options(project)) if order == 'plugin_first' else ''
    done = subprocess.run([sys.executable, '-c', SCRIPT, order, str(_gan_options(project, order)), str(project),
                           lenient_file], cwd=project, env=_env(project), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return order, json.loads(done.stdout.split('RESULT ', 1)[1]), done.stderr


def test_a_plugin_replaces_builtins_whatever_the_import_order(run, project):
    order, result, stderr = run
    assert result['archs_imported_before_plugin'] == (order == 'basicsr_first')
    # both networks that trained are the plug-in's: 2 iterations, and the discriminator saw real and fake images
    assert result['calls']['SRVGGNetCompact'] >= 2 and result['calls']['UNetDiscriminatorSN'] >= 4
    assert result['vgg_style'] == 'gansr.archs.discriminator_arch'
    assert (project / 'experiments' / order / 'models' / 'net_d_2.pth').is_file()
    assert any('replaces' in line and 'UNetDiscriminatorSN' in line for line in stderr.splitlines())
    # importing a module a second time (the plug-in's or a built-in) raised nothing and changed no winner
    assert result['after_reimport'] == {'UNetDiscriminatorSN': 'gansr.archs.discriminator_arch',
                                        'VGGStyleDiscriminator': 'gansr.archs.discriminator_arch',
                                        'SRVGGNetCompact': 'gansr.archs.srvgg_arch'}


def test_register_with_a_suffix_and_the_fallback_of_get():
    """BasicSR 1.4.2's ``register(obj=None, suffix=None)``; ``get(name)`` falls back to ``<name>_basicsr``."""
    registry = Registry('test')

    @registry.register(suffix='basicsr')
    class Net(nn.Module):
        pass

    class Other(nn.Module):
        pass

    registry.register(Other, 'mine')  # BasicSR's positional form: (obj, suffix)
    assert 'Net_basicsr' in registry and 'Net' not in registry and 'Other_mine' in registry
    assert registry.get('Net_basicsr') is Net and registry.get('Net') is Net
    assert registry.get('Other', 'mine') is Other

    @registry.register()
    class Net(nn.Module):  # noqa: F811  (a plug-in's own Net, unsuffixed)
        pass

    assert registry.get('Net') is Net and registry.get('Net_basicsr') is not Net  # the exact name comes first


def test_unknown_keys_are_one_strict_error_with_the_lenient_hint(run):
    order, result, _ = run
    if order != 'plugin_first':
        pytest.skip('the file with unknown keys runs once, with the plug-in-first order')
    error = result['strict_error']  # one error for all three, ending with how to run anyway
    for key in ('datasets.train.task', 'train.mystery_opt', 'train.l1_opt'):
        assert key in error, key
    assert '--lenient' in error.strip().splitlines()[-1]


def test_with_lenient_one_warning_and_the_plugin_model_trains_its_own_losses(run, project):
    order, _, stderr = run
    if order != 'plugin_first':
        pytest.skip('the file with unknown keys runs once, with the plug-in-first order')
    lenient = stderr.split('LENIENT RUN', 1)[1].splitlines()
    iterations = [line for line in lenient if '][epoch:' in line]
    assert len(iterations) == 2 and all('l_l1' in line and 'l_l2' in line for line in iterations)  # its own losses
    saved = torch.load(project / 'experiments' / 'lenient' / 'models' / 'net_g_2.pth', weights_only=True)
    assert any(key.startswith('body.') for key in saved['params'])  # the plug-in's SRVGGNetCompact
    warnings = [line for line in lenient if 'train.mystery_opt' in line]
    assert len(warnings) == 1 and 'datasets.train.task' in warnings[0]  # one warning lists what is not used
