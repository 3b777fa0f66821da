"""A session's frame-pairing table: ``timestamps.csv`` as Caliscope records it.

Columns ``sync_index, cam_id, frame_index, frame_time`` (time in s): the frames of all cameras with the
same ``sync_index`` were taken at the same moment. ``cam_id`` N names the camera whose name ends in the
number N (``cam_0.mp4`` is cam_id 0). ``frame_index`` counts the camera's frames since its recording
started, so it may not start at 0: when a camera has as many rows as its video has frames, its k-th
row (by frame_index) is video frame k; otherwise frame_index must be a video frame number.
"""
from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from capture3d.errors import CalibrationError
from capture3d.io.media import video_info

log = logging.getLogger(__name__)

SYNC_TABLE = "timestamps.csv"
_COLUMNS = ("sync_index", "cam_id", "frame_index")


@dataclass
class SyncTable:
    """sync_indices: sorted sync indices present in the table. frames: {camera name: {sync_index: video frame}}."""

    sync_indices: list[int]
    frames: dict[str, dict[int, int]]


def _rows(path: Path) -> list[tuple[int, int, int]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in _COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CalibrationError(f"{path}: missing column(s) {missing}; expected {list(_COLUMNS)} "
                                   f"(+ frame_time), found {reader.fieldnames}")
        try:
            return [(int(r["sync_index"]), int(r["cam_id"]), int(r["frame_index"])) for r in reader]
        except (TypeError, ValueError) as exc:
            raise CalibrationError(f"{path}: sync_index, cam_id and frame_index must be integers ({exc})") from None


def read_sync_table(path: str | Path, inputs: dict[str, Path]) -> SyncTable | None:
    """The table of ``path`` for the session cameras ``inputs`` ({name: video}); None (with a warning)
    when its cam_ids do not match the camera names or an input is an image folder."""
    path = Path(path)
    rows = _rows(path)
    ids = {}
    for name, p in inputs.items():
        m = re.search(r"(\d+)$", name)
        if m is None or not p.is_file():
            log.warning("%s: camera %s is not a video named with a number (cam_0 ...): frames are paired by their "
                        "order, not by the table", path, name)
            return None
        ids[int(m.group(1))] = name
    table_ids = {c for _, c, _ in rows}
    if not set(ids) <= table_ids:
        log.warning("%s: cam_id(s) %s of the session cameras %s are not in the table (which has %s): frames are "
                    "paired by their order", path, sorted(set(ids) - table_ids), list(inputs), sorted(table_ids))
        return None
    frames: dict[str, dict[int, int]] = {}
    for cid, name in ids.items():
        mine = sorted((f, s) for s, c, f in rows if c == cid)
        n_video = video_info(inputs[name], CalibrationError)[0]
        if len(mine) == n_video:
            frames[name] = {s: k for k, (_, s) in enumerate(mine)}
        elif mine and max(f for f, _ in mine) < n_video:
            frames[name] = {s: f for f, s in mine}
        else:
            raise CalibrationError(f"{path}: camera {name} (cam_id {cid}) has {len(mine)} rows with frame_index up to "
                                   f"{max((f for f, _ in mine), default=-1)} but its video has {n_video} frames; "
                                   f"expected one row per video frame")
    syncs = sorted({s for s, c, _ in rows if c in ids})
    log.info("%s: %d sync indices pair the frames of %d cameras", path, len(syncs), len(ids))
    return SyncTable(syncs, frames)
