"""The storage back-ends of the datasets: :mod:`basicsr.utils.file_client` (one module for all of them)."""
from basicsr.utils.file_client import DiskBackend, FileClient, LmdbBackend, build_file_client  # noqa: F401
