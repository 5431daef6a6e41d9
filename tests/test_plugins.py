"""BasicSR plug-ins and one-file recipes run on this package.

* ``plugin_project/`` is a research repository written as a BasicSR plug-in (network, dataset taking ``opt``,
  a model subclassing SRModel that overrides ``test()`` and ``nondist_validation()`` and reads a root-level key of
  its own); its ``train.py`` calls ``basicsr.train.train_pipeline(root)``.
* ``recipes/edge_sr_model.py`` is a recipe in one file: an extra loss term and its own option keys.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from basicsr.archs.srresnet_arch import MSRResNet
from basicsr.models.sr_model import SRModel
from basicsr.train import train_pipeline
from basicsr.utils.checkpoint import save_checkpoint
from basicsr.utils.errors import CheckpointError, OptionError
from basicsr.utils.img_util import imread
from basicsr.utils.option_schema import Key, positive
from basicsr.utils.options import parse_options
from basicsr.utils.registry import MODEL_REGISTRY

from conftest import ROOT, make_pairs, tiny_train_options, write_yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / 'recipes'))
import edge_sr_model  # noqa: E402  (registers EdgeSRModel)


@MODEL_REGISTRY.register()
class DeclaringPlugModel(SRModel):
    """A third-party model that declares its root-level key: typos in it are errors, as for our recipes."""
    root_options = {'window_size': Key(int, 8, positive)}


@pytest.fixture(scope='module')
def plugin_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """The plug-in repository copied to a folder with its datasets, trained with ``python train.py -opt ...
    --lenient`` (its option file carries a key of its own model, ``window_size``, which basicsr does not know)."""
    root = tmp_path_factory.mktemp('plugin') / 'project'
    shutil.copytree(HERE / 'plugin_project', root)
    hr, lr = make_pairs(root / 'datasets' / 'plug', count=4, size=(48, 60))
    hr.rename(root / 'datasets' / 'plug' / 'hr')
    lr.rename(root / 'datasets' / 'plug' / 'lr')
    val_hr, val_lr = make_pairs(root / 'datasets' / 'plugval', count=2, size=(36, 44), seed=50)  # LR 9x11
    val_hr.rename(root / 'datasets' / 'plug' / 'val_hr')
    val_lr.rename(root / 'datasets' / 'plug' / 'val_lr')
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT), str(root)])}
    done = subprocess.run([sys.executable, 'train.py', '-opt', 'options/train_plug.yml', '--lenient'], cwd=root,
                          env=env, capture_output=True, text=True, timeout=300)
    return done, root


def test_a_basicsr_plugin_repository_trains_and_validates(plugin_run):
    done, root = plugin_run
    assert done.returncode == 0, done.stderr[-3000:]
    exp = root / 'experiments' / 'plug_x4'
    assert (exp / 'models' / 'net_g_2.pth').is_file() and (exp / 'models' / 'net_g_latest.pth').is_file()
    assert (exp / 'training_states' / '2.state').is_file()
    log = done.stderr
    assert 'Model [PlugModel] is created.' in log
    assert 'l_pix' in log and "Validation plug_val" in log and '# psnr:' in log
    # the overridden test() padded the 9x11 LR to multiples of window_size 4 and cropped the output back
    for name in ('img00', 'img01'):
        sr = imread(exp / 'visualization' / name / f'{name}_2.png')
        assert sr.shape[:2] == (36, 44)


def test_undeclared_plugin_keys_are_listed_in_one_warning(plugin_run):
    done, _ = plugin_run
    warnings = [line for line in done.stderr.splitlines() if 'unknown keys accepted (--lenient)' in line]
    assert len(warnings) == 1
    assert 'window_size' in warnings[0]


def test_a_plugin_declaring_its_keys_gets_a_typo_error_with_file_and_line(tmp_path):
    opt = tiny_train_options(tmp_path, model_type='DeclaringPlugModel', window_sise=4)
    path = write_yaml(tmp_path / 'typo.yml', opt)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text.startswith('window_sise'))
    with pytest.raises(OptionError, match=rf"typo\.yml, line {line}: window_sise: unknown key\. "
                                          r"Did you mean 'window_size'\?"):
        parse_options(path)
    opt['window_size'] = 0  # declared range checks apply too
    del opt['window_sise']
    with pytest.raises(OptionError, match=r'window_size: must be > 0'):
        parse_options(write_yaml(tmp_path / 'range.yml', opt))


def test_a_one_file_recipe_with_its_own_loss_and_keys_trains(tmp_path):
    opt = tiny_train_options(tmp_path, model_type='EdgeSRModel', edge_weight=0.5, val={'val_freq': 100},
                             train__total_iter=2, train__edge_opt={'type': 'L1Loss', 'loss_weight': 1.0},
                             train__edge_start_iter=1, logger__save_checkpoint_freq=2)
    train_pipeline(argv=['-opt', str(write_yaml(tmp_path / 'edge.yml', opt))])
    exp = tmp_path / 'experiments' / 'tiny'
    log = next(exp.glob('train_tiny_*.log')).read_text()
    iteration_lines = [line for line in log.splitlines() if '][epoch:' in line]
    assert 'l_edge' not in iteration_lines[0] and 'l_edge' in iteration_lines[1]  # starts after iteration 1
    assert (exp / 'models' / 'net_g_2.pth').is_file()
    opt['train']['edge_opt']['loss_wieght'] = 1.0
    with pytest.raises(OptionError, match=r"train\.edge_opt\.loss_wieght: unknown argument of L1Loss\. "
                                          r"Did you mean 'loss_weight'\?"):
        parse_options(write_yaml(tmp_path / 'edge_typo.yml', opt))


def basicsr_raw_options(scale: int, pretrain: str | None = None, strict: bool = True) -> dict:
    """An option dict made by hand, as BasicSR's tests and plug-in code make them (nothing is parsed)."""
    return yaml.safe_load(f"""
scale: {scale}
num_gpu: 1
manual_seed: 0
is_train: True
dist: False
network_g: {{type: MSRResNet, num_in_ch: 3, num_out_ch: 3, num_feat: 4, num_block: 1, upscale: {scale}}}
path: {{pretrain_network_g: {pretrain or '~'}, strict_load_g: {str(strict).lower()}, resume_state: ~}}
train:
  ema_decay: 0.999
  optim_g: {{type: Adam, lr: !!float 2e-4, weight_decay: 0, betas: [0.9, 0.99]}}
  scheduler: {{type: CosineAnnealingRestartLR, periods: [250000, 250000], restart_weights: [1, 1],
              eta_min: !!float 1e-7}}
  total_iter: 1000000
  warmup_iter: -1
  pixel_opt: {{type: L1Loss, loss_weight: 1.0, reduction: mean}}
val:
  val_freq: !!float 5e3
  save_img: True
  metrics:
    psnr: {{type: calculate_psnr, crop_border: 4, test_y_channel: false, better: higher}}
""")


