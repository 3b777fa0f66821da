"""JSON export in the style of OpenPose's 3D output.

One file: ``{"version": 1.3, "units": "m", "frame": "world, Z up", "keypoint_set": "BODY_25",
"joints": [...], "fps": 30, "frames": [{"frame": 0, "time_s": 0.0, "people": [{"person_id": [0],
"pose_keypoints_3d": [x, y, z, c, ...], "reprojection_error_px": [...], "views": [...]}]}]}``.
As in OpenPose, a missing joint is written 0, 0, 0, 0 (c = 0) and an empty frame has no people.
Several people (``write_people_json``): one entry per person seen in the frame, ``person_id`` its id.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from capture3d.errors import ExportError
from capture3d.export.csvfile import check_same_take
from capture3d.io.atomic import atomic_write_text
from capture3d.body.keypoint_sets import get_keypoint_set
from capture3d.types import Keypoints3D


def _r(v: float, nd: int) -> float:
    return round(float(v), nd)


def _person(kp: Keypoints3D, t: int, person_id: int) -> dict | None:
    """One person's entry of frame t (None when no joint is known)."""
    ok = np.isfinite(kp.xyz_world[t]).all(axis=-1)
    if not ok.any():
        return None
    flat = []
    for j in range(kp.keypoint_set.n_joints):
        if ok[j]:
            flat += [_r(v, 6) for v in kp.xyz_world[t, j]] + [_r(max(kp.confidence[t, j], 1e-3), 3)]
        else:
            flat += [0.0, 0.0, 0.0, 0.0]
    return {"person_id": [int(person_id)], "pose_keypoints_3d": flat,
            "reprojection_error_px": [_r(e, 3) if o else None for e, o in zip(kp.reproj_err_px[t], ok)],
            "views": [int(v) for v in kp.n_views[t]]}


def to_json_dict(kp: Keypoints3D, people: dict[int, Keypoints3D] | None = None) -> dict:
    """The JSON document of a sequence, or of several people ({id: sequence} sharing kp's frames, each
    entry with its ``person_id``); see the module docstring."""
    people = {0: kp} if people is None else people
    frames = []
    for t in range(kp.n_frames):
        entries = [_person(p, t, pid) for pid, p in people.items()]
        frames.append({"frame": t, "time_s": _r(kp.times_s[t], 6), "people": [e for e in entries if e]})
    return {"version": 1.3, "units": "m", "frame": "world, Z up", "keypoint_set": kp.keypoint_set.name,
            "joints": list(kp.keypoint_set.names), "fps": kp.fps,
            "metadata": {k: v for k, v in kp.metadata.items() if isinstance(v, (str, int, bool))
                         or (isinstance(v, float) and math.isfinite(v))},
            "frames": frames}


def write_json(path: str | os.PathLike, kp: Keypoints3D) -> Path:
    """Write the sequence as one JSON file (atomic). Returns the path."""
    return atomic_write_text(path, json.dumps(to_json_dict(kp), allow_nan=False, separators=(",", ":")))


def write_people_json(path: str | os.PathLike, people: dict[int, Keypoints3D]) -> Path:
    """Write several people ({id: sequence}, the same frames) as one JSON file, ``person_id`` per entry."""
    first = check_same_take(people, path)
    doc = to_json_dict(first, dict(sorted(people.items())))
    return atomic_write_text(path, json.dumps(doc, allow_nan=False, separators=(",", ":")))


def read_json(path: str | os.PathLike) -> Keypoints3D:
    """Read a JSON file written by write_json (one person; several: ``read_people_json``)."""
    path = Path(path)
    people = read_people_json(path)
    if len(people) > 1:
        raise ExportError(f"{path}: holds several people (person_id {', '.join(map(str, list(people)[:10]))}): "
                          f"read one person with --person ID (capture3d.export.people.read_people in Python)")
    return next(iter(people.values()))


def read_people_json(path: str | os.PathLike) -> dict[int, Keypoints3D]:
    """Read a JSON file written by write_json or write_people_json: {person id: sequence over every frame}."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        kps = get_keypoint_set(doc["keypoint_set"])
        fps = float(doc["fps"])
        frames = doc["frames"]
        ids = sorted({int(p.get("person_id", [0])[0]) for fr in frames for p in fr.get("people", [])}) or [0]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"{path}: not a readable JSON file: {exc}") from None
    except (KeyError, TypeError, IndexError, ValueError) as exc:
        raise ExportError(f"{path}: expected a capture3d 3D JSON with keypoint_set, fps and frames; "
                          f"missing or invalid {exc}") from None
    T, J = len(frames), kps.n_joints
    xyz = {i: np.full((T, J, 3), np.nan) for i in ids}
    conf = {i: np.zeros((T, J)) for i in ids}
    err = {i: np.full((T, J), np.nan) for i in ids}
    views = {i: np.zeros((T, J), np.int64) for i in ids}
    times = np.zeros(T)
    for t, fr in enumerate(frames):
        times[t] = float(fr.get("time_s", t / fps))
        for p in fr.get("people", []):
            i = int(p.get("person_id", [0])[0])
            flat = np.asarray(p.get("pose_keypoints_3d", []), dtype=float)
            if flat.size != J * 4:
                raise ExportError(f"{path}: frame {t}: pose_keypoints_3d has {flat.size} values, expected {J * 4} "
                                  f"({J} joints x 4)")
            a = flat.reshape(J, 4)
            ok = a[:, 3] > 0
            xyz[i][t, ok] = a[ok, :3]
            conf[i][t] = np.where(ok, a[:, 3], 0.0)
            if "reprojection_error_px" in p:
                err[i][t] = [np.nan if e is None else e for e in p["reprojection_error_px"]]
            if "views" in p:
                views[i][t] = p["views"]
    return {i: Keypoints3D(xyz[i], conf[i], err[i], views[i], times, fps, kps) for i in ids}
