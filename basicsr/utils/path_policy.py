"""Where user-given paths may lead: one rule for every file list that names files relative to a folder.

A meta-info or pair-list entry is a path *relative to its data root*; an absolute path or one that climbs out with
``..`` would read files the option file never named as data. The check is on the text of the entry (symbolic
links inside a data root are the user's own choice and are followed).
"""
import os
from pathlib import Path, PurePosixPath

from basicsr.utils.errors import DataError


def inside(root: str | os.PathLike, relative: str, what: str) -> Path:
    """``root / relative``, or a DataError naming ``what`` (e.g. ``meta.txt, line 3``) when ``relative`` is
    absolute or leads outside ``root``."""
    parts = PurePosixPath(relative.replace('\\', '/')).parts
    if not relative or Path(relative).is_absolute() or parts[:1] == ('/',) or _climbs_out(parts):
        raise DataError(f"{what}: '{relative}' leads outside {root}; entries must be paths inside it.")
    return Path(root) / relative


def _climbs_out(parts: tuple[str, ...]) -> bool:
    depth = 0
    for part in parts:
        depth += -1 if part == '..' else 0 if part == '.' else 1
        if depth < 0:
            return True
    return False


def stays_below(value: str) -> str | None:
    """An option check: a relative folder must not climb above the folder it is relative to (absolute paths are
    the user's explicit choice)."""
    if not Path(value).expanduser().is_absolute() and _climbs_out(PurePosixPath(value.replace('\\', '/')).parts):
        return "must stay inside the root folder (no leading '..'); give an absolute path to use another place"
    return None
