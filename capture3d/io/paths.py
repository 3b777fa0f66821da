"""Checks on the paths a command is given (before any work is done)."""
from __future__ import annotations

import os
from pathlib import Path

from capture3d.errors import Capture3DError, ConfigError


def check_distinct(paths, what: str = "input", error: type[Capture3DError] = ConfigError) -> None:
    """Raise ``error`` when two of ``paths`` are the same file or folder (one per camera means each
    camera's own: the same video given twice is a typing slip that would triangulate nothing)."""
    seen: dict[Path, int] = {}
    for i, p in enumerate(paths):
        key = Path(os.path.realpath(p))
        if key in seen:
            raise error(f"the same {what} {p} is given for camera {seen[key] + 1} and camera {i + 1} "
                        f"(expected one {what} per camera, each camera's own)")
        seen[key] = i


def check_output_outside(out, inputs, error: type[Capture3DError] = ConfigError) -> None:
    """Raise ``error`` when the output folder ``out`` is one of ``inputs`` or inside one of the input
    folders: a command never writes into what it reads (a session's own rig.toml and config.toml would
    be replaced)."""
    o = Path(os.path.realpath(out))
    for p in inputs:
        i = Path(os.path.realpath(p))
        if o == i or (i.is_dir() and i in o.parents):
            raise error(f"the output folder {out} is {'the input' if o == i else 'inside the input'} {p}: outputs "
                        f"never go into an input "
                        f"(choose another -o, e.g. {Path(p).name}_out)")


def check_writable(path, is_dir: bool = False) -> None:
    """Raise OSError naming ``path`` when it cannot be written (read-only folder or file system, a file
    where a folder is needed, ...), before a long run that would only fail at its end. Creates the
    folders it needs (as the write would) and nothing else."""
    import errno
    import tempfile

    p = Path(path)
    folder = p if is_dir else p.parent
    if not is_dir and p.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder, expected a file path", str(p))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
