"""A session's frame-pairing table: ``timestamps.csv`` as Caliscope records it.

Two layouts, both Caliscope's:

- ``sync_index, cam_id, frame_index, frame_time`` (time in s; current Caliscope): the frames of all
  cameras with the same ``sync_index`` were taken at the same moment. ``cam_id`` N names the camera whose
  name ends in the number N (``cam_0.mp4`` is cam_id 0). ``frame_index`` counts the camera's frames since
  its recording started, so it may not start at 0: when a camera has as many rows as its video has
  frames, its k-th row (by frame_index) is video frame k; otherwise frame_index must be a video frame
  number.
- ``sync_index, cam_id, frame_time`` (older sessions): no frame_index; a camera's rows are in its frame
  order, so its k-th row is video frame k.

Any other set of columns is a CalibrationError naming the columns found and the two layouts.
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
_OLD_COLUMNS = ("sync_index", "cam_id", "frame_time")


@dataclass
class SyncTable:
    """sync_indices: sorted sync indices present in the table. frames: {camera name: {sync_index: video frame}}."""

    sync_indices: list[int]
    frames: dict[str, dict[int, int]]


def _rows(path: Path) -> tuple[list[tuple[int, int, int]], bool]:
    """((sync_index, cam_id, frame_index) per row, whether the table has frame_index). Without it
    (the older layout) frame_index is the row's position among its camera's rows."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        found = list(reader.fieldnames or [])
        has_index = all(c in found for c in _COLUMNS)
        if not has_index and not all(c in found for c in _OLD_COLUMNS):
            raise CalibrationError(f"{path}: expected Caliscope's columns {list(_COLUMNS) + ['frame_time']} or the "
                                   f"older {list(_OLD_COLUMNS)}, found {found}")
        rows, seen = [], {}
        try:
            for r in reader:
                s, c = int(r["sync_index"]), int(r["cam_id"])
                if has_index:
                    f = int(r["frame_index"])
                else:
                    f = seen[c] = seen.get(c, -1) + 1
                rows.append((s, c, f))
        except (TypeError, ValueError) as exc:
            raise CalibrationError(f"{path}: sync_index, cam_id and frame_index must be integers ({exc})") from None
    return rows, has_index


def read_sync_table(path: str | Path, inputs: dict[str, Path]) -> SyncTable | None:
    """The table of ``path`` for the session cameras ``inputs`` ({name: video}); None (with a warning)
    when its cam_ids do not match the camera names or an input is an image folder."""
    path = Path(path)
    rows, has_index = _rows(path)
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
            if not has_index:
                log.warning("%s: camera %s (cam_id %d) has %d rows but its video %d frames: its k-th row is taken as "
                            "video frame k", path, name, cid, len(mine), n_video)
        else:
            what = "frame_index up to" if has_index else "rows (no frame_index column), the last"
            raise CalibrationError(f"{path}: camera {name} (cam_id {cid}) has {len(mine)} rows with {what} "
                                   f"{max((f for f, _ in mine), default=-1)} but its video has {n_video} frames; "
                                   f"expected one row per video frame")
    syncs = sorted({s for s, c, _ in rows if c in ids})
    log.info("%s: %d sync indices pair the frames of %d cameras", path, len(syncs), len(ids))
    return SyncTable(syncs, frames)
