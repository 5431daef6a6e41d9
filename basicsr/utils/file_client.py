"""Byte readers for the two storage back-ends: plain folders ('disk') and LMDB databases ('lmdb').

LMDB databases are checked when the back-end is made (:func:`~basicsr.utils.lmdb_util.check_lmdb_structure`: every
record walked in a separate process, so a damaged file is one error, never a crash). Environments are opened
lazily, on first use in each process, and shared by every back-end of the process that reads the same database,
so a dataset can be pickled into dataloader workers and every worker opens its own read-only handle once.

BasicSR's ``FileClient(backend, **kwargs)`` is the same back-ends behind BasicSR's interface.
"""
import os
from pathlib import Path
from typing import Any

from basicsr.utils.errors import DataError, OptionError
from basicsr.utils.lmdb_util import check_lmdb_structure


class DiskBackend:
    """Reads files from the file system; ``key`` is a path."""

    def __init__(self, **kwargs: Any) -> None:
        if kwargs:
            raise OptionError(f"io_backend: the disk back-end takes no options, got {', '.join(kwargs)}.")

    def get(self, key: str, client_key: str = 'default') -> bytes:
        try:
            return Path(key).read_bytes()
        except OSError as err:
            raise DataError(f'{key}: cannot read the file ({err.strerror or err}).') from err


class LmdbBackend:
    """Reads values from LMDB databases made by ``scripts/create_lmdb.py`` (BasicSR layout).

    Args:
        db_paths: the ``.lmdb`` folders, one per client key.
        client_keys: names the datasets use to pick a database (e.g. ``['lq', 'gt']``).
        readonly, lock, readahead: passed to ``lmdb.open``; the defaults suit random access by many readers.
    """

    def __init__(self, db_paths: str | list[str], client_keys: str | list[str] = 'default', readonly: bool = True,
                 lock: bool = False, readahead: bool = False, **kwargs: Any) -> None:
        db_paths = [str(p) for p in ([db_paths] if isinstance(db_paths, (str, Path)) else db_paths)]
        client_keys = [client_keys] if isinstance(client_keys, str) else list(client_keys)
        if len(db_paths) != len(client_keys):
            raise OptionError(f'io_backend: {len(db_paths)} LMDB paths but {len(client_keys)} client keys.')
        for path in db_paths:
            if not Path(path).is_dir():
                raise DataError(f'{path}: LMDB folder not found.')
            check_lmdb_structure(path)
        self._paths = dict(zip(client_keys, db_paths))
        self._open_kwargs = dict(readonly=readonly, lock=lock, readahead=readahead, **kwargs)
        self._envs: dict[str, Any] = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state['_envs'] = {}  # environments are per process
        return state

    def _env(self, client_key: str) -> Any:
        if client_key not in self._envs:
            if client_key not in self._paths:
                raise OptionError(f"io_backend: no LMDB for client key '{client_key}' "
                                  f"(have {', '.join(self._paths)}).")
            self._envs[client_key] = _shared_env(self._paths[client_key], self._open_kwargs)
        return self._envs[client_key]

    def get(self, key: str, client_key: str = 'default') -> bytes:
        import lmdb
        try:
            with self._env(client_key).begin(write=False) as txn:
                value = txn.get(key.encode('ascii'))
        except lmdb.Error as err:
            raise DataError(f"{self._paths[client_key]}: cannot read key '{key}' ({type(err).__name__}: {err}); "
                            'the database is damaged, rebuild it with scripts/create_lmdb.py.') from None
        if value is None:
            raise DataError(f"{self._paths[client_key]}: key '{key}' is not in the LMDB.")
        return bytes(value)


_OPEN_ENVS: dict[tuple[int, str], Any] = {}  # (process id, real path) -> environment


def _shared_env(path: str, open_kwargs: dict[str, Any]) -> Any:
    """One environment per database and process: liblmdb refuses to open a path twice in a process, and a train
    and a validation set may read the same database. The process id keeps a forked worker from using its
    parent's handle."""
    import lmdb
    key = (os.getpid(), os.path.realpath(path))
    if key not in _OPEN_ENVS:
        try:
            _OPEN_ENVS[key] = lmdb.open(path, **open_kwargs)
        except lmdb.Error as err:
            raise DataError(f'{path}: cannot open as LMDB ({err}).') from None
    return _OPEN_ENVS[key]


_BACKENDS = {'disk': DiskBackend, 'lmdb': LmdbBackend}


def build_file_client(io_backend: dict[str, Any], key_path: str = 'io_backend') -> DiskBackend | LmdbBackend:
    """Make the back-end named by ``io_backend['type']`` with the rest of the dict as its options."""
    opts = dict(io_backend)
    backend_type = opts.pop('type', 'disk')
    if backend_type not in _BACKENDS:
        raise OptionError(f"{key_path}.type: unknown io back-end '{backend_type}' (choose from {', '.join(_BACKENDS)}).")
    return _BACKENDS[backend_type](**opts)


# BasicSR's other back-ends, with what to do instead.
_REFUSED = {
    'memcached': 'the memcached back-end (mc, a cluster-specific client) is not supported; copy the images to disk '
                 "or pack them with scripts/create_lmdb.py and use 'lmdb'",
    'ceph': "the ceph back-end is not supported; copy the images to disk or use 'lmdb'",
}


class FileClient:
    """Reads files from ``backend`` (``'disk'`` or ``'lmdb'``; ``kwargs`` are the back-end's options, e.g.
    ``db_paths`` and ``client_keys`` for LMDB), as BasicSR's ``FileClient(backend, **kwargs)``."""

    def __init__(self, backend: str = 'disk', **kwargs: Any) -> None:
        if backend in _REFUSED:
            raise OptionError(f"io_backend.type: '{backend}': {_REFUSED[backend]}.", key_path='io_backend.type')
        self.backend = backend
        self.client = build_file_client({'type': backend, **kwargs})

    def get(self, filepath: str | os.PathLike, client_key: str = 'default') -> bytes:
        """The bytes of ``filepath`` (a path; for LMDB, a key in the database named ``client_key``)."""
        return self.client.get(str(filepath), client_key)

    def get_text(self, filepath: str | os.PathLike) -> str:
        """The text of a file on disk (LMDB holds no text: an OptionError)."""
        if self.backend != 'disk':
            raise OptionError(f"io_backend.type: get_text reads files on disk, not from '{self.backend}'.",
                              key_path='io_backend.type')
        return self.client.get(str(filepath)).decode('utf-8')
