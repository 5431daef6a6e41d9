"""The option files of the networks added with spandrel (and the SPAN-S / Compact sizes): each parses and trains
one iteration, then validates, with its network shrunk to the registry's ``tiny_config`` and the rest unchanged."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from basicsr.utils.registry import ARCH_REGISTRY
from conftest import ROOT, SHORT, train
from test_basicsr_compat import vgg19_weights  # noqa: F401  (fixture: VGG19 weights where torchvision looks)

PAIRED = ['dat2_x4', 'atd_x4', 'atd_light_x4', 'drct_x4', 'drct_l_x4', 'omnisr_x4', 'safmn_x4', 'srformer_x4',
          'srformer_light_x4', 'swin2sr_x4', 'span_s_x4']
REAL_WORLD = ['realplksr_x4_realesrgan', 'compact_x4_real', 'superultracompact_x4_real']
# one iteration on 64-pixel GT patches (LR 16: some networks take no less), validation right after it (Set5-like
# images, not multiples of any window)
RUN = ['train:total_iter=1', 'datasets:train:gt_size=64', 'val:val_freq=1', 'logger:save_checkpoint_freq=1', *SHORT]


def tiny_network(option_file: Path) -> list[str]:
    """Overrides that build the file's network at its registered tiny configuration."""
    network = yaml.safe_load(option_file.read_text())['network_g']
    return [f'network_g:{key}={json.dumps(value)}' for key, value in
            ARCH_REGISTRY.info(network['type'])['tiny_config'].items()]


def needs_extra_arches(name: str) -> bool:
    return name.startswith('srformer') and 'SRFormer' not in ARCH_REGISTRY


@pytest.mark.parametrize('name', PAIRED)
def test_paired_option_file_trains_and_validates(root, name):
    if needs_extra_arches(name):
        pytest.skip('SRFormer needs spandrel-extra-arches')
    option_file = ROOT / 'options' / f'{name}.yml'
    exp, log = train(root, option_file, *RUN, *tiny_network(option_file))
    assert 'iter:       1' in log and 'l_pix:' in log
    assert re.search(r'Validation Set5\n\t # psnr: \d+\.\d+', log)  # padded to the input multiple where needed
    assert (exp / 'models' / 'net_g_1.pth').is_file()


@pytest.mark.parametrize('name', REAL_WORLD)
def test_real_world_option_file_trains(root, vgg19_weights, name):  # noqa: F811
    option_file = ROOT / 'options' / f'{name}.yml'
    exp, log = train(root, option_file, *RUN, *tiny_network(option_file), 'gt_size=64',
                     'datasets:train:crop_pad_size=136', 'network_d:num_feat=4')
    for loss in ('l_g_pix', 'l_g_percep', 'l_g_gan', 'l_d_real'):
        assert f'{loss}:' in log
    assert (exp / 'models' / 'net_g_1.pth').is_file()


def test_benchmark_archs_rows(tmp_path):
    """scripts/benchmark.py --archs: parameters, CPU inference and training step of networks at their official
    configurations (two small ones here), and only those rows when no --sections are given."""
    out = tmp_path / 'bench.json'
    command = [sys.executable, str(ROOT / 'scripts' / 'benchmark.py'), '--archs', 'SwiftSRGAN', 'ECBSR',
               '--repeats', '1', '--warmup', '0', '--threads', '1', '--device', 'cpu', '--json', str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads(out.read_text())['results']
    assert {row['section'] for row in rows} == {'archs'}
    params = {row['network']: row['value'] for row in rows if row['unit'] == 'parameters'}
    assert params == {'SwiftSRGAN': 201209, 'ECBSR': sum(
        p.numel() for p in ARCH_REGISTRY.get('ECBSR')(**ARCH_REGISTRY.info('ECBSR')['official_config']).parameters())}
    assert sorted(row['unit'] for row in rows if row['network'] == 'ECBSR') == ['parameters', 's/image', 's/step']
    assert all(row['value'] > 0 for row in rows)
    unknown = subprocess.run([*command[:2], '--archs', 'VGGFeatureExtractor'], capture_output=True, text=True,
                             timeout=300, cwd=tmp_path)
    assert unknown.returncode != 0 and 'VGGFeatureExtractor not registered SR networks' in unknown.stderr
