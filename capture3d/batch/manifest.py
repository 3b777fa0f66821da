"""The batch manifest, ``OUT/batch_manifest.json``: one entry per finished task, with the hash of its
inputs (every file of the session and its calibration) and of the resolved config it ran with. A task
whose key is in the manifest (and whose outputs are there) is skipped; any other is (re)done. Written
atomically after every finished task, so Ctrl-C or a crash loses only the tasks that were running."""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from capture3d.errors import ConfigError
from capture3d.io.atomic import atomic_write_text

log = logging.getLogger(__name__)

MANIFEST_NAME = "batch_manifest.json"
_VERSION = 1
_CHUNK = 1 << 20


def hash_files(paths) -> str:
    """sha256 over the given files (and every file under the given folders), names and contents, in
    sorted order: a renamed, added, removed or changed file changes it."""
    h = hashlib.sha256()
    files: list[tuple[str, Path]] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += [(f.relative_to(p.parent).as_posix(), f) for f in sorted(p.rglob("*")) if f.is_file()]
        else:
            files.append((p.name, p))
    for name, f in sorted(files):
        h.update(name.encode() + b"\0")
        with open(f, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def hash_text(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() + b"\0")
    return h.hexdigest()


class Manifest:
    """The finished tasks of one OUT folder: ``done(task_id, key)``, ``record(task_id, key, **info)``."""

    def __init__(self, out: Path) -> None:
        self.path = Path(out) / MANIFEST_NAME
        self.tasks: dict[str, dict] = {}
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text())
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{self.path}: unreadable batch manifest ({exc}); delete it to redo every "
                                  "task") from None
            if not isinstance(data, dict) or data.get("version") != _VERSION:
                raise ConfigError(f"{self.path}: expected a capture3d batch manifest version {_VERSION}; "
                                  "delete it to redo every task")
            self.tasks = dict(data.get("tasks", {}))

    def done(self, task_id: str, key: str) -> bool:
        entry = self.tasks.get(task_id)
        return entry is not None and entry.get("key") == key

    def entry(self, task_id: str) -> dict | None:
        return self.tasks.get(task_id)

    def record(self, task_id: str, key: str, **info) -> None:
        self.tasks[task_id] = {"key": key, **info}
        self.save()

    def forget(self, task_id: str) -> None:
        if self.tasks.pop(task_id, None) is not None:
            self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps({"version": _VERSION, "tasks": self.tasks}, indent=1,
                                                sort_keys=True) + "\n")
