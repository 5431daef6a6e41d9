"""Option files: validation messages name the key path and line, defaults and overrides, safe loading."""
from pathlib import Path

import pytest
import yaml

from basicsr.utils.errors import OptionError
from basicsr.utils.options import parse_options, save_options

from conftest import tiny_train_options, write_yaml


def parse(tmp_path: Path, opt: dict, **kwargs) -> dict:
    return parse_options(write_yaml(tmp_path / 'opt.yml', opt), **kwargs)


def error_of(tmp_path: Path, opt: dict, **kwargs) -> str:
    with pytest.raises(OptionError) as info:
        parse(tmp_path, opt, **kwargs)
    return str(info.value)


def test_defaults_filled_and_paths_resolved(tmp_path):
    opt = parse(tmp_path, tiny_train_options(tmp_path))
    assert opt['train']['warmup_iter'] == -1
    assert opt['logger']['use_tb_logger'] is True
    assert opt['datasets']['train']['phase'] == 'train' and opt['datasets']['val']['phase'] == 'val'
    assert opt['datasets']['train']['scale'] == 4
    assert opt['datasets']['train']['num_worker_per_gpu'] == 0
    assert opt['path']['models'] == str(tmp_path / 'experiments' / 'tiny' / 'models')
    assert opt['path']['training_states'] == str(tmp_path / 'experiments' / 'tiny' / 'training_states')


def test_misspelt_key_names_path_line_and_suggestion(tmp_path):
    opt = tiny_train_options(tmp_path)
    opt['datasets']['train']['bacth_size_per_gpu'] = opt['datasets']['train'].pop('batch_size_per_gpu')
    message = error_of(tmp_path, opt)
    assert 'datasets.train.bacth_size_per_gpu' in message
    assert "Did you mean 'batch_size_per_gpu'?" in message
    line = next(i for i, text in enumerate((tmp_path / 'opt.yml').read_text().splitlines(), 1) if 'bacth' in text)
    assert f'line {line}' in message


def test_misspelt_plugin_argument_is_checked_against_the_constructor(tmp_path):
    opt = tiny_train_options(tmp_path)
    opt['network_g']['num_feet'] = 8
    message = error_of(tmp_path, opt)
    assert 'network_g.num_feet' in message and "Did you mean 'num_feat'?" in message


def test_unknown_type_lists_registered_names(tmp_path):
    opt = tiny_train_options(tmp_path)
    opt['network_g']['type'] = 'MSRResNett'
    message = error_of(tmp_path, opt)
    assert 'network_g.type' in message and "'MSRResNet'" in message and 'Registered:' in message


@pytest.mark.parametrize('dotted, value, expected', [
    ('train.total_iter', 'many', 'expected int'),
    ('train.total_iter', -5, 'must be > 0'),
    ('train.ema_decay', 1.5, 'must be in [0, 1)'),
    ('val.save_img', 'yes', 'expected bool'),
    ('network_g.num_feat', 'eight', 'expected int'),
    ('train.optim_g.betas', [0.9], 'expected a list'),
])
def test_wrong_types_and_ranges(tmp_path, dotted, value, expected):
    opt = tiny_train_options(tmp_path)
    section, key = dotted.rsplit('.', 1)
    target = opt
    for part in section.split('.'):
        target = target[part]
    target[key] = value
    message = error_of(tmp_path, opt)
    assert dotted in message and expected in message


def test_missing_required_keys(tmp_path):
    opt = tiny_train_options(tmp_path)
    del opt['train']['total_iter']
    assert 'train.total_iter: required but missing' in error_of(tmp_path, opt)
    opt = tiny_train_options(tmp_path)
    del opt['datasets']['train']['dataroot_gt']
    assert 'dataroot_gt: required by PairedImageDataset' in error_of(tmp_path, opt)


def test_yaml_numbers_are_coerced(tmp_path):
    text = write_yaml(tmp_path / 'opt.yml', tiny_train_options(tmp_path)).read_text()
    text = text.replace('lr: 0.001', 'lr: 2e-4').replace('val_freq: 3', 'val_freq: !!float 5e3')
    (tmp_path / 'opt.yml').write_text(text)
    opt = parse_options(tmp_path / 'opt.yml')
    assert opt['train']['optim_g']['lr'] == pytest.approx(2e-4)  # YAML 1.1 reads '2e-4' as a string
    assert opt['val']['val_freq'] == 5000 and isinstance(opt['val']['val_freq'], int)


def test_force_yml_overrides_with_yaml_values(tmp_path):
    path = write_yaml(tmp_path / 'opt.yml', tiny_train_options(tmp_path))
    opt = parse_options(path, overrides=['train:total_iter=100', 'path:pretrain_network_g=~',
                                         'train:scheduler:milestones=[10, 20]', 'val:save_img=false'])
    assert opt['train']['total_iter'] == 100
    assert opt['train']['scheduler']['milestones'] == [10, 20]
    assert opt['val']['save_img'] is False
    with pytest.raises(OptionError, match='--force_yml train:total_iter=-1.*must be > 0'):
        parse_options(path, overrides=['train:total_iter=-1'])


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / 'bad.yml'
    path.write_text('name: x\nmodel_type: SRModel\ndatasets:\n  train: [unclosed\n')
    with pytest.raises(OptionError, match=r'bad\.yml, line \d+, column \d+: invalid YAML'):
        parse_options(path)


def test_python_object_tags_are_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.yml'
    path.write_text(f"name: !!python/object/apply:os.system ['touch {marker}']\nmodel_type: SRModel\n")
    with pytest.raises(OptionError, match='evil.yml, line 1'):
        parse_options(path)
    assert not marker.exists()


def test_duplicate_keys_are_refused(tmp_path):
    path = tmp_path / 'dup.yml'
    path.write_text('name: a\nname: b\nmodel_type: SRModel\n')
    with pytest.raises(OptionError, match='dup.yml, line 2: name: key given twice'):
        parse_options(path)


def test_debug_shortens_frequencies(tmp_path):
    opt = parse(tmp_path, tiny_train_options(tmp_path), debug=True)
    assert opt['name'] == 'debug_tiny'
    assert (opt['val']['val_freq'], opt['logger']['print_freq'], opt['logger']['save_checkpoint_freq']) == (8, 1, 8)


def test_saved_options_parse_again(tmp_path):
    opt = parse(tmp_path, tiny_train_options(tmp_path))
    save_options(opt, tmp_path / 'saved.yml')
    again = parse_options(tmp_path / 'saved.yml')
    for key in ('datasets', 'network_g', 'train', 'val', 'logger'):
        assert again[key] == opt[key]
    assert yaml.safe_load((tmp_path / 'saved.yml').read_text())['name'] == 'tiny'


def test_test_mode_needs_no_train_section(tmp_path):
    opt = tiny_train_options(tmp_path)
    del opt['train']
    del opt['datasets']['train']
    parsed = parse(tmp_path, opt, is_train=False)
    assert parsed.get('train') is None  # an optional section left out reads as None
    assert parsed['path']['results_root'] == str(tmp_path / 'results' / 'tiny')
    with pytest.raises(OptionError, match='train: required for training'):
        parse(tmp_path, opt, is_train=True)
