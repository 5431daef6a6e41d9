"""The documentation: generated pages match the code, the JSON Schema agrees with the parser on the shipped option
files, and the MkDocs site builds with --strict (broken links and pages missing from the navigation fail)."""
import copy
import importlib.util
import json
import os
import subprocess
import sys

import pytest
import yaml
from PIL import Image

from basicsr.utils.img_util import imread, imwrite
from conftest import ROOT, make_pairs

sys.path.insert(0, str(ROOT / 'scripts'))
import gen_docs  # noqa: E402

jsonschema = pytest.importorskip('jsonschema')
SHIPPED = sorted([*ROOT.glob('options/*.yml'), *ROOT.glob('options/demo/*.yml')])


def test_the_generated_files_are_current():
    """Generated in a fresh process: registries there hold only the project's plug-ins, whatever other tests load."""
    done = subprocess.run([sys.executable, 'scripts/gen_docs.py', '--check'], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_option_reference_covers_every_key():
    page = gen_docs.OPTIONS_PAGE.read_text(encoding='utf-8')
    paths = [path for path, _ in gen_docs.walk(gen_docs.merged_root(), '')]
    assert len(paths) > 80
    assert [path for path in paths if f'| `{path}` |' not in page] == []
    for declared in ('gt_usm', 'queue_size', 'network_d', 'train.ema_decay', 'train.frequency_separation.filter'):
        assert f'| `{declared}` |' in page  # recipes' own keys are there, not only the framework's
    networks = gen_docs.NETWORKS_PAGE.read_text(encoding='utf-8')
    builtin = [name for name, cls in gen_docs.REGISTRIES['arch'] if cls.__module__.startswith('basicsr.')]
    assert len(builtin) > 10 and all(f'\n## {name}\n' in networks for name in builtin)


@pytest.fixture(scope='module')
def validator():
    schema = json.loads(gen_docs.JSON_SCHEMA.read_text(encoding='utf-8'))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize('path', SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_json_schema_accepts_every_shipped_option_file(validator, path):
    errors = [f'{list(e.absolute_path)}: {e.message}' for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


def test_the_json_schema_rejects_misspelt_keys_and_bad_values(validator):
    demo = yaml.safe_load((ROOT / 'options/demo/train_msrresnet_x4_demo.yml').read_text())
    assert list(validator.iter_errors(demo)) == []
    cases = {('datasets', 'train', 'bacth_size_per_gpu'): 4, ('manual_sed',): 0, ('network_g', 'num_fet'): 8,
             ('train', 'total_itr'): 10, ('train', 'optim_g', 'lr'): -1.0, ('model_type',): 'SRModle',
             ('train', 'amp'): 'fp8'}
    for key_path, value in cases.items():
        options = copy.deepcopy(demo)
        section = options
        for key in key_path[:-1]:
            section = section[key]
        section[key_path[-1]] = value
        errors = list(validator.iter_errors(options))
        assert errors, key_path
        assert any(key_path[-1] in e.message or list(e.absolute_path)[-1:] == [key_path[-1]] for e in errors)


def test_mkdocs_build_strict_passes(tmp_path):
    if importlib.util.find_spec('mkdocs') is None:
        pytest.skip('mkdocs is not installed (pip install -e .[test])')
    command = [sys.executable, '-m', 'mkdocs', 'build', '--strict', '--site-dir', str(tmp_path / 'site')]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, 'NO_MKDOCS_2_WARNING': '1'})
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / 'site' / 'reference' / 'options' / 'index.html').is_file()
    assert (tmp_path / 'site' / 'recipes' / 'esrgan' / 'index.html').is_file()


def test_make_doc_figures_draws_small_pictures_from_a_run(tmp_path):
    """A tiny stand-in run (options.yml, a log, validation outputs) gives the four PNGs, palette-reduced."""
    hr_dir, lr_dir = make_pairs(tmp_path / 'val', count=2, size=(48, 48))
    run = tmp_path / 'run'
    run.mkdir()
    (run / 'options.yml').write_text(yaml.safe_dump({'scale': 4, 'datasets': {'val': {
        'dataroot_gt': str(hr_dir), 'dataroot_lq': str(lr_dir)}}}))
    lines = [f'2026-12-07 18:02:13,253 INFO: [tiny..][epoch:  0, iter:      {i}, lr:(1.000e-03)] '
             f'[eta: 0:00:01, time (data): 0.1 (0.0)] l_pix: {0.05 / i:.4e}' for i in (10, 20)]
    lines[1:1] = ['2026-12-07 18:02:14,000 INFO: Validation val', '\t # psnr: 25.0000\tBest: 25.0000 @ 10 iter']
    (run / 'train_tiny_20261207_180000.log').write_text('\n'.join(lines) + '\n')
    for iteration in (10, 20):  # the newest output is the one drawn
        imwrite(imread(str(hr_dir / 'img00.png')), run / 'visualization' / 'img00' / f'img00_{iteration}.png')
    out = tmp_path / 'img'
    done = subprocess.run([sys.executable, 'scripts/make_doc_figures.py', '--experiment', str(run), '--output',
                           str(out), '--crop', '16', '--degrade-input', str(hr_dir), '--degrade-crop', '32',
                           '--colours', '32'], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'img00_20.png' in done.stdout
    names = ['demo_crops.png', 'demo_curves.png', 'degradation_realesrgan.png', 'degradation_bsrgan.png']
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    for name in names:
        with Image.open(out / name) as image:
            assert image.mode == 'P' and len(image.getcolors()) <= 32
        assert (out / name).stat().st_size < 100_000
