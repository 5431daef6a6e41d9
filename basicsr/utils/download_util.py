"""Downloading files: streamed to a temporary file beside the destination, checked against a SHA-256 (or its
prefix) when one is known, and renamed into place only when complete and correct, so a dropped connection, a
Ctrl-C or a wrong file never leaves anything under the final name. Plain ``urllib``, with timeouts; a failure is a
one-line :class:`~basicsr.utils.errors.DownloadError` naming the URL and where to put the file by hand.

On top, BasicSR 1.4.2's public functions: :func:`load_file_from_url`, :func:`download_file_from_google_drive` and
:func:`sizeof_fmt`. The files this project knows (and their hashes) are in :mod:`basicsr.utils.known_files`.
"""
import hashlib
import http.client
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable
from urllib.parse import urlparse

from tqdm import tqdm

from basicsr.utils.checkpoint import atomic_write
from basicsr.utils.errors import DownloadError
from basicsr.utils.known_files import REPO_ROOT, RemoteFile, default_folder, sha256_for_url
from basicsr.utils.misc import folder_written_atomically, sizeof_fmt

__all__ = ['download', 'download_remote_file', 'load_file_from_url', 'download_file_from_google_drive',
           'sizeof_fmt', 'file_sha256', 'matches', 'extract_zip']

