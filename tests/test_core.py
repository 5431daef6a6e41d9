"""The core's promises: options are written only by the option layer (a deep comparison around a whole run and
its resume, for every recipe family), and loss terms are an open list in the option file."""
import copy
import importlib
import sys
from pathlib import Path

import pytest

import basicsr.train as train_module
from basicsr.train import train_pipeline

from conftest import ROOT, make_pairs, synthetic_image, tiny_train_options, write_yaml
from basicsr.utils.img_util import imwrite

sys.path.insert(0, str(Path(__file__).parent / 'recipes'))

GAN_TRAIN = {'optim_d': {'type': 'Adam', 'lr': 1e-3}, 'gan_opt': {'type': 'GANLoss', 'gan_type': 'vanilla',
                                                                  'loss_weight': 5e-3}}


def sr_options(tmp_path: Path) -> dict:
    return tiny_train_options(tmp_path, logger__save_checkpoint_freq=2, train__total_iter=3, val__val_freq=2)


def esrgan_options(tmp_path: Path) -> dict:
    opt = sr_options(tmp_path)
    opt.update(model_type='ESRGANModel', network_d={'type': 'SRGANDiscriminator', 'num_feat': 4, 'input_size': 32})
    opt['train'].update(GAN_TRAIN)
    return opt


def realesrgan_options(tmp_path: Path) -> dict:
    gt_dir = tmp_path / 'gt'
    for i in range(4):
        imwrite(synthetic_image(i, 48, 60), gt_dir / f'img{i}.png')
    opt = sr_options(tmp_path)
    opt.update(model_type='RealESRGANModel', gt_size=32, queue_size=4,
               network_g={'type': 'SRVGGNetCompact', 'num_feat': 8, 'num_conv': 2, 'upscale': 4},
               network_d={'type': 'UNetDiscriminatorSN', 'num_feat': 4})
    opt['datasets']['train'] = {'name': 'gt', 'type': 'RealESRGANDataset', 'dataroot_gt': str(gt_dir),
                                'crop_pad_size': 64, 'batch_size_per_gpu': 2, 'num_worker_per_gpu': 0}
    opt['train'].update(GAN_TRAIN)
    return opt


def dsgan_argv(tmp_path: Path) -> list[str]:
    source, _ = make_pairs(tmp_path / 'train', count=2, size=(40, 44))
    val_source, _ = make_pairs(tmp_path / 'val', count=1, size=(32, 36), seed=100)
    for i in range(2):
        imwrite(synthetic_image(200 + i, 36, 40), tmp_path / 'real' / f'real{i}.png')
    return ['-opt', str(ROOT / 'options' / 'dsgan_x4.yml'), '--force_yml', f'path:root={tmp_path}', 'num_gpu=0',
            f'datasets:train:dataroot_source={source}', f'datasets:train:dataroot_target={tmp_path / "real"}',
            'datasets:train:gt_size=32', 'datasets:train:num_worker_per_gpu=0',
            'datasets:train:batch_size_per_gpu=2', f'datasets:val:dataroot_source={val_source}',
            f'datasets:val:dataroot_target={tmp_path / "real"}', 'network_g:num_feat=4', 'network_g:num_block=1',
            'network_d:num_feat=4', 'train:perceptual_opt={type: L1Loss}', 'train:total_iter=3',
            'train:scheduler:start=2', 'train:scheduler:end=3', 'val:val_freq=2', 'logger:save_checkpoint_freq=2']


def recorded_run(monkeypatch, argv: list[str]) -> tuple[dict, dict, dict]:
    """Run ``train_pipeline(argv)``; return the options as resolved, a copy taken right then, and the model's."""
    seen = {}
    resolve, build = train_module.resolve_options, train_module.build_model

    def spy_resolve(*args, **kwargs):
        opt, state = resolve(*args, **kwargs)
        seen.update(opt=opt, copy=copy.deepcopy(opt))
        return opt, state

    def spy_build(opt):
        seen['model'] = build(opt)
        return seen['model']

    monkeypatch.setattr(train_module, 'resolve_options', spy_resolve)
    monkeypatch.setattr(train_module, 'build_model', spy_build)
    train_pipeline(argv=argv)
    return seen['opt'], seen['copy'], seen['model'].opt


