"""Downloads against a local HTTP server on 127.0.0.1 (files made by the tests): hash checks, refused and
interrupted transfers leave nothing, offline errors name the URL and the place; safe zip extraction; the two
download scripts; the command hints for missing files; the shipped option files stay inside the repository."""
import hashlib
import socket
import subprocess
import sys
import threading
import time
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'scripts'))

import download_datasets  # noqa: E402
import download_pretrained_models  # noqa: E402
from basicsr.utils import download_util, known_files  # noqa: E402
from basicsr.utils.download_util import (download, download_remote_file, extract_zip,  # noqa: E402
                                         load_file_from_url)
from basicsr.utils.errors import DownloadError  # noqa: E402
from basicsr.utils.img_util import imread, imwrite  # noqa: E402
from basicsr.utils.known_files import Archive, Bicubic, Dataset, RemoteFile, SubImages, download_command  # noqa: E402
from conftest import synthetic_image  # noqa: E402


class Handler(SimpleHTTPRequestHandler):
    """Serves the test's folder; ``/cut/NAME`` announces NAME's full length but closes after half of it, ``/hang/``
    answers nothing for 3 s. Every request path is recorded."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.server.requests.append(self.path)
        if self.path.startswith('/hang/'):
            time.sleep(3)
            return
        if self.path.startswith('/cut/'):
            body = (Path(self.directory) / self.path[len('/cut/'):]).read_bytes()
            self.send_response(200)
            self.send_header('Content-Type', 'application/octet-stream')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hangs up mid-body (as the interruption tests do) is expected


@pytest.fixture
def server(tmp_path: Path):
    """(base URL, served folder, list of request paths) of a server running for this test only."""
    served = tmp_path / 'served'
    served.mkdir()
    httpd = QuietServer(('127.0.0.1', 0), partial(Handler, directory=str(served)))
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}', served, httpd.requests
    httpd.shutdown()
    httpd.server_close()


def _serve(served: Path, name: str, size: int = 300_000, seed: int = 0) -> tuple[bytes, str]:
    data = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()
    (served / name).write_bytes(data)
    return data, hashlib.sha256(data).hexdigest()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------------------------- download()
def test_download_writes_the_verified_file(server, tmp_path: Path) -> None:
    url, served, _ = server
    data, digest = _serve(served, 'net.pth')
    dest = download(f'{url}/net.pth', tmp_path / 'out' / 'net.pth', digest, progress=False)
    assert dest.read_bytes() == data
    assert _leftovers(tmp_path / 'out') == ['net.pth']
    assert download(f'{url}/net.pth', tmp_path / 'out2' / 'n.pth', digest[:8], progress=False).is_file()  # prefix


def test_wrong_hash_is_refused_and_the_old_file_kept(server, tmp_path: Path) -> None:
    url, served, _ = server
    _, digest = _serve(served, 'net.pth')
    (tmp_path / 'out').mkdir()
    (tmp_path / 'out' / 'net.pth').write_bytes(b'previous')
    wrong = hashlib.sha256(b'something else').hexdigest()
    with pytest.raises(DownloadError) as info:
        download(f'{url}/net.pth', tmp_path / 'out' / 'net.pth', wrong, progress=False)
    message = str(info.value)
    assert f'{url}/net.pth' in message and wrong in message and digest in message and '\n' not in message
    assert (tmp_path / 'out' / 'net.pth').read_bytes() == b'previous'
    assert _leftovers(tmp_path / 'out') == ['net.pth']


def test_a_connection_closed_mid_body_leaves_no_file(server, tmp_path: Path) -> None:
    url, served, _ = server
    _, digest = _serve(served, 'big.pth', size=200_000)
    with pytest.raises(DownloadError, match='/cut/big.pth'):
        download(f'{url}/cut/big.pth', tmp_path / 'out' / 'big.pth', digest, progress=False)
    assert _leftovers(tmp_path / 'out') == []


def test_ctrl_c_during_the_transfer_leaves_no_file(server, tmp_path: Path, monkeypatch) -> None:
    url, served, _ = server
    _serve(served, 'big.pth', size=3 << 20)  # several chunks

    class InterruptingBar(download_util.tqdm):
        def update(self, n=1):
            raise KeyboardInterrupt

    monkeypatch.setattr(download_util, 'tqdm', InterruptingBar)
    with pytest.raises(KeyboardInterrupt):
        download(f'{url}/big.pth', tmp_path / 'out' / 'big.pth', progress=False)
    assert _leftovers(tmp_path / 'out') == []


def test_a_silent_server_times_out(server, tmp_path: Path) -> None:
    url, _, _ = server
    start = time.monotonic()
    with pytest.raises(DownloadError, match='timed out'):
        download(f'{url}/hang/x.pth', tmp_path / 'x.pth', progress=False, timeout=0.3)
    assert time.monotonic() - start < 2.5
    assert not (tmp_path / 'x.pth').exists()


def test_offline_error_names_the_url_and_where_to_put_the_file(tmp_path: Path) -> None:
    url = f'http://127.0.0.1:{_unused_port()}/RRDB_PSNR_x4.pth'
    dest = tmp_path / 'models' / 'RRDB_PSNR_x4.pth'
    with pytest.raises(DownloadError) as info:
        download(url, dest, progress=False, timeout=2)
    message = str(info.value)
    assert url in message and str(dest) in message and 'cannot download' in message and '\n' not in message
    assert not dest.exists()


def test_a_missing_file_is_an_http_error(server, tmp_path: Path) -> None:
    url, _, _ = server
    with pytest.raises(DownloadError, match='HTTP 404'):
        download(f'{url}/nothing.pth', tmp_path / 'nothing.pth', progress=False)


# ------------------------------------------------------------------------------------------ BasicSR helpers
def test_load_file_from_url_downloads_once_then_uses_the_file(server, tmp_path: Path) -> None:
    url, served, requests = server
    data, _ = _serve(served, 'w.pth')
    path = load_file_from_url(f'{url}/w.pth', model_dir=str(tmp_path / 'hub'), progress=False)
    assert path == str(tmp_path / 'hub' / 'w.pth') and Path(path).read_bytes() == data
    renamed = load_file_from_url(f'{url}/w.pth', model_dir=str(tmp_path / 'hub'), file_name='x.pth', progress=False)
    assert Path(renamed).name == 'x.pth'
    count = len(requests)
    (served / 'w.pth').unlink()  # the server no longer has it: the local file must be used
    assert load_file_from_url(f'{url}/w.pth', model_dir=str(tmp_path / 'hub'), progress=False) == path
    assert len(requests) == count


def test_load_file_from_url_relative_folder_is_below_the_repository(server, tmp_path: Path, monkeypatch) -> None:
    url, served, _ = server
    _serve(served, 'w.pth')
    monkeypatch.setattr(download_util, 'REPO_ROOT', tmp_path / 'repo')
    monkeypatch.chdir(tmp_path)
    path = load_file_from_url(f'{url}/w.pth', model_dir='experiments/pretrained_models', progress=False)
    assert Path(path) == tmp_path / 'repo' / 'experiments' / 'pretrained_models' / 'w.pth'


def test_known_file_kept_when_verified_replaced_when_corrupt(server, tmp_path: Path) -> None:
    url, served, requests = server
    data, digest = _serve(served, 'w.pth')
    f = RemoteFile('w.pth', (f'{url}/missing.pth', f'{url}/w.pth'), digest)  # the first source fails
    path, fetched = download_remote_file(f, tmp_path, progress=False)
    assert fetched and path.read_bytes() == data
    count = len(requests)
    assert download_remote_file(f, tmp_path, progress=False) == (path, False)
    assert len(requests) == count
    path.write_bytes(b'damaged')
    assert download_remote_file(f, tmp_path, progress=False) == (path, True)
    assert path.read_bytes() == data


def test_no_source_working_lists_every_url(server, tmp_path: Path) -> None:
    url, _, _ = server
    f = RemoteFile('w.pth', (f'{url}/a.pth', f'{url}/b.pth'), '0' * 64)
    with pytest.raises(DownloadError) as info:
        download_remote_file(f, tmp_path / 'w', progress=False)
    assert f'{url}/a.pth' in str(info.value) and f'{url}/b.pth' in str(info.value)
    assert _leftovers(tmp_path / 'w') == []


# ------------------------------------------------------------------------------------------------ archives
def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, 'w') as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize('evil', ['../evil.txt', 'set/../../evil.txt', '/tmp/evil.txt', 'C:/evil.txt'])
def test_extraction_refuses_paths_leading_outside(tmp_path: Path, evil: str) -> None:
    archive = _zip(tmp_path / 'a.zip', {'set/ok.png': b'1', evil: b'2'})
    with pytest.raises(DownloadError, match='refused'):
        extract_zip(archive, tmp_path / 'out' / 'set', 'set')
    assert not (tmp_path / 'out').exists() and not (tmp_path / 'evil.txt').exists()


def test_extraction_refuses_links(tmp_path: Path) -> None:
    info = zipfile.ZipInfo('set/link.png')
    info.external_attr = (0o120777 << 16)
    with zipfile.ZipFile(tmp_path / 'a.zip', 'w') as zf:
        zf.writestr(info, '/etc/passwd')
    with pytest.raises(DownloadError, match='link'):
        extract_zip(tmp_path / 'a.zip', tmp_path / 'out', 'set')
    assert not (tmp_path / 'out').exists()


def test_extraction_takes_one_folder_and_renames(tmp_path: Path) -> None:
    archive = _zip(tmp_path / 'a.zip', {'D/X4/0001x4.png': b'a', 'D/X4/sub/0002x4.png': b'b', 'other/z.png': b'c'})
    count = extract_zip(archive, tmp_path / 'X4', 'D/X4', download_datasets.strip_suffix('x4'))
    assert count == 2
    assert sorted(str(p.relative_to(tmp_path / 'X4')) for p in (tmp_path / 'X4').rglob('*.png')) == \
        ['0001.png', 'sub/0002.png']


# ------------------------------------------------------------------------------------------------- scripts
def test_pretrained_script_downloads_selected_files_and_skips_verified_ones(server, tmp_path: Path, monkeypatch,
                                                                           capsys) -> None:
    url, served, requests = server
    _, digest_a = _serve(served, 'a.pth', seed=1)
    data_b = b'weights of b' * 1000
    prefix = hashlib.sha256(data_b).hexdigest()[:8]
    (served / f'b-{prefix}.pth').write_bytes(data_b)  # a name carrying its own hash prefix, torchvision style
    group = (RemoteFile('a.pth', (f'{url}/a.pth',), digest_a),
             RemoteFile(f'b-{prefix}.pth', (f'{url}/b-{prefix}.pth',)))
    monkeypatch.setitem(known_files.WEIGHTS, 'TestGroup', group)
    assert download_pretrained_models.main(['testgroup', '--dir', str(tmp_path / 'w'), '--no-progress']) == 0
    assert sorted(_leftovers(tmp_path / 'w')) == sorted(['a.pth', f'b-{prefix}.pth'])
    assert (tmp_path / 'w' / f'b-{prefix}.pth').read_bytes() == data_b
    count = len(requests)
    assert download_pretrained_models.main(['a', '--dir', str(tmp_path / 'w'), '--no-progress']) == 0
    assert len(requests) == count and 'present:' in capsys.readouterr().out
    with pytest.raises(SystemExit, match='not a known group or file'):
        download_pretrained_models.main(['NoSuchNet'])


def test_pretrained_script_refuses_a_file_whose_name_prefix_does_not_match(server, tmp_path: Path,
                                                                           monkeypatch) -> None:
    url, served, _ = server
    _serve(served, 'c-deadbeef.pth')
    monkeypatch.setitem(known_files.WEIGHTS, 'T', (RemoteFile('c-deadbeef.pth', (f'{url}/c-deadbeef.pth',)),))
    with pytest.raises(DownloadError, match='deadbeef'):
        download_pretrained_models.main(['T', '--dir', str(tmp_path), '--no-progress'])
    assert _leftovers(tmp_path) == ['served']


def _png_bytes(img: np.ndarray, tmp: Path) -> bytes:
    imwrite(img, tmp / 'x.png')
    return (tmp / 'x.png').read_bytes()


def test_dataset_script_downloads_extracts_and_prepares(server, tmp_path: Path, monkeypatch) -> None:
    url, served, requests = server
    hr = {f'{i:04d}': synthetic_image(i, 40, 48) for i in (1, 2)}
    scratch = tmp_path / 'scratch'
    scratch.mkdir()
    members = {f'T_train_HR/{k}.png': _png_bytes(v, scratch) for k, v in hr.items()}
    members.update({f'T_train_LR/X4/{k}x4.png': _png_bytes(v[::4, ::4], scratch) for k, v in hr.items()})
    archive = _zip(served / 'T.zip', members)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    zip_file = RemoteFile('T.zip', (f'{url}/T.zip',), digest, folder='')
    image = synthetic_image(7, 29, 40)
    (served / 'img.png').write_bytes(_png_bytes(image, scratch))
    image_file = RemoteFile('img.png', (f'{url}/img.png',), hashlib.sha256((served / 'img.png').read_bytes())
                            .hexdigest(), folder='')
    dataset = Dataset('TestSet', archives=(Archive(zip_file, 'T_train_HR', 2),
                                           Archive(zip_file, 'T_train_LR/X4', 2, strip_suffix='x4')),
                      hr_images=(image_file,), subimages=(SubImages('T_train_HR', 'T_train_HR_sub', 24, 16),),
                      bicubic=Bicubic('HR', 'GTmod12', 12, (2, 4)))
    monkeypatch.setitem(known_files.DATASETS, 'TestSet', dataset)
    root = tmp_path / 'datasets'
    assert download_datasets.main(['testset', '--root', str(root), '--n-thread', '1', '--no-progress']) == 0
    base = root / 'TestSet'
    assert np.array_equal(imread(base / 'T_train_HR' / '0001.png'), hr['0001'])
    assert sorted(p.name for p in (base / 'T_train_LR' / 'X4').iterdir()) == ['0001.png', '0002.png']
    assert len(list((base / 'T_train_HR_sub').iterdir())) == 2 * 2 * 3  # 40x48, crop 24 step 16
    assert np.array_equal(imread(base / 'GTmod12' / 'img.png'), image[:24, :36])
    assert imread(base / 'LRbicx4' / 'img.png').shape == (6, 9, 3)
    assert imread(base / 'LRbicx2' / 'img.png').shape == (12, 18, 3)
    assert not (base / 'T.zip').exists()  # removed after extraction
    assert not [p for p in base.iterdir() if p.name.startswith('.')]  # no temporary folders left
    count = len(requests)
    assert download_datasets.main(['TestSet', '--root', str(root), '--n-thread', '1']) == 0
    assert len(requests) == count  # everything present: nothing fetched again


def test_dataset_script_offline_leaves_nothing_and_names_the_url(tmp_path: Path, monkeypatch) -> None:
    url = f'http://127.0.0.1:{_unused_port()}/img.png'
    monkeypatch.setitem(known_files.DATASETS, 'Off', Dataset('Off', hr_images=(RemoteFile('img.png', (url,),
                                                                                          '0' * 64, folder=''),)))
    with pytest.raises(DownloadError, match=url):
        download_datasets.main(['Off', '--root', str(tmp_path), '--no-progress', '--timeout', '2'])
    assert _leftovers(tmp_path / 'Off') == []


def test_script_runs_as_a_plain_script_from_another_folder(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(REPO / 'scripts' / 'download_datasets.py'), '--list'],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'DIV2K_train_HR_sub' in result.stdout
    assert download_datasets.build_parser().parse_args([]).root == str(REPO / 'datasets')  # not the current folder
    assert known_files.default_folder(known_files.WEIGHTS['ESRGAN'][0]) == REPO / 'experiments' / 'pretrained_models'


# -------------------------------------------------------------------------------------------------- hints
@pytest.mark.parametrize('path, command', [
    ('experiments/pretrained_models/RRDB_PSNR_x4.pth', 'python scripts/download_pretrained_models.py RRDB_PSNR_x4.pth'),
    (REPO / 'experiments/pretrained_models/RealESRGAN_x4plus.pth',
     'python scripts/download_pretrained_models.py RealESRGAN_x4plus.pth'),
    ('/data/weights/RRDB_ESRGAN_x4.pth',
     'python scripts/download_pretrained_models.py RRDB_ESRGAN_x4.pth --dir /data/weights'),
    ('datasets/DIV2K/DIV2K_train_HR_sub', 'python scripts/download_datasets.py DIV2K'),
    (REPO / 'datasets/DIV2K/DIV2K_train_LR_bicubic/X4_sub', 'python scripts/download_datasets.py DIV2K'),
    ('datasets/Set5/GTmod12/baby.png', 'python scripts/download_datasets.py Set5'),
    ('datasets/Set14', 'python scripts/download_datasets.py Set14'),
    ('/mnt/sr data/Set14/LRbicx4', "python scripts/download_datasets.py Set14 --root '/mnt/sr data'"),
    ('datasets/DIV2K/DIV2K_train_HR_sub.lmdb', None),
    ('datasets/Set5/LRbicx8', None),
    ('experiments/pretrained_models/MSRResNet_x4.pth', None),
])
def test_download_command_names_what_provides_a_missing_path(path, command) -> None:
    assert download_command(path) == command


def test_download_command_for_the_vgg_and_niqe_files() -> None:
    import torch.hub
    hub = Path(torch.hub.get_dir())
    assert download_command(hub / 'checkpoints' / 'vgg19-dcbb9e9d.pth') == \
        'python scripts/download_pretrained_models.py vgg19-dcbb9e9d.pth'
    assert download_command(hub / 'basicsr' / 'niqe_pris_params.npz') == \
        'python scripts/download_pretrained_models.py niqe_pris_params.npz'


def test_registry_is_consistent() -> None:
    names = [f.name for _, f in known_files.all_weight_files()]
    assert len(names) == len(set(names))
    for _, f in known_files.all_weight_files():
        assert all(u.startswith('https://') for u in f.urls), f.name
        assert f.check or f.name == 'niqe_pris_params.npz', f'{f.name}: nothing to verify it against'
        assert len(f.check) in (0, 8, 64) and all(c in '0123456789abcdef' for c in f.check), f.name
    for dataset in known_files.DATASETS.values():
        for f in [a.file for a in dataset.archives] + list(dataset.hr_images):
            assert len(f.check) == 64 and f.urls[0].startswith('https://'), f.name


# ------------------------------------------------------------------------------------------ option files
def _option_paths(data, prefix=''):
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _option_paths(value, f'{prefix}{key}.')
    elif isinstance(data, str) and ('/' in data) and prefix.rstrip('.').split('.')[-1].startswith(
            ('dataroot', 'pretrain_network', 'meta_info', 'vgg_weights_path', 'params_path')):
        yield prefix.rstrip('.'), data


@pytest.mark.parametrize('option_file', sorted(p.relative_to(REPO) for p in (REPO / 'options').rglob('*.yml')),
                         ids=str)
def test_shipped_option_files_point_inside_the_repository(option_file: Path) -> None:
    opt = yaml.safe_load((REPO / option_file).read_text())
    for key, value in _option_paths(opt):
        assert not Path(value).is_absolute() and '..' not in Path(value).parts, f'{key}: {value}'
        assert value.startswith(('datasets/', 'experiments/')), f'{key}: {value}'


def test_test_options_name_downloadable_data() -> None:
    for name in ('test_rrdb.yml', 'test_srresnet.yml'):
        opt = yaml.safe_load((REPO / 'options' / name).read_text())
        for dataset in opt['datasets'].values():
            assert download_command(dataset['dataroot_gt']) is not None, dataset['dataroot_gt']
    esrgan = yaml.safe_load((REPO / 'options' / 'esrgan_x4.yml').read_text())
    assert download_command(esrgan['path']['pretrain_network_g']) == \
        'python scripts/download_pretrained_models.py RRDB_PSNR_x4.pth'



def test_not_found_errors_name_the_download_command(tmp_path: Path, monkeypatch) -> None:
    from basicsr.archs.vgg_arch import find_vgg_weights
    from basicsr.metrics.niqe import load_niqe_model
    from basicsr.utils.checkpoint import load_checkpoint
    from basicsr.utils.errors import BasicSRError
    with pytest.raises(BasicSRError, match=r'download_pretrained_models.py RRDB_PSNR_x4.pth --dir '):
        load_checkpoint(tmp_path / 'RRDB_PSNR_x4.pth')
    with pytest.raises(BasicSRError) as info:
        load_checkpoint(tmp_path / 'net_g_1000.pth')
    assert 'download' not in str(info.value)
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    with pytest.raises(BasicSRError, match=r'`python scripts/download_pretrained_models.py vgg19-dcbb9e9d.pth`'):
        find_vgg_weights('vgg19', None)
    monkeypatch.delenv('BASICSR_NIQE_PARAMS', raising=False)
    with pytest.raises(BasicSRError, match=r'download_pretrained_models.py niqe_pris_params.npz --dir '):
        load_niqe_model(str(tmp_path / 'niqe_pris_params.npz'))
