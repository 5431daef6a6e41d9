"""Downloading files: streamed to a temporary file beside the destination, checked against a SHA-256 (or its
prefix) when one is known, and renamed into place only when complete and correct, so a dropped connection, a
Ctrl-C or a wrong file never leaves anything under the final name. Plain ``urllib``; a failure is a one-line
:class:`~basicsr.utils.errors.DownloadError` naming the URL and where to put the file by hand.

Time limits: ``timeout`` seconds without any data, and ``deadline`` seconds for the whole transfer (a server that
trickles bytes never times out per read). Temporary files are removed on every failure; those of a process that
was killed (SIGKILL) are removed by the next download to the same folder once older than the deadline.

Completeness: a file is kept only when its end can be verified: its SHA-256 matches, or the server announced its
length (``Content-Length``) and sent all of it, or sent it chunked and ended the chunks properly. A body with none
of these ends when the connection closes, and a cut connection looks the same, so it is refused.

On top, BasicSR 1.4.2's public functions: :func:`load_file_from_url`, :func:`download_file_from_google_drive` and
:func:`sizeof_fmt`. The files this project knows (and their hashes) are in :mod:`basicsr.utils.known_files`.
"""
import contextlib
import glob
import hashlib
import http.client
import os
import shutil
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Callable
from urllib.parse import urlparse

from tqdm import tqdm

from basicsr.utils.checkpoint import TMP_SUFFIX, atomic_write
from basicsr.utils.errors import DownloadError
from basicsr.utils.known_files import REPO_ROOT, RemoteFile, default_folder, sha256_for_url
from basicsr.utils.misc import folder_written_atomically, sizeof_fmt
from basicsr.utils.option_schema import plain_name

__all__ = ['download', 'download_remote_file', 'load_file_from_url', 'download_file_from_google_drive',
           'sizeof_fmt', 'file_sha256', 'matches', 'extract_zip']

TIMEOUT = 60  # seconds without any data (connecting or reading) before giving up
DEADLINE = 2 * 60 * 60  # seconds for a whole transfer (the largest known file takes minutes on a slow line)
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
             timeout: float = TIMEOUT, place: str | os.PathLike | None = None, deadline: float = DEADLINE) -> Path:
    """Download ``url`` to ``dest`` (its folder is created); return ``dest``.

    ``sha256``: the expected digest or a prefix of it ('' = not checked). The bytes go to a temporary file in the
    destination folder, which becomes ``dest`` only once complete and matching; on any failure (network, timeout,
    ``deadline`` seconds passed, short or unverifiable body, hash mismatch, Ctrl-C) it is removed and ``dest`` is
    left as it was. Raises DownloadError naming the URL and ``place``, where to put the file by hand (default
    ``dest``).
    """
    try:
        return _download(url, Path(dest), sha256, progress, timeout, deadline)
    except _Failed as err:
        raise DownloadError(f'{url}: {err}. {_advice(place or dest)}') from None


def _advice(place: str | os.PathLike) -> str:
    return f'Nothing was kept; run the command again, or download the file by hand and put it at {place}.'


def _download(url: str, dest: Path, sha256: str, progress: bool, timeout: float, deadline: float) -> Path:
    remove_abandoned_temporaries(dest, deadline)
    ends_at = time.monotonic() + deadline
    request = urllib.request.Request(url, headers={'User-Agent': USER_AGENT})
    try:
        response = urllib.request.urlopen(request, timeout=min(timeout, deadline))
    except (OSError, http.client.HTTPException, ValueError) as err:
        failure = err
    else:
        with response:
            if response.headers.get_content_type() == 'text/html' and not dest.name.endswith(('.html', '.htm')):
                raise _Failed('the server sent a web page instead of the file (for Google Drive: a download quota '
                              'or a changed link)')
            total = int(response.headers.get('Content-Length') or 0) or None
            if total is None and not sha256 and not getattr(response, 'chunked', False):
                raise _Failed('the server gives neither the length of the file nor chunked framing, and no SHA-256 '
                              'is known: a cut transfer could not be told from a complete one')
            atomic_write(dest, lambda file: _receive(response, file, total, sha256, progress, dest.name,
                                                     _Clock(timeout, ends_at, deadline)))
        return dest
    raise _Failed(f'cannot download ({_reason(failure)})')


