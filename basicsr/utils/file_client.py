"""BasicSR's ``FileClient``: bytes by path from a storage back-end, over the back-ends of
:mod:`basicsr.data.file_client` (``disk`` and ``lmdb``)."""
import os
from typing import Any

from basicsr.utils.errors import OptionError

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
        from basicsr.data.file_client import build_file_client  # here: basicsr.data imports this package
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
