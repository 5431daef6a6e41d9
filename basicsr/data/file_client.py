"""Byte readers for the two storage back-ends: plain folders ('disk') and LMDB databases ('lmdb').

LMDB environments are opened lazily, on first use in each process, so a dataset can be pickled into dataloader
workers and every worker opens its own read-only handle exactly once.
"""
from pathlib import Path
from typing import Any

from basicsr.utils.errors import DataError, OptionError


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
        self._paths = dict(zip(client_keys, db_paths))
        self._open_kwargs = dict(readonly=readonly, lock=lock, readahead=readahead, **kwargs)
        self._envs: dict[str, Any] = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state['_envs'] = {}  # environments are per process
        return state

    def _env(self, client_key: str) -> Any:
        if client_key not in self._envs:
            import lmdb
            if client_key not in self._paths:
                raise OptionError(f"io_backend: no LMDB for client key '{client_key}' "
                                  f"(have {', '.join(self._paths)}).")
            try:
                env = lmdb.open(self._paths[client_key], **self._open_kwargs)
            except lmdb.Error as err:
                raise DataError(f'{self._paths[client_key]}: cannot open as LMDB ({err}).') from err
            try:
                check_lmdb_complete(env, self._paths[client_key])
            except DataError:
                env.close()
                raise
            self._envs[client_key] = env
        return self._envs[client_key]

    def get(self, key: str, client_key: str = 'default') -> bytes:
        with self._env(client_key).begin(write=False) as txn:
            value = txn.get(key.encode('ascii'))
        if value is None:
            raise DataError(f"{self._paths[client_key]}: key '{key}' is not in the LMDB.")
        return bytes(value)


def check_lmdb_complete(env: Any, path: str) -> None:
    """Raise DataError unless the data file of the open LMDB ``env`` (folder ``path``) holds every page the
    environment's own meta page counts: reading a page past the end of a truncated file kills the process with
    SIGBUS (in a dataloader worker, PyTorch then blames the shared memory)."""
    data_file = Path(env.path()) / 'data.mdb' if Path(env.path()).is_dir() else Path(env.path())
    needed = (env.info()['last_pgno'] + 1) * env.stat()['psize']
    size = data_file.stat().st_size
    if size < needed:
        raise DataError(f'{data_file}: truncated LMDB data file ({size} bytes; its own page count needs {needed}); '
                        'copy it again or rebuild it with scripts/create_lmdb.py.')


_BACKENDS = {'disk': DiskBackend, 'lmdb': LmdbBackend}


def build_file_client(io_backend: dict[str, Any], key_path: str = 'io_backend') -> DiskBackend | LmdbBackend:
    """Make the back-end named by ``io_backend['type']`` with the rest of the dict as its options."""
    opts = dict(io_backend)
    backend_type = opts.pop('type', 'disk')
    if backend_type not in _BACKENDS:
        raise OptionError(f"{key_path}.type: unknown io back-end '{backend_type}' (choose from {', '.join(_BACKENDS)}).")
    return _BACKENDS[backend_type](**opts)