def test_x4_weights_fine_tune_x3_non_strictly_skipping_the_upsampler(tmp_path, basicsr_log):
    """BasicSR's train_MSRResNet_x3.yml: start x3 from the x4 network with strict_load_g: false."""
    x4 = MSRResNet(num_feat=4, num_block=1, upscale=4)
    path = tmp_path / 'net_g_x4.pth'
    save_checkpoint({'params': x4.state_dict()}, path)
    model = SRModel(basicsr_raw_options(3, str(path), strict=False))
    assert 'upconv1.weight' in basicsr_log.text and 'shapes differ' in basicsr_log.text
    loaded = model.get_bare_model(model.net_g).state_dict()
    assert torch.equal(loaded['conv_first.weight'], x4.state_dict()['conv_first.weight'])  # what fits is loaded
    with pytest.raises(CheckpointError, match=r'upconv1\.weight: \(16, 4, 3, 3\) in file, \(36, 4, 3, 3\)'):
        SRModel(basicsr_raw_options(3, str(path), strict=True))


def test_srmodel_on_a_raw_basicsr_dict_as_basicsrs_own_test_uses_it(tmp_path):
    """BasicSR's tests/test_models/test_sr_model.py, with assertions on the values."""
    opt = basicsr_raw_options(4)
    model = SRModel(opt)
    assert isinstance(model.net_g, MSRResNet) and type(model.cri_pix).__name__ == 'L1Loss'
    assert model.cri_perceptual is None and isinstance(model.optimizers[0], torch.optim.Adam)
    assert model.ema_decay == 0.999 and model.net_g_ema is not None
    assert model.opt['val']['tile'] is None and model.opt['logger']['print_freq'] == 100  # defaults filled in
    model.feed_data({'gt': torch.rand(1, 3, 32, 32), 'lq': torch.rand(1, 3, 8, 8)})
    assert model.lq.shape == (1, 3, 8, 8) and model.gt.shape == (1, 3, 32, 32)
    model.optimize_parameters(1)
    assert model.output.shape == (1, 3, 32, 32)
    assert set(model.log_dict) == {'l_pix'} and float(model.log_dict['l_pix']) > 0
    assert list(model.get_current_log()) == ['l_pix']

    model.opt['path']['models'] = model.opt['path']['training_states'] = str(tmp_path)
    model.save(0, 1)
    saved = torch.load(tmp_path / 'net_g_1.pth', weights_only=True)
    assert set(saved) == {'params', 'params_ema', 'basicsr_network'} and (tmp_path / '1.state').is_file()

    model.test()
    assert model.output.shape == (1, 3, 32, 32)
    del model.net_g_ema  # without EMA, test() uses net_g and puts it back in training mode
    model.test()
    assert model.output.shape == (1, 3, 32, 32) and model.net_g.training

    hr, lr = make_pairs(tmp_path / 'data', count=2, size=(32, 32))
    from basicsr.data.paired_image_dataset import PairedImageDataset
    dataset = PairedImageDataset(dict(name='Test', dataroot_gt=str(hr), dataroot_lq=str(lr),
                                      io_backend=dict(type='disk'), scale=4, phase='val'))
    loader = torch.utils.data.DataLoader(dataset=dataset, batch_size=1, shuffle=False, num_workers=0)
    model.opt['path']['visualization'] = str(tmp_path / 'vis')
    model.nondist_validation(loader, 1, None, save_img=True)
    assert model.is_train and isinstance(model.metric_results['psnr'], float)
    assert model.best_metric_results['Test']['psnr'] == {'better': 'higher', 'val': model.metric_results['psnr'],
                                                         'iter': 1}
    assert (tmp_path / 'vis' / 'img00' / 'img00_1.png').is_file()
    model.opt['is_train'] = False  # test mode: images named after the suffix, in a folder per dataset
    model.opt['val']['suffix'] = 'test'
    model.nondist_validation(loader, 1, None, save_img=True)
    assert (tmp_path / 'vis' / 'Test' / 'img00_test.png').is_file()


