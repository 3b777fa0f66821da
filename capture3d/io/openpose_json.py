"""OpenPose JSON 2D keypoints: read and write, one file per frame, one folder per camera.

A file holds ``{"version": 1.3, "people": [{"pose_keypoints_2d": [x, y, c, ...],
"hand_left_keypoints_2d": [...], "hand_right_keypoints_2d": [...], "face_keypoints_2d": [...]}]}``.
OpenPose writes a missing joint as 0, 0, 0; in memory capture3d uses x = y = NaN, score = 0.
Files are named ``<prefix>_<frame:012d>_keypoints.json``; frames are ordered by the number in the name.
capture3d adds ``"keypoint_set": "<name>"`` and, when known, ``"fps": <frames per second>`` and
``"image_size": [W, H]`` (px, the image the keypoints were detected on) at the top level (readers of
OpenPose JSON ignore them) so the joints' meaning, the frame rate and the image size travel with the files.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from capture3d.errors import KeypointFileError
from capture3d.io.atomic import atomic_write_text
from capture3d.io.media import natural_key

PART_KEYS = {"pose": "pose_keypoints_2d", "hand_left": "hand_left_keypoints_2d",
             "hand_right": "hand_right_keypoints_2d", "face": "face_keypoints_2d"}
_FRAME_RE = re.compile(r"(\d+)(?:_keypoints)?\.json$")


@dataclass(frozen=True)
class Keypoints2DFolder:
    """The content of one camera's folder.

    frame_ids: (T,) int, the frame number from each file name (or the file's rank if it has none).
    keypoints: (T, P, J, 3) x px, y px, score; NaN/0 for missing joints and for absent people
      (P is the largest number of people in any frame).
    files: the T file paths, in frame order.
    keypoint_set: the set name the files record (None when they record none, as OpenPose's own).
    fps: the frame rate the files record (None when they record none).
    image_size_wh: (W, H) px of the images the keypoints were detected on, as recorded (None when not).
    """

    frame_ids: np.ndarray
    keypoints: np.ndarray
    files: tuple[Path, ...]
    keypoint_set: str | None = None
    fps: float | None = None
    image_size_wh: tuple[int, int] | None = None


def _parse_flat(values, n_joints: int | None, where: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        bad = next((v for v in values if not isinstance(v, (int, float)) or isinstance(v, bool)), None) \
            if isinstance(values, list) else values
        raise KeypointFileError(f"{where}: expected numbers (x, y, c triplets), found {bad!r}") from None
    if arr.ndim != 1 or arr.size % 3:
        raise KeypointFileError(f"{where}: expected a flat list of x, y, c triplets, found {arr.size} values")
    arr = arr.reshape(-1, 3)
    if n_joints is not None and arr.shape[0] not in (0, n_joints):
        raise KeypointFileError(f"{where}: expected {n_joints} keypoints, found {arr.shape[0]}")
    missing = (arr[:, 2] <= 0) | ~np.isfinite(arr).all(axis=1)
    arr[missing, :2] = np.nan
    arr[missing, 2] = 0.0
    return arr


def read_openpose_file(path: str | os.PathLike, part: str = "pose") -> np.ndarray:
    """Read one frame file. Returns (P, J, 3) (P may be 0)."""
    return read_openpose_frame(path, part)[0]


def read_openpose_frame(path: str | os.PathLike, part: str = "pose") -> tuple[np.ndarray, str | None]:
    """Read one frame file: (P, J, 3) keypoints (P may be 0) and the keypoint set it records (or None)."""
    path = Path(path)
    key = PART_KEYS.get(part)
    if key is None:
        raise KeypointFileError(f"unknown part {part!r}; parts: {', '.join(PART_KEYS)}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeypointFileError(f"{path}: not a readable OpenPose JSON file: {exc}") from None
    people = data.get("people") if isinstance(data, dict) else None
    if not isinstance(people, list):
        raise KeypointFileError(f"{path}: expected an object with a 'people' list (OpenPose JSON)")
    recorded = data.get("keypoint_set")
    recorded = recorded if isinstance(recorded, str) and recorded else None
    out = []
    n_joints = None
    for i, person in enumerate(people):
        values = person.get(key, []) if isinstance(person, dict) else None
        if values is None:
            raise KeypointFileError(f"{path}: people[{i}] is not an object")
        arr = _parse_flat(values, n_joints, f"{path} people[{i}].{key}")
        if arr.shape[0]:
            n_joints = arr.shape[0]
            out.append(arr)
    if not out:
        return np.zeros((0, n_joints or 0, 3)), recorded
    return np.stack(out), recorded


def list_frame_files(folder: str | os.PathLike) -> list[Path]:
    """The JSON files of a folder, in frame order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise KeypointFileError(f"keypoint folder not found: {folder} (expected a folder of OpenPose JSON files)")
    files = sorted(folder.glob("*.json"), key=lambda p: natural_key(p.name))
    if not files:
        raise KeypointFileError(f"{folder}: no .json files (expected OpenPose *_keypoints.json files)")
    return files


def frame_id_of(path: Path, rank: int) -> int:
    m = _FRAME_RE.search(path.name)
    return int(m.group(1)) if m else rank


def read_openpose_folder(folder: str | os.PathLike, part: str = "pose") -> Keypoints2DFolder:
    """Read every frame of one camera folder into a (T, P, J, 3) array (see Keypoints2DFolder)."""
    files = list_frame_files(folder)
    read = [read_openpose_frame(p, part) for p in files]
    frames = [f for f, _ in read]
    recorded = {name for _, name in read if name}
    if len(recorded) > 1:
        raise KeypointFileError(f"{folder}: files record different keypoint sets: {sorted(recorded)}")
    joint_counts = {f.shape[1] for f in frames if f.shape[0]}
    if len(joint_counts) > 1:
        raise KeypointFileError(f"{folder}: files disagree on the number of {part} keypoints: {sorted(joint_counts)}")
    n_joints = joint_counts.pop() if joint_counts else 0
    n_people = max((f.shape[0] for f in frames), default=0)
    kp = np.full((len(files), max(n_people, 1), n_joints, 3), np.nan)
    kp[..., 2] = 0.0
    for t, f in enumerate(frames):
        if f.shape[0]:  # frames with nobody (or only empty people {}) stay missing
            kp[t, : f.shape[0]] = f
    ids = np.array([frame_id_of(p, k) for k, p in enumerate(files)], dtype=np.int64)
    return Keypoints2DFolder(ids, kp, tuple(files), recorded.pop() if recorded else None,
                             *recorded_capture(files[0]))


def recorded_capture(path: str | os.PathLike) -> tuple[float | None, tuple[int, int] | None]:
    """The frame rate (``"fps"``) and image size (``"image_size"``, W H px) a capture3d JSON file records;
    None for what it does not record (OpenPose's own files) or records wrongly."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    fps, size = data.get("fps"), data.get("image_size")
    number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
    fps = float(fps) if number(fps) and 0 < fps < 10000 else None
    ok = isinstance(size, list) and len(size) == 2 and all(number(v) and 0 < v < 100000 for v in size)
    return fps, (int(size[0]), int(size[1])) if ok else None


def select_person(keypoints: np.ndarray) -> np.ndarray:
    """Pick one person per frame: the one with the highest summed score.

    keypoints: (T, P, J, 3) -> (T, J, 3). (Multi-person tracking across views lives in track.py.)
    """
    score = np.nan_to_num(keypoints[..., 2]).sum(axis=-1)  # (T, P)
    best = np.argmax(score, axis=1)
    return keypoints[np.arange(keypoints.shape[0]), best]


def _flat(arr: np.ndarray | None) -> list[float]:
    if arr is None:
        return []
    a = np.asarray(arr, dtype=float).copy()
    missing = ~np.isfinite(a).all(axis=-1) | (a[:, 2] <= 0)
    a[missing] = 0.0
    return [round(float(v), 4) for v in a.ravel()]


def frame_to_json(people: list[dict[str, np.ndarray]], keypoint_set: str | None = None,
                  fps: float | None = None, image_size_wh: tuple[int, int] | None = None) -> str:
    """Serialize one frame: people is a list of {part: (J, 3) array} with parts from PART_KEYS;
    ``keypoint_set`` names the pose joints' set, ``fps`` the frame rate and ``image_size_wh`` the (W, H) px
    of the image they were detected on (each recorded when given)."""
    out = []
    for person in people:
        unknown = set(person) - set(PART_KEYS)
        if unknown:
            raise KeypointFileError(f"unknown part(s) {sorted(unknown)}; parts: {', '.join(PART_KEYS)}")
        entry = {"person_id": [-1]}
        for part, key in PART_KEYS.items():
            entry[key] = _flat(person.get(part))
        for key in ("pose_keypoints_3d", "face_keypoints_3d", "hand_left_keypoints_3d", "hand_right_keypoints_3d"):
            entry[key] = []
        out.append(entry)
    head = {"version": 1.3} | ({"keypoint_set": keypoint_set} if keypoint_set else {}) \
        | ({"fps": round(float(fps), 6)} if fps else {}) \
        | ({"image_size": [int(image_size_wh[0]), int(image_size_wh[1])]} if image_size_wh else {})
    return json.dumps(head | {"people": out})


def write_openpose_frame(path: str | os.PathLike, people: list[dict[str, np.ndarray]],
                         keypoint_set: str | None = None, fps: float | None = None,
                         image_size_wh: tuple[int, int] | None = None) -> Path:
    """Write one frame file atomically (see frame_to_json)."""
    return atomic_write_text(path, frame_to_json(people, keypoint_set, fps, image_size_wh))


def write_openpose_folder(folder: str | os.PathLike, keypoints: np.ndarray, part: str = "pose",
                          prefix: str = "frame", keypoint_set: str | None = None,
                          fps: float | None = None, image_size_wh: tuple[int, int] | None = None) -> list[Path]:
    """Write (T, P, J, 3) keypoints as T files ``<prefix>_<t:012d>_keypoints.json``. People whose joints
    are all missing in a frame are left out of that frame."""
    kp = np.asarray(keypoints, dtype=float)
    if kp.ndim == 3:
        kp = kp[:, None]
    if kp.ndim != 4 or kp.shape[-1] != 3:
        raise KeypointFileError(f"expected (T, P, J, 3) keypoints, got shape {kp.shape}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for t in range(kp.shape[0]):
        people = [{part: p} for p in kp[t] if np.any(np.nan_to_num(p[:, 2]) > 0)]
        paths.append(write_openpose_frame(folder / f"{prefix}_{t:012d}_keypoints.json", people, keypoint_set, fps,
                                          image_size_wh))
    return paths
