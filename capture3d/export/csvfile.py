"""CSV export: one row per frame.

Columns: ``time_s``, then for every joint ``<joint>_x, <joint>_y, <joint>_z`` (metres, world frame,
Z up), ``<joint>_conf`` (0-1), ``<joint>_err_px`` (mean reprojection error) and ``<joint>_views``
(number of cameras used). A missing joint has empty x/y/z/err cells, conf 0 and views 0 (a joint is whole
or missing). The first line is the header, so ``pandas.read_csv(path)`` and spreadsheets read it with no
options; the keypoint set, fps, units and provenance go to a sidecar ``<file>.meta.json`` (files of older
versions that start with ``#`` comment lines are still read).

Several people (``write_people_csv``): a ``person`` column (integer id) right after ``time_s``, one row
per frame and person (frames in order, people in id order, a person not seen in a frame has an empty row),
still read by ``pandas.read_csv(path)`` with no options; ``read_csv`` refuses such a file with a message
that says how to read one person, ``read_people_csv`` reads them all.
"""
from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np

from capture3d.errors import ExportError
from capture3d.io.atomic import atomic_open, atomic_write_text
from capture3d.body.keypoint_sets import KEYPOINT_SETS, KeypointSet, get_keypoint_set
from capture3d.types import Keypoints3D

_FIELDS = ("x", "y", "z", "conf", "err_px", "views")


def _fmt(v: float, digits: int) -> str:
    return "" if not np.isfinite(v) else f"{v:.{digits}f}"


def _cells(kp: Keypoints3D, t: int) -> list[str]:
    """The joint cells of frame t (every joint's x, y, z, conf, err_px, views)."""
    row = []
    for j in range(kp.keypoint_set.n_joints):
        x, y, z = kp.xyz_world[t, j]
        row += [_fmt(x, 6), _fmt(y, 6), _fmt(z, 6), f"{kp.confidence[t, j]:.3f}",
                _fmt(kp.reproj_err_px[t, j], 3), str(int(kp.n_views[t, j]))]
    return row


def _write(path, kp: Keypoints3D, people: dict[int, Keypoints3D] | None) -> Path:
    names = kp.keypoint_set.names
    with atomic_open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["time_s"] + (["person"] if people is not None else []) + [f"{n}_{f}" for n in names for f in _FIELDS])
        for t in range(kp.n_frames):
            if people is None:
                w.writerow([f"{kp.times_s[t]:.6f}"] + _cells(kp, t))
                continue
            for pid, p in people.items():
                w.writerow([f"{kp.times_s[t]:.6f}", str(pid)] + _cells(p, t))
    meta = {"format": "capture3d 3D keypoints CSV", "keypoint_set": kp.keypoint_set.name, "fps": kp.fps,
            "units": "m", "frame": "world, Z up", "n_frames": kp.n_frames,
            "metadata": {k: v for k, v in kp.metadata.items() if isinstance(v, (str, int, float, bool))}}
    if people is not None:
        meta["people"] = [int(i) for i in people]
    atomic_write_text(meta_path(path), json.dumps(meta, indent=2))
    return Path(path)


def write_csv(path: str | os.PathLike, kp: Keypoints3D) -> Path:
    """Write the sequence as CSV (atomic). Returns the path."""
    return _write(path, kp, None)


def write_people_csv(path: str | os.PathLike, people: dict[int, Keypoints3D]) -> Path:
    """Write several people (id -> sequence, the same times and keypoint set) as one CSV with a ``person``
    column right after ``time_s``: one row per frame and person, frames in order, people in id order."""
    first = check_same_take(people, path)
    return _write(path, first, dict(sorted(people.items())))


def check_same_take(people: dict[int, Keypoints3D], path) -> Keypoints3D:
    """The first person of a non-empty {id: sequence} whose sequences share times and keypoint set;
    ExportError otherwise."""
    if not people:
        raise ExportError(f"{path}: no person to write (the take has no tracked person)")
    first = next(iter(people.values()))
    for pid, p in people.items():
        if isinstance(pid, bool) or not isinstance(pid, (int, np.integer)) or pid < 0:
            raise ExportError(f"{path}: person ids must be integers >= 0, found {pid!r}")
        if p.keypoint_set.name != first.keypoint_set.name or p.n_frames != first.n_frames or \
                not np.array_equal(p.times_s, first.times_s):
            raise ExportError(f"{path}: person {pid} has other frames or another keypoint set than the first "
                              f"person ({p.n_frames} frames of {p.keypoint_set.name}, expected "
                              f"{first.n_frames} of {first.keypoint_set.name})")
    return first


def meta_path(path: str | os.PathLike) -> Path:
    """The sidecar of a CSV file: ``<file>.meta.json`` (keypoint set, fps, units, provenance)."""
    return Path(str(path) + ".meta.json")


def _read_meta(path: Path) -> dict:
    side = meta_path(path)
    if not side.is_file():
        return {}
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"{side}: not a readable sidecar of {path.name}: {exc}") from None
    if not isinstance(meta, dict):
        raise ExportError(f"{side}: expected a JSON object (keypoint_set, fps, ...)")
    return {k: str(meta[k]) for k in ("keypoint_set", "fps") if k in meta}