def test_srganmodel_on_a_raw_dict_needs_its_discriminator(tmp_path):
    from basicsr.models.srgan_model import SRGANModel
    opt = basicsr_raw_options(4)
    opt['model_type'] = 'SRGANModel'
    with pytest.raises(OptionError, match='network_d: SRGANModel needs a discriminator'):
        SRGANModel(opt)


def test_a_plugin_may_replace_a_builtin_network_of_the_same_name(basicsr_log):
    """The HAT repository registers its own HAT (and HATModel) in basicsr's registries when imported."""
    from torch import nn

    from basicsr.utils.registry import ARCH_REGISTRY
    builtin = ARCH_REGISTRY.get('HAT')
    try:
        plugin_hat = type('HAT', (nn.Module,), {'__module__': 'hat.archs.hat_arch'})
        ARCH_REGISTRY.register(plugin_hat)
        assert ARCH_REGISTRY.get('HAT') is plugin_hat
        assert "The arch 'HAT' of hat.archs.hat_arch replaces basicsr's own (basicsr.archs.hat_arch)." \
            in basicsr_log.text
        with pytest.raises(KeyError, match="'HAT' is already registered"):  # two plug-ins: a real clash
            ARCH_REGISTRY.register(type('HAT', (nn.Module,), {'__module__': 'other.archs'}))
    finally:
        ARCH_REGISTRY._obj_map['HAT'] = builtin
