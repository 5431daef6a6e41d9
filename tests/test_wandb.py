"""Optional Weights & Biases logging, with a fake ``wandb`` module that records what it is asked."""
import sys
import types
from pathlib import Path

import pytest

import basicsr.train
from basicsr.train import main, train_pipeline
from basicsr.utils.errors import OptionError
from basicsr.utils.logger import init_wandb_logger
from basicsr.utils.options import parse_options

from conftest import tiny_train_options, write_yaml


class FakeWandb(types.ModuleType):
    """Stands in for the wandb package: ``init`` returns a run whose ``finish`` is recorded too."""

    def __init__(self, events: list) -> None:
        super().__init__('wandb')
        self.events = events

    def init(self, **kwargs):
        self.events.append(('wandb.init', kwargs))
        run_id = kwargs['id'] or 'generated01'
        return types.SimpleNamespace(id=run_id, finish=lambda: self.events.append(('run.finish', {})))


@pytest.fixture
def events(monkeypatch) -> list:
    """Installs the fake wandb and records, in order, its calls and the creation of the TensorBoard writer."""
    recorded = []
    monkeypatch.setitem(sys.modules, 'wandb', FakeWandb(recorded))
    real_init_tb = basicsr.train.init_tb_logger

    def recording_init_tb(log_dir):
        recorded.append(('init_tb_logger', {'log_dir': Path(log_dir)}))
        return real_init_tb(log_dir)

    monkeypatch.setattr(basicsr.train, 'init_tb_logger', recording_init_tb)
    return recorded


def options_file(tmp_path: Path, **updates) -> Path:
    return write_yaml(tmp_path / 'train.yml', tiny_train_options(tmp_path, **updates))


def test_a_configured_run_is_mirrored_to_wandb(tmp_path, events):
    path = options_file(tmp_path, logger__wandb={'project': 'sr-tests'}, train__total_iter=2)
    train_pipeline(argv=['-opt', str(path)])
    assert [name for name, _ in events] == ['wandb.init', 'init_tb_logger', 'run.finish']
    init = events[0][1]
    assert init['project'] == 'sr-tests' and init['name'] == 'tiny'
    assert init['id'] is None and init['resume'] == 'never'  # wandb makes a new id
    assert init['sync_tensorboard'] is True and init['dir'] == str(tmp_path)
    assert init['config']['network_g']['type'] == 'MSRResNet'
    assert (tmp_path / 'experiments' / 'tiny' / 'models' / 'net_g_2.pth').is_file()


def test_resume_id_continues_the_run(tmp_path, events, caplog):
    opt = parse_options(options_file(tmp_path, logger__wandb={'project': 'p', 'resume_id': 'abc123'}))
    assert init_wandb_logger(opt).id == 'abc123'
    assert events[0][1]['id'] == 'abc123' and events[0][1]['resume'] == 'allow'


def test_off_by_default_and_never_imported(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'wandb', None)  # any import of wandb would now fail
    train_pipeline(argv=['-opt', str(options_file(tmp_path, train__total_iter=2))])
    assert (tmp_path / 'experiments' / 'tiny' / 'models' / 'net_g_2.pth').is_file()


def test_debug_runs_are_not_sent(tmp_path, events):
    train_pipeline(argv=['-opt', str(options_file(tmp_path, name='debug_tiny', logger__wandb={'project': 'p'},
                                                  train__total_iter=1))])
    assert events == []


def test_missing_package_is_a_clear_option_error(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, 'wandb', None)
    path = options_file(tmp_path, logger__wandb={'project': 'p'})
    with pytest.raises(OptionError, match="logger.wandb.project is 'p' but the wandb package is not installed"):
        init_wandb_logger(parse_options(path))
    assert main(['-opt', str(path)]) == 1  # the command line reports it in one line, no traceback


def test_wandb_needs_the_tensorboard_writer(tmp_path, events):
    opt = parse_options(options_file(tmp_path, logger__wandb={'project': 'p'}, logger__use_tb_logger=False))
    with pytest.raises(OptionError, match='set logger.use_tb_logger: true') as err:
        init_wandb_logger(opt)
    assert err.value.key_path == 'logger.use_tb_logger'
    assert events == []
