"""A walk over every record of an LMDB database, run in a separate process by
:func:`basicsr.utils.lmdb_util.check_lmdb_structure`.

liblmdb trusts the file: a few changed bytes in a page make it read outside the map, which kills the process with
SIGSEGV or SIGBUS, with no message and no way to catch it. Walking the database here first means such a crash
kills this process, and the caller reports it in one line. This script imports only the standard library and
``lmdb`` (it runs with ``python -I``, so nothing from the working folder is imported).

Input (stdin, JSON): ``{"path": ..., "expected": {key: [h, w, c]}}`` (meta_info.txt's shapes). Output (stdout,
JSON): a list of problems, each a sentence naming the file or key; empty when the database is sound.
"""
import json
import os
import struct
import sys

MAX_PROBLEMS = 5
_PNG = b'\x89PNG\r\n\x1a\n'
_PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> channels as OpenCV reads them unchanged (3: palette)


def truncation_problem(env: object) -> str | None:
    """The data file of the open LMDB ``env`` holds fewer pages than its own meta page counts: reading a page past
    the end kills the process with SIGBUS (in a dataloader worker, PyTorch then blames the shared memory)."""
    data_file = f'{env.path()}/data.mdb'
    needed = (env.info()['last_pgno'] + 1) * env.stat()['psize']
    size = os.stat(data_file).st_size
    if size < needed:
        return (f'{data_file}: truncated LMDB data file ({size} bytes; its own page count needs {needed}); copy it '
                'again or rebuild it with scripts/create_lmdb.py.')
    return None


def problems(path: str, expected: dict[str, list[int]]) -> list[str]:
    """What is wrong with the LMDB folder ``path`` (at most :data:`MAX_PROBLEMS`), each a sentence naming it."""
    import lmdb
    env = lmdb.open(path, readonly=True, lock=False, readahead=False)
    try:
        truncated = truncation_problem(env)
        if truncated:
            return [truncated]
        found, seen = [], set()
        with env.begin(buffers=True) as txn:
            for key, value in txn.cursor():
                name = bytes(key).decode('ascii', 'replace')
                seen.add(name)
                problem = _value_problem(bytes(value[:33]), len(value), expected.get(name))
                if problem:
                    found.append(f"{path}: key '{name}': {problem}")
                if len(found) >= MAX_PROBLEMS:
                    return found
        missing = sorted(set(expected) - seen)
        if missing:
            found.append(f"{path}: {len(missing)} key(s) of meta_info.txt are not in the database, e.g. "
                         f"'{missing[0]}'.")
        return found
    finally:
        env.close()


def _value_problem(head: bytes, size: int, shape: list[int] | None) -> str | None:
    if shape is None:
        return None
    if not head.startswith(_PNG) or head[12:16] != b'IHDR' or size < 33:
        return f'the value ({size} bytes) is not a PNG image.'
    width, height = struct.unpack('>II', head[16:24])
    channels = _PNG_CHANNELS.get(head[25])
    h, w, c = shape
    if (height, width) != (h, w) or (channels is not None and channels != c):
        return f'the value is a {height}x{width} PNG, meta_info.txt says ({h},{w},{c}).'
    return None


if __name__ == '__main__':
    request = json.load(sys.stdin)
    try:
        result = problems(request['path'], request['expected'])
    except Exception as err:  # lmdb's own errors (MDB_CORRUPTED, MDB_PAGE_NOTFOUND...), reported in one line
        result = [f"{request['path']}: damaged LMDB ({type(err).__name__}: {err})."]
    json.dump(result, sys.stdout)