TIMEOUT = 60  # seconds without any data (connecting or reading) before giving up
CHUNK = 1 << 20
USER_AGENT = 'basicsr-downloader'


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as file:
        for chunk in iter(lambda: file.read(CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def matches(digest: str, expected: str) -> bool:
    """Whether a full hex digest agrees with ``expected``: the whole digest, or a prefix of at least 8 digits."""
    return bool(expected) and digest.startswith(expected.lower())


class _Failed(Exception):
    """One source failed: what went wrong, without the advice (which depends on how many sources there are)."""


def download(url: str, dest: str | os.PathLike, sha256: str = '', progress: bool = True,
             timeout: float = TIMEOUT, place: str | os.PathLike | None = None) -> Path:
    """Download ``url`` to ``dest`` (its folder is created); return ``dest``.

    ``sha256``: the expected digest or a prefix of it ('' = not checked). The bytes go to a temporary file in the
    destination folder, which becomes ``dest`` only once complete and matching; on any failure (network, timeout,
    short body, hash mismatch, Ctrl-C) it is removed and ``dest`` is left as it was. Raises DownloadError naming the
    URL and ``place``, where to put the file by hand (default ``dest``).
    """
    try:
        return _download(url, Path(dest), sha256, progress, timeout)
    except _Failed as err:
        raise DownloadError(f'{url}: {err}. {_advice(place or dest)}') from None


def _advice(place: str | os.PathLike) -> str:
    return f'Nothing was kept; run the command again, or download the file by hand and put it at {place}.'


def _download(url: str, dest: Path, sha256: str, progress: bool, timeout: float) -> Path:
    request = urllib.request.Request(url, headers={'User-Agent': USER_AGENT})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except (OSError, http.client.HTTPException, ValueError) as err:
        failure = err
    else:
        with response:
            if response.headers.get_content_type() == 'text/html' and not dest.name.endswith(('.html', '.htm')):
                raise _Failed('the server sent a web page instead of the file (for Google Drive: a download quota '
                              'or a changed link)')
            total = int(response.headers.get('Content-Length') or 0) or None
            atomic_write(dest, lambda file: _receive(response, file, total, sha256, progress, dest.name))
        return dest
    raise _Failed(f'cannot download ({_reason(failure)})')


def _receive(response: BinaryIO, file: BinaryIO, total: int | None, sha256: str, progress: bool,
             desc: str) -> None:
    """Copy the body into ``file`` with a progress bar, checking its length and hash before it is kept."""
    digest, received = hashlib.sha256(), 0
    with tqdm(total=total, unit='B', unit_scale=True, unit_divisor=1024, desc=desc, disable=not progress,
              leave=False) as bar:
        while chunk := _read(response):
            file.write(chunk)
            digest.update(chunk)
            received += len(chunk)
            bar.update(len(chunk))
    if total is not None and received != total:
        raise _Failed(f'the connection closed after {received} of {total} bytes')
    found = digest.hexdigest()
    if sha256 and not matches(found, sha256):
        what = 'SHA-256' if len(sha256) == 64 else 'SHA-256 prefix'
        raise _Failed(f'wrong file, refused: expected {what} {sha256.lower()}, found {found}')


def _read(response: BinaryIO) -> bytes:
    """The next chunk of the body; a network failure becomes _Failed (raised outside the ``except``, so it carries
    no OSError that the file writer would report as a failed write)."""
    try:
        return response.read(CHUNK)
    except (OSError, http.client.HTTPException) as err:
        failure = err
    raise _Failed(f'the transfer failed ({_reason(failure)})')


def _reason(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f'HTTP {err.code} {err.reason}'
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    if isinstance(err, http.client.IncompleteRead):
        return f'the connection closed after {len(err.partial)} bytes of a chunk'
    return str(err) or type(err).__name__


def download_remote_file(f: RemoteFile, folder: str | os.PathLike | None = None, progress: bool = True,
                         timeout: float = TIMEOUT, place: str | os.PathLike | None = None) -> tuple[Path, bool]:
    """Provide a known file in ``folder`` (default: its usual place); return (path, whether it was downloaded).

    A file already there is kept when it passes the check (or when there is nothing to check it against); one that
    fails it is downloaded again. The sources are tried in order; when all fail, one DownloadError names each of
    them and ``place``, where the file belongs (default: the file in ``folder``).
    """
    dest = Path(folder) / f.name if folder is not None else default_folder(f) / f.name
    if dest.is_file() and (not f.check or matches(file_sha256(dest), f.check)):
        return dest, False
    failures = []
    for url in f.urls:
        try:
            return _download(url, dest, f.check, progress, timeout), True
        except _Failed as err:
            failures.append(f'{url}: {err}')
    sources = failures[0] if len(failures) == 1 else f'{f.name}: no source worked ({"; ".join(failures)})'
    raise DownloadError(f'{sources}. {_advice(place or dest)}')


def load_file_from_url(url: str, model_dir: str | os.PathLike | None = None, progress: bool = True,
                       file_name: str | None = None) -> str:
    """BasicSR's helper: the local path of ``url``'s file in ``model_dir``, downloading it when it is not there.

    ``model_dir`` defaults to the torch hub checkpoints folder; a relative one is taken relative to the repository
    root, as BasicSR does. A file already there is used as it is. When the URL is one of
    :mod:`basicsr.utils.known_files`, the download is checked against its hash.
    """
    if model_dir is None:
        import torch.hub
        model_dir = Path(torch.hub.get_dir()) / 'checkpoints'
    folder = Path(model_dir).expanduser()
    folder = folder if folder.is_absolute() else REPO_ROOT / folder
    path = (folder / (file_name or os.path.basename(urlparse(url).path))).resolve()
    if not path.is_file():
        download(url, path, sha256_for_url(url), progress)
    return str(path)


def download_file_from_google_drive(file_id: str, save_path: str | os.PathLike) -> None:
    """BasicSR's helper: download the Google Drive file ``file_id`` (shared publicly) to ``save_path``."""
    download(f'https://drive.usercontent.google.com/download?id={file_id}&export=download&confirm=t', save_path)


def extract_zip(archive: str | os.PathLike, target: str | os.PathLike, folder: str,
                rename: Callable[[str], str] | None = None) -> int:
    """Extract the members of ``archive`` below ``folder`` (a folder path inside it) into ``target``, which is
    written all at once (it never holds a partial extraction); return the number of files.

    Members whose names would lead outside the target (absolute paths, ``..``, drive letters) refuse the whole
    archive; so do links. ``rename`` maps each file's name (not its folders) to the name written.
    """
    archive, target = Path(archive), Path(target)
    prefix = PurePosixPath(folder)
    with zipfile.ZipFile(archive) as zf:
        members = []
        for info in zf.infolist():
            name = PurePosixPath(info.filename.replace('\\', '/'))
            if name.is_absolute() or '..' in name.parts or ':' in info.filename or _is_link(info):
                raise DownloadError(f'{archive}: refused: member {info.filename!r} would be written outside '
                                    f'{target} (or is a link); the archive is not extracted.')
            if not info.is_dir() and prefix in name.parents:
                members.append((info, name.relative_to(prefix)))
        if not members:
            raise DownloadError(f'{archive}: holds no files below {folder}/; not the expected archive?')
        with folder_written_atomically(target) as tmp:
            for info, rel in members:
                out = tmp / rel.parent / (rename(rel.name) if rename else rel.name)
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(out, 'wb') as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
    return len(members)


def _is_link(info: zipfile.ZipInfo) -> bool:
    return (info.external_attr >> 16) & 0o170000 == 0o120000
