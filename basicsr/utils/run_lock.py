"""One run per experiment (or results) folder at a time.

A run holds ``.<folder name>.lock`` beside its folder for as long as it lives: a POSIX lock (``lockf``) on the file,
which the kernel drops when the process ends in any way (SIGKILL included; forked DataLoader workers do not
inherit it), and in the file the holder's PID, host, start time and command, to name it to whoever is refused.
The lock sits beside the folder, not inside it, so moving an old folder aside (``mkdir_and_rename``) happens
under the lock and never moves a live run's folder.

A stale lock (its process is gone) is taken over: the file exists but nobody holds its lock. Where the file
system cannot lock, the record decides: on this host a PID that no longer runs is stale. A lock recorded by
another host is never taken over (its process cannot be checked from here); the message names the file to
delete once that run is over. Releasing deletes the file.
"""
import errno
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from basicsr.utils.errors import RunLockError

_HELD: dict[Path, 'RunLock'] = {}  # the locks this process holds, by folder
_ATTEMPTS = 20  # a lock file replaced or probed meanwhile is tried again, this many times ...
_RETRY_SECONDS = 0.05  # ... this far apart


def lock_path(folder: str | os.PathLike) -> Path:
    """The lock file of ``folder``: ``.<name>.lock`` beside it."""
    folder = Path(folder).resolve()
    return folder.with_name(f'.{folder.name}.lock')


class RunLock:
    """A held lock; :meth:`release` (or the end of the process) frees it."""

    def __init__(self, folder: Path, fd: int) -> None:
        self.folder, self.fd = folder, fd

    def release(self) -> None:
        """Delete the lock file and drop the lock; safe to call twice."""
        if _HELD.get(self.folder) is not self:
            return
        del _HELD[self.folder]
        path = lock_path(self.folder)
        if _still_at(path, self.fd):
            path.unlink(missing_ok=True)
        os.close(self.fd)

    def __enter__(self) -> 'RunLock':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def acquire_run_lock(folder: str | os.PathLike, purpose: str = 'run') -> RunLock:
    """Hold the lock of ``folder`` (which need not exist yet) for this process, or raise one RunLockError naming the
    process that holds it. Taking a lock this process already holds returns that lock."""
    folder = Path(folder).resolve()
    if folder in _HELD:
        return _HELD[folder]
    path = lock_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(_ATTEMPTS):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            owner = _take(fd, path)
        except BaseException:
            os.close(fd)
            raise
        if owner is not None:
            os.close(fd)
            if owner is _RETRY:
                time.sleep(_RETRY_SECONDS)
                continue
            raise RunLockError(_in_use_message(folder, owner, path))
        _write_owner(fd, purpose)
        _HELD[folder] = lock = RunLock(folder, fd)
        return lock
    raise RunLockError(f'{folder}: cannot take the run lock {path}: other processes keep changing it.')


_RETRY: dict[str, Any] = {}  # _take's answer for "look again in a moment"


def _take(fd: int, path: Path) -> dict[str, Any] | None:
    """Lock ``fd``: None when taken, else the holder's record (``_RETRY`` when it cannot be told yet)."""
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno not in (errno.EACCES, errno.EAGAIN):  # this file system cannot lock: the record decides
            owner = _read_owner(fd)
            return owner if owner and not _is_dead_here(owner) else None
        owner = _read_owner(fd)  # none yet: just created, or being probed by lock_owner; look again
        return _RETRY if not owner or _is_dead_here(owner) else owner
    if not _still_at(path, fd):  # released (and deleted) meanwhile
        return _RETRY
    owner = _read_owner(fd)
    if owner and owner.get('host') != socket.gethostname():
        return {**owner, 'hint': f'if that run is over, delete {path}'}
    return None


def lock_owner(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The record (PID, host, start time, command) of the live process holding ``folder``'s lock, or None when it
    is free, stale, or held by this process. Looks without taking it."""
    folder = Path(folder).resolve()
    if folder in _HELD:
        return None
    try:
        fd = os.open(lock_path(folder), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        owner = _read_owner(fd)
        try:
            fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno in (errno.EACCES, errno.EAGAIN):
                return owner or {}
            return owner if owner and not _is_dead_here(owner) else None
        return owner if owner and owner.get('host') != socket.gethostname() else None
    finally:
        os.close(fd)


def refuse_if_locked(folder: str | os.PathLike, action: str) -> None:
    """One RunLockError naming the holder when another live run holds ``folder``'s lock (``action``: what was about
    to be done, e.g. 'move it aside')."""
    owner = lock_owner(folder)
    if owner is not None:
        raise RunLockError(f'{_in_use_message(Path(folder).resolve(), owner, lock_path(folder))[:-1]}; '
                           f'refused to {action}.')


def _read_owner(fd: int) -> dict[str, Any] | None:
    try:
        data = os.pread(fd, 64 << 10, 0)
        owner = json.loads(data) if data else None
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def _write_owner(fd: int, purpose: str) -> None:
    record = {'pid': os.getpid(), 'host': socket.gethostname(), 'purpose': purpose,
              'started': time.strftime('%Y-%m-%d %H:%M:%S'), 'command': ' '.join(sys.argv).replace('\n', ' ')[:300]}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(record).encode(), 0)
    os.fsync(fd)


def _is_dead_here(owner: dict[str, Any]) -> bool:
    """Whether ``owner`` ran on this host and its PID no longer exists."""
    if owner.get('host') != socket.gethostname() or not isinstance(owner.get('pid'), int):
        return False
    try:
        os.kill(owner['pid'], 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists (another user's)
        return False
    return False


def _still_at(path: Path, fd: int) -> bool:
    try:
        return path.stat().st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _in_use_message(folder: Path, owner: dict[str, Any], path: Path) -> str:
    if not owner:
        return f'{folder} is in use by another run (lock {path}).'
    hint = f"; {owner['hint']}" if 'hint' in owner else ''
    return (f"{folder} is in use by another {owner.get('purpose', 'run')}: PID {owner.get('pid')} on "
            f"{owner.get('host')}, started {owner.get('started')} ({owner.get('command')}){hint}.")
