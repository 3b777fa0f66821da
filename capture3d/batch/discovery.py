"""Which sessions are under the inputs of ``capture3d batch``.

A session is a folder ``capture3d process`` takes alone:

* a capture3d recording (it holds ``session.toml``; its rig.toml and config.toml come with it), or
* a trial of one video per camera: a folder holding ``videos/`` (or the videos themselves) with a
  calibration in a ``calibration/`` folder of the trial or of a folder above it, up to the root that was
  given (Pose2Sim's ``Demo_Batch``: a shared ``calibration/Calib.qca.txt`` and ``Trial_*/videos/``).

Each session's outputs go to ``OUT/<session folder name>``, so two sessions of one name are an error.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from capture3d.errors import ConfigError
from capture3d.io.media import VIDEO_SUFFIXES
from capture3d.runtime.videos import find_calibration

@dataclass(frozen=True)
class Session:
    """name: the output folder name; path: what ``process`` is given; rig: the calibration (None: the
    recording's own rig.toml); kind: "recording" or "videos"."""

    name: str
    path: Path
    rig: Path | None
    kind: str


def _videos_in(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    except OSError:
        return []


def _session_at(folder: Path, root: Path) -> Session | None:
    if (folder / "session.toml").is_file():
        return Session(folder.name, folder, None, "recording")
    if folder.name in ("calibration", "videos"):
        return None
    if len(_videos_in(folder / "videos")) >= 2 or len(_videos_in(folder)) >= 2:
        rig = find_calibration(folder, root)
        if rig is None:
            raise ConfigError(f"{folder} holds videos but no calibration was found in a calibration/ folder of it "
                              f"or of a folder above it (up to {root}): expected e.g. calibration/Calib.qca.txt")
        return Session(folder.name, folder, rig, "videos")
    return None


def find_sessions(inputs) -> list[Session]:
    """Every session under ``inputs`` (session folders or folders holding them, at any depth), in natural
    order of their paths. Raises ConfigError for a missing input, no session at all, or two sessions of
    one name (their outputs would collide)."""
    found: list[Session] = []
    for given in map(Path, inputs):
        if not given.exists():
            raise ConfigError(f"{given}: no such file or folder (expected a session, or a folder of sessions)")
        if not given.is_dir():
            raise ConfigError(f"{given}: is a file, expected a session folder or a folder of sessions")
        root = given.resolve()
        for dirpath, dirnames, _ in os.walk(given):
            d = Path(dirpath)
            s = _session_at(d, root)
            if s is not None:
                found.append(s)
                dirnames[:] = []  # a session's own folders are not sessions
            else:
                dirnames.sort()
    if not found:
        raise ConfigError(f"no session found under {', '.join(map(str, inputs))}: expected capture3d recordings "
                          "(folders with session.toml) or trials of videos (videos/ and a calibration/ folder)")
    by_name: dict[str, Session] = {}
    for s in found:
        if s.name in by_name:
            raise ConfigError(f"two sessions are named {s.name!r} ({by_name[s.name].path} and {s.path}): "
                              "their outputs would both go to OUT/" + s.name + "; give them distinct folder names")
        by_name[s.name] = s
    return found
