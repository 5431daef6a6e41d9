"""The files this project knows how to download: published weights, the VGG and NIQE data files, and the Set5, Set14
and DIV2K datasets, each with where it comes from, its SHA-256 and where it goes; and :func:`download_command`, which
names the command that provides a missing file or folder.

Pure data (no torch import), so that option checks can name the remedy cheaply. The downloading itself is in
:mod:`basicsr.utils.download_util`; the two commands are ``scripts/download_pretrained_models.py`` and
``scripts/download_datasets.py``.

Hashes. ``sha256`` is the full digest where one is published (or agreed by independent sources that downloaded the
file). Files whose names end in ``-<hex>`` (BasicSR's ``publish_models.py`` and torchvision name files by the first
hex digits of their SHA-256) are checked against that prefix when no full digest is known. A file with neither is
downloaded unverified from a pinned location, and the download says so.
"""
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PRETRAINED_DIR = 'experiments/pretrained_models'
DATASETS_DIR = 'datasets'

# Where a weight file goes: the project's folder for pretrained networks (repository-relative), or the torch hub
# folders where the VGG feature extractor and the NIQE metric look by default.
PRETRAINED, HUB_CHECKPOINTS, HUB_BASICSR = 'pretrained', 'hub/checkpoints', 'hub/basicsr'


