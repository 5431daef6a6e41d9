"""What a newcomer meets first: flags answered at once, every option and input problem reported in one pass
before anything is written, one-line warnings for odd runs, and a clean Ctrl-C that says how to continue."""
import re
import signal
import subprocess
import sys
import time

import pytest

from basicsr.archs.srresnet_arch import MSRResNet
from basicsr.models.sr_model import SRModel
from basicsr.train import train_pipeline
from basicsr.utils.checkpoint import save_checkpoint
from basicsr.utils.errors import OptionErrors
from basicsr.utils.options import parse_options
from basicsr.config.sanity import sanity_warnings

from conftest import ROOT, tiny_train_options, write_yaml
from test_plugins import basicsr_raw_options


def test_help_answers_without_importing_torch():
    code = ("import runpy, sys; sys.argv = ['train.py', '-h']\n"
            "try:\n    runpy.run_path('train.py', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('torch imported:', 'torch' in sys.modules)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    assert '-opt OPT' in done.stdout and '--auto_resume' in done.stdout
    assert 'torch imported: False' in done.stdout
    assert elapsed < 1.0, f'python train.py -h took {elapsed:.2f} s'


def test_three_mistakes_are_reported_in_one_run(tmp_path):
    opt = tiny_train_options(tmp_path)
    opt['datasets']['train']['bacth_size_per_gpu'] = 4         # a typo
    opt['train']['total_iter'] = 'many'                          # a wrong type
    opt['train']['optim_g']['lr'] = -1.0                         # out of range
    path = write_yaml(tmp_path / 'three.yml', opt)
    lines = path.read_text().splitlines()
    line_of = {key: next(i for i, text in enumerate(lines, 1) if text.strip().startswith(key))
               for key in ('bacth_size_per_gpu', 'total_iter', 'lr:')}
    with pytest.raises(OptionErrors) as caught:
        parse_options(path)
    message = str(caught.value)
    assert message.startswith('3 problems in the options:')
    assert len(caught.value.errors) == 3
    assert (f"three.yml, line {line_of['bacth_size_per_gpu']}: datasets.train.bacth_size_per_gpu: unknown argument "
            "of PairedImageDataset. Did you mean 'batch_size_per_gpu'?") in message
    assert f"three.yml, line {line_of['total_iter']}: train.total_iter: expected int, got str 'many'" in message
    assert f"three.yml, line {line_of['lr:']}: train.optim_g.lr: must be > 0, got -1.0" in message


def test_missing_inputs_are_all_reported_before_any_folder_is_touched(tmp_path, basicsr_log):
    opt = tiny_train_options(tmp_path, path__pretrain_network_g='experiments/pretrained_models/RRDB_PSNR_x4.pth',
                             train__perceptual_opt={'type': 'PerceptualLoss', 'layer_weights': {'conv5_4': 1.0},
                                                    'vgg_weights_path': str(tmp_path / 'no_vgg.pth')})
    opt['datasets']['val']['dataroot_gt'] = str(tmp_path / 'Set5' / 'GTmod12')
    existing = tmp_path / 'experiments' / 'tiny'
    existing.mkdir(parents=True)
    (existing / 'keep.txt').write_text('an earlier run')
    with pytest.raises(OptionErrors) as caught:
        train_pipeline(argv=['-opt', str(write_yaml(tmp_path / 'missing.yml', opt))])
    message = str(caught.value)
    assert message.startswith('3 problems')
    assert 'path.pretrain_network_g: ' in message and 'RRDB_PSNR_x4.pth: file not found.' in message
    assert 'datasets.val.dataroot_gt: ' in message and 'GTmod12 does not exist.' in message
    assert 'train.perceptual_opt: ' in message and 'no_vgg.pth' in message
    assert sorted(p.name for p in (tmp_path / 'experiments').iterdir()) == ['tiny']  # nothing renamed or made
    assert sorted(p.name for p in existing.iterdir()) == ['keep.txt']


def test_sanity_warnings_for_short_or_odd_runs(tmp_path):
    opt = parse_options(write_yaml(tmp_path / 'odd.yml', tiny_train_options(
        tmp_path, train__total_iter=60, train__ema_decay=0.999, train__warmup_iter=100,
        train__scheduler={'type': 'CosineAnnealingRestartLR', 'periods': [250000, 250000, 250000, 250000],
                          'restart_weights': [1, 1, 1, 1], 'eta_min': 1e-7})))
    warnings = sanity_warnings(opt)
    assert len(warnings) == 3
    ema, periods, warmup = warnings
    assert ema.startswith('train.ema_decay 0.999: after total_iter 60 iterations the EMA weights are still 94%')
    assert 'validation' in ema and 'lower train.ema_decay' in ema
    assert periods.startswith('train.scheduler.periods sum to 1000000, beyond total_iter 60')
    assert warmup.startswith('train.warmup_iter 100 >= total_iter 60')
    opt = parse_options(write_yaml(tmp_path / 'ok.yml', tiny_train_options(
        tmp_path, train__total_iter=60, train__ema_decay=0.9, val__metrics={},
        train__scheduler={'type': 'MultiStepLR', 'milestones': [30, 100]})))
    assert sanity_warnings(opt) == [
        'train.scheduler.milestones [100] lie beyond total_iter 60 and never take effect.',
        'val: no metrics are configured, so validation computes nothing (it only saves images when val.save_img '
        'is true); add e.g. val.metrics.psnr: {type: calculate_psnr}.']


def test_the_loaded_parameter_key_is_logged_and_a_missing_one_warned(tmp_path, basicsr_log):
    path = tmp_path / 'only_params.pth'
    save_checkpoint({'params': MSRResNet(num_feat=4, num_block=1).state_dict()}, path)
    opt = basicsr_raw_options(4, str(path))
    opt['path']['param_key_g'] = 'params_ema'
    opt['train']['ema_decay'] = 0
    SRModel(opt)
    assert f'{path} holds no [params_ema]; loading [params] instead.' in basicsr_log.text
    assert f'Loaded MSRResNet from {path} [params].' in basicsr_log.text


def test_metrics_of_a_set_without_gt_are_skipped_with_a_warning(tmp_path, basicsr_log):
    opt = tiny_train_options(tmp_path, train__total_iter=1, logger__save_checkpoint_freq=1)
    opt['datasets']['val'] = {'name': 'no_gt', 'type': 'SingleImageDataset',
                              'dataroot_lq': opt['datasets']['val']['dataroot_lq'], 'io_backend': {'type': 'disk'}}
    train_pipeline(argv=['-opt', str(write_yaml(tmp_path / 'no_gt.yml', opt))])
    assert 'Validation no_gt: no GT images, so the metrics (psnr, ssim) were not computed.' in basicsr_log.text


def test_ctrl_c_stops_after_the_step_with_the_resume_command_and_auto_resume_continues(tmp_path):
    opt = tiny_train_options(tmp_path, train__total_iter=1000, logger__save_checkpoint_freq=2,
                             val__val_freq=1000, logger__use_tb_logger=False)
    path = write_yaml(tmp_path / 'long.yml', opt)
    process = subprocess.Popen([sys.executable, 'train.py', '-opt', str(path)], cwd=ROOT, stderr=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, text=True)
    lines = []
    try:
        for line in process.stderr:
            lines.append(line)
            if 'iter:       3,' in line:
                process.send_signal(signal.SIGINT)
                break
        lines += process.stderr.readlines()
        status = process.wait(timeout=120)
    finally:
        process.kill()
    output = ''.join(lines)
    assert status == 130, output[-3000:]
    assert 'Traceback' not in output
    last = lines[-1]
    stopped = int(last.split('Interrupted at iteration ')[1].split(';')[0])
    assert stopped in (3, 4)
    assert f'the last saved checkpoint is iteration {stopped - stopped % 2}.' in last
    assert last.rstrip().endswith(f'Continue with: python train.py -opt {path} --auto_resume')

    resume = subprocess.run([sys.executable, 'train.py', '-opt', str(path), '--auto_resume',
                             '--force_yml', f'train:total_iter={stopped + 1}'], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert resume.returncode == 0, resume.stderr[-3000:]
    assert f'Resuming training from epoch 0, iteration {stopped - stopped % 2}.' in resume.stderr
    assert (tmp_path / 'experiments' / 'tiny' / 'models' / f'net_g_{stopped + 1}.pth').is_file()


def test_the_readme_is_a_short_front_page_that_starts_with_the_two_setup_commands():
    text = (ROOT / 'README.md').read_text(encoding='utf-8')
    assert len(text.splitlines()) < 250
    first_block = text.split('```bash\n', 1)[1].split('```', 1)[0]
    commands = [line.split('#')[0].strip() for line in first_block.splitlines()]
    assert commands == ['python scripts/quickstart.py demo', 'python scripts/quickstart.py test']
    assert '29.70' in text and '0.8059' in text and '29.69' not in text  # the measured demo figures only
    ci = (ROOT / '.ci' / 'run').read_text()
    assert [line.split('#')[0].strip() for line in ci.splitlines() if 'quickstart' in line.split('#')[0]] == [
        'python scripts/quickstart.py test']


def test_every_relative_link_of_the_readme_exists():
    text = (ROOT / 'README.md').read_text(encoding='utf-8')
    targets = [target.split('#')[0] for target in re.findall(r'\]\(([^)]+)\)', text)
               if not target.startswith(('http://', 'https://', '#'))]
    assert len(targets) > 15
    assert [target for target in targets if not (ROOT / target).exists()] == []