def _column_diff(found: list[str], expected: list[str]) -> str:
    """The first columns where a header differs from the expected one, in words."""
    bad = [f"column {i + 1} is {f!r}, expected {e!r}" for i, (f, e) in enumerate(zip(found, expected)) if f != e]
    if len(found) != len(expected):
        bad.append(f"{len(found)} columns, expected {len(expected)}")
    return "; ".join(bad[:3]) + ("; ..." if len(bad) > 3 else "")


def _keypoint_set_from(header: list[str], comment: dict, path: Path) -> KeypointSet:
    if "keypoint_set" in comment:
        try:
            return get_keypoint_set(comment["keypoint_set"])
        except KeyError as exc:
            raise ExportError(f"{path}: {exc}") from None
    names = [h[: -len("_x")] for h in header if h.endswith("_x")]
    for kps in KEYPOINT_SETS.values():
        if list(kps.names) == names:
            return kps
    near = [k for k in KEYPOINT_SETS.values() if k.n_joints == len(names)]
    if near:  # a renamed or misspelt column: say which, against the set with the same joint count
        best = max(near, key=lambda k: sum(a == b for a, b in zip(k.names, names)))
        expected = ["time_s"] + [f"{n}_{f}" for n in best.names for f in _FIELDS]
        raise ExportError(f"{path}: header matches no keypoint set; against {best.name}: "
                          f"{_column_diff(header, expected)}")
    raise ExportError(f"{path}: joint columns {names[:5]}... ({len(names)} joints) match no known keypoint set")


def read_csv(path: str | os.PathLike) -> Keypoints3D:
    """Read a CSV written by write_csv (one person; a file with a ``person`` column: ``read_people_csv``)."""
    return _read(Path(path), people=False)


def read_people_csv(path: str | os.PathLike) -> dict[int, Keypoints3D]:
    """Read a CSV written by write_people_csv: {person id: sequence}, ids in order. A CSV without a
    ``person`` column is one person, id 0."""
    return _read(Path(path), people=True)


def _read(path: Path, people: bool):
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"{path}: cannot read CSV: {exc}") from None
    lines = text.splitlines()
    comment = _read_meta(path)
    while lines and lines[0].startswith("#"):
        for part in lines.pop(0).lstrip("# ").split(";"):
            if "=" in part:
                k, v = part.split("=", 1)
                comment[k.strip()] = v.strip()
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    if not rows or rows[0][:1] != ["time_s"]:
        raise ExportError(f"{path}: expected a header row starting with 'time_s' (capture3d CSV)")
    header = rows[0]
    has_person = header[1:2] == ["person"]
    if has_person and not people:
        ids = sorted({r[1] for r in rows[1:] if len(r) > 1}, key=lambda x: (len(x), x))
        raise ExportError(f"{path}: holds several people (a 'person' column; ids {', '.join(ids[:10])}"
                          f"{', ...' if len(ids) > 10 else ''}): read one person with --person ID "
                          f"(capture3d.export.people.read_people in Python)")
    lead = ["time_s", "person"] if has_person else ["time_s"]
    kps = _keypoint_set_from(header, comment, path)
    expected = lead + [f"{n}_{f}" for n in kps.names for f in _FIELDS]
    if header != expected:
        raise ExportError(f"{path}: header does not match {kps.name}'s columns: {_column_diff(header, expected)}")
    body = rows[1:]
    T, J = len(body), kps.n_joints
    for i, r in enumerate(body):
        if len(r) != len(expected):
            raise ExportError(f"{path}: row {i + 2} has {len(r)} cells, the header {len(expected)}"
                              f"{' (truncated file?)' if i == T - 1 else ''}")
    try:
        vals = np.array([[float(c) if c != "" else np.nan for c in r] for r in body], dtype=float).reshape(T, -1)
    except ValueError as exc:
        raise ExportError(f"{path}: non-numeric cell: {exc}") from None
    per = vals[:, len(lead):].reshape(T, J, len(_FIELDS))
    if not has_person:
        out = {0: _sequence(per, vals[:, 0], comment, kps)}
        return out if people else out[0]
    pid = vals[:, 1]
    if not (np.isfinite(pid) & (pid == np.round(pid)) & (pid >= 0)).all():
        bad = int(np.flatnonzero(~(np.isfinite(pid) & (pid == np.round(pid)) & (pid >= 0)))[0])
        raise ExportError(f"{path}: row {bad + 2}: person must be an integer id >= 0, found {body[bad][1]!r}")
    out = {}
    for i in np.unique(pid).astype(int):
        rows_i = pid == i
        out[int(i)] = _sequence(per[rows_i], vals[rows_i, 0], comment, kps)
        if not np.array_equal(out[int(i)].times_s, out[int(np.min(pid))].times_s):
            raise ExportError(f"{path}: person {i} has other frames (times) than person {int(np.min(pid))}: "
                              f"expected one row per frame and person")
    return out


def _sequence(per: np.ndarray, times: np.ndarray, comment: dict, kps: KeypointSet) -> Keypoints3D:
    """Cells (T, J, 6) and times (T,) -> Keypoints3D (fps from the sidecar, else from the times)."""
    T = len(times)
    fps = float(comment.get("fps", 0)) or (1.0 / np.median(np.diff(times)) if T > 1 else 30.0)
    return Keypoints3D(per[..., :3], per[..., 3], per[..., 4], np.nan_to_num(per[..., 5]).astype(np.int64),
                       times, fps, kps)