def _gdrive(file_id: str) -> str:
    """Google Drive's direct-download address of a shared file (``confirm=t`` skips the virus-scan page)."""
    return f'https://drive.usercontent.google.com/download?id={file_id}&export=download&confirm=t'


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file: its name on disk, its sources (tried in order) and its SHA-256 (or a prefix of it)."""
    name: str
    urls: tuple[str, ...]
    sha256: str = ''
    folder: str = PRETRAINED
    note: str = ''

    @property
    def check(self) -> str:
        """What the download is checked against: the digest, else the ``-<hex>`` prefix in the name, else ''."""
        if self.sha256:
            return self.sha256
        stem = self.name.rsplit('.', 1)[0]
        tail = stem.rsplit('-', 1)[-1] if '-' in stem else ''
        return tail if len(tail) >= 8 and all(c in '0123456789abcdef' for c in tail) else ''


_REAL_ESRGAN = 'https://github.com/xinntao/Real-ESRGAN/releases/download'
_BASICSR_ZOO = 'BasicSR model zoo, Google Drive'

# Group name -> files. Group names and file names both select on the command line.
WEIGHTS: dict[str, tuple[RemoteFile, ...]] = {
    'ESRGAN': (
        # The ESRGAN authors' release (Google Drive folder of xinntao/ESRGAN), original key layout; the second
        # source is the copy in KAIR's GitHub release, byte-identical (same SHA-256).
        RemoteFile('RRDB_ESRGAN_x4.pth',
                   (_gdrive('1TPrz5QKd8DHHt1k8SRtm6tMiPjz_Qene'),
                    'https://github.com/cszn/KAIR/releases/download/v1.0/ESRGAN.pth'),
                   '65fece06e1ccb48853242aa972bdf00ad07a7dd8938d2dcbdf4221b59f6372ce',
                   note='ESRGAN (DF2K+OST), x4, the GAN end of net_interp'),
        RemoteFile('RRDB_PSNR_x4.pth', (_gdrive('1pJ_T-V1dpb1ewoEra1TGSWl5e6H7M4NN'),),
                   'f372b59f22929e1bc83fa58d78215c96f976de3b2eaeee736da1b348913da6cc',
                   note='RRDB PSNR-oriented (DF2K), x4, initialises the ESRGAN stage'),
    ),
    'ESRGAN_BasicSR': (
        # The same two networks converted to BasicSR's keys, under BasicSR's names (hash prefix in the name).
        RemoteFile('ESRGAN_SRx4_DF2KOST_official-ff704c30.pth',
                   (f'{_REAL_ESRGAN}/v0.1.1/ESRGAN_SRx4_DF2KOST_official-ff704c30.pth',),
                   note='ESRGAN x4 in BasicSR layout (Real-ESRGAN release v0.1.1)'),
        RemoteFile('ESRGAN_PSNR_SRx4_DF2K_official-150ff491.pth', (_gdrive('1swaV5iBMFfg-DL6ZyiARztbhutDCWXMM'),),
                   note=f'RRDB PSNR x4 in BasicSR layout ({_BASICSR_ZOO})'),
    ),
    'RealESRGAN': (
        RemoteFile('RealESRGAN_x4plus.pth', (f'{_REAL_ESRGAN}/v0.1.0/RealESRGAN_x4plus.pth',),
                   '4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1', note='RRDBNet x4'),
        RemoteFile('RealESRNet_x4plus.pth', (f'{_REAL_ESRGAN}/v0.1.1/RealESRNet_x4plus.pth',),
                   'a820b9bde89a874d7599d545567308ce6c128fc8754a53208eda016d40aa81df', note='RRDBNet x4, L1 only'),
        RemoteFile('RealESRGAN_x2plus.pth', (f'{_REAL_ESRGAN}/v0.2.1/RealESRGAN_x2plus.pth',),
                   '49fafd45f8fd7aa8d31ab2a22d14d91b536c34494a5cfe31eb5d89c2fa266abb', note='RRDBNet x2'),
        RemoteFile('RealESRGAN_x4plus_anime_6B.pth', (f'{_REAL_ESRGAN}/v0.2.2.4/RealESRGAN_x4plus_anime_6B.pth',),
                   'f872d837d3c90ed2e05227bed711af5671a6fd1c9f7d7e91c911a61f155e99da', note='RRDBNet x4, 6 blocks'),
        RemoteFile('realesr-general-x4v3.pth', (f'{_REAL_ESRGAN}/v0.2.5.0/realesr-general-x4v3.pth',),
                   '8dc7edb9ac80ccdc30c3a5dca6616509367f05fbc184ad95b731f05bece96292', note='SRVGGNetCompact x4'),
        RemoteFile('realesr-general-wdn-x4v3.pth', (f'{_REAL_ESRGAN}/v0.2.5.0/realesr-general-wdn-x4v3.pth',),
                   '1641f8c4464b9f097c9fdda5589273713f67cf59f3d909e0bd688f0cee269dca',
                   note='SRVGGNetCompact x4, weak denoising'),
    ),
    'EDSR': tuple(
        RemoteFile(f'EDSR_{size}x{scale}_{cfg}_DIV2K_official-{prefix}.pth', (_gdrive(file_id),),
                   note=f'EDSR x{scale} in BasicSR layout ({_BASICSR_ZOO})')
        for size, scale, cfg, prefix, file_id in (
            ('M', 2, 'f64b16', '3ba7b086', '1mREMGVDymId3NzIc2u90sl_X4-pb4ZcV'),
            ('M', 3, 'f64b16', '6908f88a', '1EriqQqlIiRyPbrYGBbwr_FZzvb3iwqz5'),
            ('M', 4, 'f64b16', '0c287733', '1bCK6cFYU01uJudLgUUe-jgx-tZ3ikOWn'),
            ('L', 2, 'f256b32', 'be38e77d', '15257lZCRZ0V6F9LzTyZFYbbPrqNjKyMU'),
            ('L', 3, 'f256b32', '3660f70d', '18q_D434sLG_rAZeHGonAX8dkqjoyZ2su'),
            ('L', 4, 'f256b32', '76ee1c8f', '1GCi30YYCzgMCcgheGWGusP9aWKOAy5vl'))),
    'SwinIR': (
        RemoteFile('001_classicalSR_DIV2K_s48w8_SwinIR-M_x4.pth',
                   ('https://github.com/JingyunLiang/SwinIR/releases/download/v0.0/'
                    '001_classicalSR_DIV2K_s48w8_SwinIR-M_x4.pth',),
                   '129dc773ba2d4c07f3eb0bb116fbe692011b7cc072d9ca12797cd3748198610a',
                   note='SwinIR-M classical SR x4 (DIV2K)'),
    ),
    'VGG': (
        # torchvision's ImageNet weights, where torchvision and the perceptual loss look for them.
        RemoteFile('vgg19-dcbb9e9d.pth', ('https://download.pytorch.org/models/vgg19-dcbb9e9d.pth',),
                   folder=HUB_CHECKPOINTS, note='VGG19 ImageNet (perceptual loss, vgg_type: vgg19)'),
        RemoteFile('vgg19_bn-c79401a0.pth', ('https://download.pytorch.org/models/vgg19_bn-c79401a0.pth',),
                   folder=HUB_CHECKPOINTS, note='VGG19-BN ImageNet (vgg_type: vgg19_bn)'),
    ),
    'PERCEPTUAL': (
        # The backbones of LPIPS (AlexNet, VGG16) and DISTS (VGG16), from torchvision, and the FID Inception network
        # from pytorch-fid's release; their names carry the SHA-256 prefix (torch hub's convention), which is checked.
        # LPIPS's linear heads and DISTS's alpha/beta come with the lpips / torchmetrics packages (.[metrics]).
        RemoteFile('alexnet-owt-7be5be79.pth', ('https://download.pytorch.org/models/alexnet-owt-7be5be79.pth',),
                   folder=HUB_CHECKPOINTS, note='AlexNet ImageNet (calculate_lpips / LPIPSLoss, net: alex)'),
        RemoteFile('vgg16-397923af.pth', ('https://download.pytorch.org/models/vgg16-397923af.pth',),
                   folder=HUB_CHECKPOINTS, note='VGG16 ImageNet (LPIPS net: vgg, DISTS)'),
        RemoteFile('pt_inception-2015-12-05-6726825d.pth',
                   ('https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/'
                    'pt_inception-2015-12-05-6726825d.pth',),
                   folder=HUB_CHECKPOINTS, note='FID Inception (calculate_fid)'),
    ),
    'NIQE': (
        # BasicSR ships the authors' pristine model in its repository and wheel; pinned to the v1.4.2 release tag.
        # BasicSR publishes no hash: this SHA-256 is that of the file in PyPI's basicsr-1.4.2.tar.gz (sdist SHA-256
        # b89b595a...1e87), the same bytes as in basicsr-1.3.5's. The metric also checks the arrays when it loads.
        RemoteFile('niqe_pris_params.npz',
                   ('https://raw.githubusercontent.com/XPixelGroup/BasicSR/v1.4.2/basicsr/metrics/'
                    'niqe_pris_params.npz',),
                   '2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296',
                   folder=HUB_BASICSR, note="NIQE's pristine model (BasicSR 1.4.2)"),
    ),
}


@dataclass(frozen=True)
class Archive:
    """A zip archive holding one folder of images, written to ``datasets/<dataset>/<folder>``."""
    file: RemoteFile
    folder: str
    images: int
    strip_suffix: str = ''  # removed from the end of every image stem (DIV2K's LR '0001x4' -> '0001', its HR's name)


@dataclass(frozen=True)
class SubImages:
    """Crop the images of ``src`` into sub-images in ``dst`` (as BasicSR prepares DIV2K for fast reading)."""
    src: str
    dst: str
    crop_size: int
    step: int


@dataclass(frozen=True)
class Bicubic:
    """HR of ``src`` cropped to a multiple of ``mod`` into ``gt``, and its MATLAB-bicubic LR per scale."""
    src: str
    gt: str
    mod: int
    scales: tuple[int, ...]

    def lr(self, scale: int) -> str:
        return f'LRbicx{scale}'


@dataclass(frozen=True)
class Dataset:
    """How one dataset is fetched (archives and/or single HR images) and prepared."""
    name: str
    archives: tuple[Archive, ...] = ()
    hr_images: tuple[RemoteFile, ...] = ()
    hr_folder: str = 'HR'
    subimages: tuple[SubImages, ...] = ()
    bicubic: Bicubic | None = None
    note: str = ''

    @property
    def provides(self) -> tuple[str, ...]:
        """Every folder below ``datasets/<name>/`` that a complete download and preparation leaves."""
        folders = [a.folder for a in self.archives] + ([self.hr_folder] if self.hr_images else [])
        folders += [s.dst for s in self.subimages]
        if self.bicubic:
            folders += [self.bicubic.gt] + [self.bicubic.lr(s) for s in self.bicubic.scales]
        return tuple(folders)


# Set5 and Set14 HR images: the copies in majedelhelou/denoising_datasets (folders CSet5, CSet14) at a fixed commit,
# the ones behind the bicubic baselines in the README; each image is checked against its SHA-256.
_BENCHMARK = ('https://raw.githubusercontent.com/majedelhelou/denoising_datasets/'
              'd3636716c8e3fb806f4395bbb3f2e4c0fde50700')
_SET5 = {
    'baby.png': 'cb85956d68f708a1030c790d143cbcd108f5ac5988d3349180cdcb54dd80597d',
    'bird.png': '5dcf863f7c3802e68fbb0fca2ec351052a1f97a4db613e510dbd105cee9a6a32',
    'butterfly.png': '487d841c9dbc46c7ab496c319ec1f13268de7ea7e02f94ae18781ca86a5abd0d',
    'head.png': 'f524c1ce41641c1cf269a20c4dfbe965e07e471d609abc19dfadfb71037cc873',
    'woman.png': 'f276625a222b9ce18d18d86e1ec603fea50427b7c0a2927b3750b1bb86a07b83',
}
_SET14 = {
    'baboon.png': 'bf6fb300762bcbe1340098b4309c179b2007c3bb81b7afde18c38a3ae70ac8a9',
    'barbara.png': '1ea77fe82564b55230d7c2439bef5738d18a4624280e263be48484c002b6280b',
    'bridge.png': 'c0eb089ad3dacfa96ee79d9c112216265b36aaba205e06f80846b03b21884a53',
    'coastguard.png': 'fc6c2acd5ca2116f37b1b38c0c2908ce64e2e414086fb43349c246d410669da6',
    'comic.png': '49ccc5e33deff33992b929b07549d803f176e01bf9f41b73de6b15437bc2280d',
    'face.png': '5cc7a1c5c013b46a7ab4850cb709974d26971550106375a36fd641c725bce9aa',
    'flowers.png': '609e9fc9ffd6c9689c6200a11e057c19e6e4ec5d385fe0d6eb59a7b24f327894',
    'foreman.png': 'af4ad4771fd2def0a09ba0011e67225f10ad1590e85b48aab4f6820fa932b1ed',
    'lenna.png': '72d70a7a5051c6193f02b03decb6c7b1d336abe2d024f441a2384acaee84af55',
    'man.png': 'ba7a7e45f690a542fc32fdefe1e04e0128d1cdf8c3817c1ee7b0300961636bfe',
    'monarch.png': 'ed96187293a37c931250d137553928e1a9a63e31296b82a4968dde63683bb101',
    'pepper.png': '46339a09e2ae31d2f0513642607586a00d82feaf48dc3cc770e42be5684a11a9',
    'ppt3.png': 'a9276fa3f7fbd4257ccede14d1004f836c10fcc2bac174b2428f43fe899b8f9d',
    'zebra.png': 'af146347f19b1ab9f1da26113a88505d600e2dcb84bf91bb8e2013691e79bcc7',
}
_DIV2K = 'https://data.vision.ee.ethz.ch/cvl/DIV2K'


def _benchmark(name: str, folder: str, sums: dict[str, str]) -> Dataset:
    return Dataset(name, hr_images=tuple(RemoteFile(f, (f'{_BENCHMARK}/{folder}/{f}',), h, folder='')
                                         for f, h in sums.items()),
                   bicubic=Bicubic('HR', 'GTmod12', 12, (2, 3, 4)),
                   note=f'{len(sums)} test images; HR, GTmod12 and LRbicx2/3/4 as BasicSR lays them out')


DATASETS: dict[str, Dataset] = {
    'Set5': _benchmark('Set5', 'CSet5', _SET5),
    'Set14': _benchmark('Set14', 'CSet14', _SET14),
    'DIV2K': Dataset(
        'DIV2K',
        archives=(
            Archive(RemoteFile('DIV2K_train_HR.zip', (f'{_DIV2K}/DIV2K_train_HR.zip',),
                               '9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335', folder=''),
                    'DIV2K_train_HR', 800),
            Archive(RemoteFile('DIV2K_valid_HR.zip', (f'{_DIV2K}/DIV2K_valid_HR.zip',),
                               '20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc', folder=''),
                    'DIV2K_valid_HR', 100),
            Archive(RemoteFile('DIV2K_train_LR_bicubic_X4.zip', (f'{_DIV2K}/DIV2K_train_LR_bicubic_X4.zip',),
                               'f006b837f4eb52b82909aa01478e6d6d199eefce932179491d0c9dbb706dde3a', folder=''),
                    'DIV2K_train_LR_bicubic/X4', 800, strip_suffix='x4'),
            Archive(RemoteFile('DIV2K_valid_LR_bicubic_X4.zip', (f'{_DIV2K}/DIV2K_valid_LR_bicubic_X4.zip',),
                               'a50a5d1c4b88de4e8d300d8fb2b904c52fe93b2b298a4899697760d7cbb6d553', folder=''),
                    'DIV2K_valid_LR_bicubic/X4', 100, strip_suffix='x4'),
        ),
        subimages=(SubImages('DIV2K_train_HR', 'DIV2K_train_HR_sub', 480, 240),
                   SubImages('DIV2K_train_LR_bicubic/X4', 'DIV2K_train_LR_bicubic/X4_sub', 120, 60)),
        note='800 training + 100 validation 2K images, bicubic x4 LR (about 4.3 GB of zips); 480x480 sub-images'),
}


def all_weight_files() -> list[tuple[str, RemoteFile]]:
    """(group, file) for every known weight file."""
    return [(group, f) for group, files in WEIGHTS.items() for f in files]


def sha256_for_url(url: str) -> str:
    """The check (digest or prefix) of the known file served at ``url``, '' when the URL is not a known one."""
    for _, f in all_weight_files():
        if url in f.urls:
            return f.check
    return ''


def default_folder(f: RemoteFile) -> Path:
    """Where a weight file is written by default (the torch hub folders follow $TORCH_HOME)."""
    if f.folder == PRETRAINED:
        return REPO_ROOT / PRETRAINED_DIR
    import torch.hub  # only here: everything else in this module is torch-free
    hub = Path(torch.hub.get_dir())
    return hub / 'checkpoints' if f.folder == HUB_CHECKPOINTS else hub / 'basicsr'


def download_command(path: str | os.PathLike) -> str | None:
    """The command that provides the missing ``path`` (a pretrained network, the VGG or NIQE file, a dataset folder
    or a file in one), run from the repository root; None when no known download provides it.

    Relative paths are taken relative to the repository root, as the option files' paths are. A file or folder that
    lives elsewhere than where the scripts write by default gets ``--dir`` / ``--root``.
    """
    p = Path(path).expanduser()
    p = p if p.is_absolute() else REPO_ROOT / p
    for _, f in all_weight_files():
        if p.name == f.name:
            command = f'python scripts/download_pretrained_models.py {f.name}'
            return command if p.parent == default_folder(f) else f'{command} --dir {_shown(p.parent)}'
    for i, part in enumerate(p.parts):
        dataset = DATASETS.get(part)
        if dataset is None:
            continue
        inside = Path(*p.parts[i + 1:]) if i + 1 < len(p.parts) else Path()
        if inside == Path() or any(inside == Path(d) or Path(d) in inside.parents for d in dataset.provides):
            root = Path(*p.parts[:i])
            command = f'python scripts/download_datasets.py {dataset.name}'
            return command if root == REPO_ROOT / DATASETS_DIR else f'{command} --root {_shown(root)}'
    return None


def download_hint(path: str | os.PathLike) -> str:
    """`` To download it: `COMMAND`.`` for a missing ``path`` that a known download provides, else '' (to append to
    a "not found" message)."""
    command = download_command(path)
    if command:
        return f' To download it: `{command}`.'
    command = training_command(path)
    return f' Training makes it (it is not downloadable): `{command}`.' if command else ''


def training_command(path: str | os.PathLike) -> str:
    """``python train.py -opt X`` for a missing ``experiments/NAME/models/...`` file when a shipped option file X
    trains the experiment NAME (e.g. the stage-1 network a two-stage demo starts from), else ''."""
    parts = Path(path).parts
    if len(parts) < 4 or parts[-2] != 'models' or parts[-4] != 'experiments':
        return ''
    named = re.compile(rf'^name:\s*{re.escape(parts[-3])}\s*(#.*)?$', re.MULTILINE)
    for option_file in sorted((REPO_ROOT / 'options').rglob('*.yml')):
        text = option_file.read_text(encoding='utf-8')
        if named.search(text) and re.search(r'^train:', text, re.MULTILINE):  # a training file, not a test file
            return f'python train.py -opt {_shown(option_file)}'
    return ''


def _shown(path: Path) -> str:
    """``path`` as a command argument: relative to the repository root when inside it, quoted for a shell."""
    return shlex.quote(str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path))
