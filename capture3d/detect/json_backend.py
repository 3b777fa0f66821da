"""OpenPose JSON as a detector: replay one folder of ``*_keypoints.json`` per camera; and write our results
in that format (one folder per camera, one file per frame).

Frames are matched across cameras by the frame number in the file names (``<prefix>_<frame:012d>_keypoints.json``).
A camera without a file for a frame, or with an unreadable file, gets missing keypoints for that frame
(with a warning): replaying never stops the pipeline.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from capture3d.errors import DetectorError, KeypointFileError
from capture3d.body.keypoint_sets import get_keypoint_set
from capture3d.body.set_check import choose_set
from capture3d.io.openpose_json import (frame_id_of, list_frame_files, read_openpose_file, read_openpose_frame,
                                        write_openpose_frame)
from capture3d.detect.base import PART_JOINTS, Detections, Detector, stack_people

log = logging.getLogger(__name__)

_SAMPLE_FRAMES = 30  # frames read up front to decide the keypoint set


def frame_file_name(frame_index: int, prefix: str = "frame") -> str:
    """The OpenPose-style file name of a frame: ``<prefix>_<frame:012d>_keypoints.json``."""
    return f"{prefix}_{int(frame_index):012d}_keypoints.json"


def write_detections_json(folders: Sequence[str | os.PathLike], frame_index: int, detections: Detections,
                          prefix: str = "frame", fps: Sequence[float | None] | None = None,
                          sizes_wh: Sequence[tuple[int, int] | None] | None = None) -> list[Path]:
    """Write one frame set: view v goes to ``folders[v]/<prefix>_<frame:012d>_keypoints.json``.

    Every part present in detections (pose, hands, face) is written; people with no detected joint
    are left out. fps: (V,) each view's frame rate, sizes_wh: (V,) its image (W, H) px, recorded in its
    files (None: unknown). Returns the V paths written.
    """
    if len(folders) != detections.n_views:
        raise KeypointFileError(f"expected one output folder per view ({detections.n_views}), found {len(folders)}")
    fps = list(fps) if fps is not None else [None] * len(folders)
    sizes = list(sizes_wh) if sizes_wh is not None else [None] * len(folders)
    return [write_openpose_frame(Path(folder) / frame_file_name(frame_index, prefix), detections.people(v),
                                 detections.keypoint_set, fps[v], sizes[v]) for v, folder in enumerate(folders)]


class OpenPoseJsonDetector(Detector):
    """Replays OpenPose JSON folders (one per camera) as a detector.

    folders: V folders of OpenPose JSON files. hands, face: also read hand / face keypoints
    (missing when the files have none). keypoint_set: the set the files are in (None: the set they
    record, else decided from a sample of frames, see capture3d.body.set_check.choose_set).
    """

    name = "openpose-json"

    def __init__(self, folders: Sequence[str | os.PathLike], hands: bool = False, face: bool = False,
                 keypoint_set: str | None = None) -> None:
        if isinstance(folders, (str, os.PathLike)) or not folders:
            raise DetectorError(f"openpose-json detector: expected a list of camera folders, found {folders!r}")
        self.folders = [Path(f) for f in folders]
        self.parts = ["pose"] + (["hand_left", "hand_right"] if hands else []) + (["face"] if face else [])
        self._files: list[dict[int, Path]] = []
        for folder in self.folders:
            try:
                files = list_frame_files(folder)
            except KeypointFileError as exc:
                raise DetectorError(f"openpose-json detector: {exc}") from None
            self._files.append({frame_id_of(p, k): p for k, p in enumerate(files)})
        #: (T,) int, the sorted union of the frame numbers of every camera
        self.frame_ids = np.array(sorted(set().union(*[f.keys() for f in self._files])), dtype=np.int64)
        self._n_pose = None
        self._next = 0
        self.keypoint_set = self._decide_set(keypoint_set)

    def _decide_set(self, named: str | None) -> str:
        """The pose keypoint set, from ``named``, the files' record or a sample of frames."""
        sample, recorded = [], set()
        picks = self.frame_ids[np.linspace(0, self.n_frames - 1, min(_SAMPLE_FRAMES, self.n_frames)).astype(int)]
        for files in self._files:
            for fid in picks:
                if fid in files:
                    try:
                        arr, rec = read_openpose_frame(files[fid])
                    except KeypointFileError:
                        continue  # reported when the frame is replayed
                    recorded |= {rec} if rec else set()
                    sample += [p for p in arr]
        counts = {p.shape[0] for p in sample}
        if len(counts) > 1:
            raise DetectorError(f"openpose-json detector: files disagree on the pose joint count {sorted(counts)}")
        if len(recorded) > 1:
            raise DetectorError(f"openpose-json detector: files record different keypoint sets {sorted(recorded)}")
        if not sample:
            return named or (recorded.pop() if recorded else "BODY_25")
        try:
            return choose_set(np.stack(sample), named, recorded.pop() if recorded else None).name
        except (KeyError, ValueError) as exc:
            raise DetectorError(f"openpose-json detector ({self.folders[0]}...): {exc.args[0]}") from None

    @property
    def n_views(self) -> int:
        return len(self.folders)

    @property
    def n_frames(self) -> int:
        return len(self.frame_ids)

    def _read(self, v: int, frame_id: int, part: str) -> np.ndarray:
        path = self._files[v].get(frame_id)
        n = PART_JOINTS[part] if part != "pose" else (self._n_pose or get_keypoint_set(self.keypoint_set).n_joints)
        if path is None:
            log.debug("openpose-json: camera %s has no file for frame %d", self.folders[v], frame_id)
            return np.zeros((0, n, 3))
        try:
            arr = read_openpose_file(path, part)
        except KeypointFileError as exc:
            log.warning("openpose-json: %s; keypoints of this view are missing", exc)
            return np.zeros((0, n, 3))
        if arr.shape[0] and part == "pose":
            if self._n_pose is None:
                self._n_pose = arr.shape[1]
            elif arr.shape[1] != self._n_pose:
                log.warning("openpose-json: %s has %d pose keypoints, earlier files %d; view missing",
                            path, arr.shape[1], self._n_pose)
                return np.zeros((0, self._n_pose, 3))
        if arr.shape[0] and part != "pose" and arr.shape[1] != n:
            log.warning("openpose-json: %s has %d %s keypoints, expected %d; view missing", path, arr.shape[1], part, n)
            return np.zeros((0, n, 3))
        return arr if arr.shape[0] else np.zeros((0, n, 3))

    def detect(self, images=None, frame_index: int | None = None) -> Detections:
        """images: ignored. frame_index: the frame number in the file names (None: the next frame of
        frame_ids; past the end, every view is missing)."""
        t0 = time.perf_counter()
        if frame_index is None:
            frame_id = int(self.frame_ids[self._next]) if self._next < self.n_frames else -1
            self._next += 1
        else:
            frame_id = int(frame_index)
        out = {}
        for part in self.parts:
            per_view = [self._read(v, frame_id, part) for v in range(self.n_views)]
            n = max(a.shape[1] for a in per_view)
            per_view = [a if a.shape[1] == n else np.zeros((0, n, 3)) for a in per_view]
            out[part] = stack_people(per_view, n)
        # All parts share the same people axis: pad to the largest P.
        P = max(a.shape[1] for a in out.values())
        for part, arr in out.items():
            if arr.shape[1] < P:
                out[part] = _pad_people(arr, P)
        return Detections(pose=out["pose"], hand_left=out.get("hand_left"), hand_right=out.get("hand_right"),
                          face=out.get("face"), image_size_wh=np.zeros((self.n_views, 2), int),
                          timings_s={"total": time.perf_counter() - t0},
                          keypoint_set=self.keypoint_set)


def _pad_people(arr: np.ndarray, n_people: int) -> np.ndarray:
    """(V, P, J, 3) -> (V, n_people, J, 3), padding with missing people."""
    out = np.full((arr.shape[0], n_people, arr.shape[2], 3), np.nan)
    out[..., 2] = 0.0
    out[:, : arr.shape[1]] = arr
    return out
