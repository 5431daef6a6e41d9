"""Installs the ``basicsr`` package: ``pip install .`` (or ``pip install -e .`` for development)."""
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent
OPENCV_VARIANTS = ('opencv-python', 'opencv-python-headless', 'opencv-contrib-python',
                   'opencv-contrib-python-headless')


def read_version() -> str:
    match = re.search(r"__version__ = '([^']+)'", (ROOT / 'basicsr' / 'version.py').read_text())
    return match.group(1)


def requirements() -> list[str]:
    """requirements.txt, except that any installed OpenCV build is kept (two cv2 packages would clash)."""
    reqs = []
    for line in (ROOT / 'requirements.txt').read_text().splitlines():
        line = line.split('#')[0].strip()
        if not line:
            continue
        if line.startswith('opencv') and any(_installed(name) for name in OPENCV_VARIANTS):
            continue
        reqs.append(line)
    return reqs


def _installed(name: str) -> bool:
    try:
        version(name)
        return True
    except PackageNotFoundError:
        return False


setup(
    name='basicsr',
    version=read_version(),
    description='A YAML-driven training framework for image super-resolution',
    long_description=(ROOT / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['basicsr', 'basicsr.*']),
    python_requires='>=3.10',
    install_requires=requirements(),
    extras_require={
        'test': ['pytest>=7.0', 'hypothesis>=6.0', 'spandrel>=0.4',  # spandrel: tests/test_baselines.py
                 'mkdocs>=1.6', 'mkdocs-material>=9.5', 'jsonschema>=4.0',  # tests/test_docs.py: the site, schema
                 # tests/test_perceptual_metrics.py: the reference implementations and scipy's sqrtm
                 'lpips>=0.1.4', 'torchmetrics>=1.7', 'pytorch-fid>=0.3', 'scipy',
                 'focal-frequency-loss>=0.3', 'hsluv>=5.0',  # tests/test_modern_losses.py: the references
                 'schedulefree>=1.4', 'pytorch-optimizer>=4.1', 'prodigyopt>=1.1',  # tests/test_optimizers.py
                 'spandrel-extra-arches>=0.2'],  # SRFormer's tests and the generated network reference
        'metrics': ['lpips>=0.1.4', 'torchmetrics>=1.7'],  # ship the LPIPS heads and DISTS alpha/beta weights
        'safetensors': ['safetensors>=0.4'],
        'optim': ['schedulefree>=1.4', 'pytorch-optimizer>=4.1', 'prodigyopt>=1.1'],  # docs/optimisers.md
        'spandrel': ['spandrel>=0.4'],  # scripts/inference.py and test.py: network files from elsewhere
        'extra-arches': ['spandrel-extra-arches>=0.2'],  # SRFormer etc., non-commercial licences (docs/networks.md)
        'export': ['safetensors>=0.4', 'onnx', 'onnxscript', 'onnxruntime'],  # scripts/export.py
        'wandb': ['wandb'],  # logger.wandb.project
    },
    entry_points={'console_scripts': ['basicsr-train=basicsr.cli:train_main', 'basicsr-test=basicsr.cli:test_main']},
    license='Apache-2.0',
)