@pytest.mark.parametrize('recipe', ['SRModel', 'ESRGANModel', 'RealESRGANModel', 'DSGANModel'])
def test_no_code_writes_the_options_after_the_resolver(tmp_path, monkeypatch, recipe):
    """Building the model, training (one iteration and more), validating, saving, and a resumed run that does
    all of it again leave the resolved options exactly as the resolver made them."""
    if recipe == 'DSGANModel':
        argv = dsgan_argv(tmp_path)
    else:
        builder = {'SRModel': sr_options, 'ESRGANModel': esrgan_options, 'RealESRGANModel': realesrgan_options}
        argv = ['-opt', str(write_yaml(tmp_path / 'o.yml', builder[recipe](tmp_path)))]
    opt, snapshot, model_opt = recorded_run(monkeypatch, argv[:1] + argv[1:2] + argv[2:] + (
        ['train:total_iter=2'] if recipe == 'DSGANModel' else ['--force_yml', 'train:total_iter=2']))
    assert opt == snapshot and model_opt == snapshot
    opt, snapshot, model_opt = recorded_run(monkeypatch, argv + ['--auto_resume'])  # resumes at 2, runs to 3
    assert opt['path']['resume_state'].endswith('2.state')
    assert opt == snapshot and model_opt == snapshot


def test_three_loss_terms_from_a_list_train_and_are_logged_by_name(tmp_path):
    losses = [{'type': 'L1Loss', 'loss_weight': 1.0},
              {'type': 'MSSSIML1Loss', 'loss_weight': 0.5, 'name': 'mix'},
              {'type': 'PerceptualLoss', 'layer_weights': {'conv1_1': 1.0}, 'vgg_type': 'vgg11',
               'pretrained': False, 'style_weight': 1.0}]
    opt = tiny_train_options(tmp_path, train__total_iter=2, train__losses=losses, val__val_freq=100)
    del opt['train']['pixel_opt']
    train_pipeline(argv=['-opt', str(write_yaml(tmp_path / 'o.yml', opt))])
    log = next((tmp_path / 'experiments' / 'tiny').glob('train_*.log')).read_text()
    line = [row for row in log.splitlines() if '][epoch:' in row][-1]
    for name in ('l_l1:', 'l_mix:', 'l_perceptual:', 'l_perceptual_style:'):
        assert name in line, (name, line)


def test_a_loss_in_one_new_file_is_used_from_yaml_with_no_model_change(tmp_path):
    importlib.import_module('sharpness_loss')  # tests/recipes/sharpness_loss.py registers SharpnessLoss
    opt = tiny_train_options(tmp_path, train__total_iter=2, val__val_freq=100,
                             train__losses=[{'type': 'SharpnessLoss', 'loss_weight': 2.0, 'name': 'sharp'}])
    train_pipeline(argv=['-opt', str(write_yaml(tmp_path / 'o.yml', opt))])
    log = next((tmp_path / 'experiments' / 'tiny').glob('train_*.log')).read_text()
    line = [row for row in log.splitlines() if '][epoch:' in row][-1]
    sharp = float(line.split('l_sharp: ')[1].split()[0])
    assert 'l_pix: ' in line and 0 < sharp < 100, line


def test_loss_term_names_must_be_unique_and_targets_offered(tmp_path):
    from basicsr.config import parse_options
    from basicsr.utils.errors import OptionError
    twice = tiny_train_options(tmp_path, train__losses=[{'type': 'L1Loss', 'name': 'pix'}])
    with pytest.raises(OptionError, match="'pix' is also used by train.pixel_opt"):
        from basicsr.models import build_model
        build_model(parse_options(write_yaml(tmp_path / 'a.yml', twice)))
    wrong = tiny_train_options(tmp_path, train__losses=[{'type': 'L1Loss', 'target': 'gt_usm'}])
    with pytest.raises(OptionError, match=r"train\.losses\.0\.target: 'gt_usm' is not an image SRModel offers"):
        parse_options(write_yaml(tmp_path / 'b.yml', wrong))