def remove_abandoned_temporaries(dest: Path, older_than: float) -> None:
    """Delete the temporary files of ``dest`` left by a download that was killed: older than ``older_than``
    seconds (the deadline: no live download's file is that old)."""
    if not dest.parent.is_dir():
        return
    now = time.time()
    for tmp in dest.parent.glob(f'.{glob.escape(dest.name)}.*{TMP_SUFFIX}'):
        with contextlib.suppress(OSError):
            if now - tmp.stat().st_mtime > older_than:
                tmp.unlink()


class _Clock:
    """The time left for each read: ``timeout`` without data, and never past the transfer's deadline."""

    def __init__(self, timeout: float, ends_at: float, deadline: float) -> None:
        self.timeout, self.ends_at, self.deadline = timeout, ends_at, deadline

    def next_read(self, response: Any) -> None:
        left = self.ends_at - time.monotonic()
        if left <= 0:
            raise _Failed(f'the transfer took longer than its deadline of {self.deadline:g} s')
        sock = getattr(getattr(response.fp, 'raw', None), '_sock', None)  # http.client's socket, when it has one
        if sock is not None:
            sock.settimeout(min(self.timeout, left))


def _receive(response: Any, file: BinaryIO, total: int | None, sha256: str, progress: bool, desc: str,
             clock: _Clock) -> None:
    """Copy the body into ``file`` with a progress bar, checking its length and hash before it is kept."""
    digest, received = hashlib.sha256(), 0
    with tqdm(total=total, unit='B', unit_scale=True, unit_divisor=1024, desc=desc, disable=not progress,
              leave=False) as bar:
        while chunk := _read(response, clock):
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


def _read(response: Any, clock: _Clock) -> bytes:
    """The next bytes of the body (what one receive brings, so a trickle cannot hold a read past the deadline); a
    network failure becomes _Failed (raised outside the ``except``, so it carries no OSError that the file writer
    would report as a failed write)."""
    clock.next_read(response)
    try:
        return response.read1(CHUNK)
    except TimeoutError:
        failure = _Failed(f'the transfer took longer than its deadline of {clock.deadline:g} s'
                          if time.monotonic() >= clock.ends_at else f'no data for {clock.timeout:g} s (timed out)')
    except (OSError, http.client.HTTPException) as err:
        failure = _Failed(f'the transfer failed ({_reason(err)})')
    raise failure


def _reason(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f'HTTP {err.code} {err.reason}'
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    if isinstance(err, http.client.IncompleteRead):
        return f'the connection closed after {len(err.partial)} bytes of a chunk'
    return str(err) or type(err).__name__


def download_remote_file(f: RemoteFile, folder: str | os.PathLike | None = None, progress: bool = True,
                         timeout: float = TIMEOUT, place: str | os.PathLike | None = None,
                         deadline: float = DEADLINE) -> tuple[Path, bool]:
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
            return _download(url, dest, f.check, progress, timeout, deadline), True
        except _Failed as err:
            failures.append(f'{url}: {err}')
    sources = failures[0] if len(failures) == 1 else f'{f.name}: no source worked ({"; ".join(failures)})'
    raise DownloadError(f'{sources}. {_advice(place or dest)}')


def load_file_from_url(url: str, model_dir: str | os.PathLike | None = None, progress: bool = True,
                       file_name: str | None = None) -> str:
    """BasicSR's helper: the local path of ``url``'s file in ``model_dir``, downloading it when it is not there.

    ``model_dir`` defaults to the torch hub checkpoints folder; a relative one is taken relative to the repository
    root, as BasicSR does, and must stay inside it. ``file_name`` (default: the URL's last path segment) must be a
    plain file name. A file already there is used as it is. When the URL is one of
    :mod:`basicsr.utils.known_files`, the download is checked against its hash.
    """
    if model_dir is None:
        import torch.hub
        model_dir = Path(torch.hub.get_dir()) / 'checkpoints'
    folder = Path(model_dir).expanduser()
    if not folder.is_absolute():
        folder = (REPO_ROOT / folder).resolve()
        if not folder.is_relative_to(REPO_ROOT.resolve()):
            raise DownloadError(f'{url}: model_dir {str(model_dir)!r} leads outside {REPO_ROOT}; give an absolute '
                                'folder to download elsewhere.')
    name = file_name if file_name is not None else os.path.basename(urlparse(url).path)
    problem = plain_name(name)
    if problem:
        raise DownloadError(f"{url}: file name {name!r} {problem}; nothing was downloaded.")
    path = (folder / name).resolve()
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
