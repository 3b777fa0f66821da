"""Board corner observations of a rig, as flat arrays (the input of extrinsics and bundle adjustment).

One observation is one board corner seen by one camera in one synchronized frame set. A *view* is
all observations of one (camera, frame) pair.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from capture3d.errors import CalibrationError
from capture3d.calib.detect import CameraDetections


@dataclass
class BoardObservations:
    """Corner observations, flat.

    cam: (M,) int camera index. frame: (M,) int frame-set index. corner: (M,) int board corner id.
    xy_px: (M, 2) float observed corner, px. camera_names: (V,) names. sizes_wh: (V,) image sizes.
    frame_labels: (F,) label of each frame set (file names), for messages and the report.
    camera_labels: (V, F) each camera's own label of each frame set (its file name; "" where it has none),
    or empty; ``label(c, f)`` prefers it to frame_labels.
    """

    cam: np.ndarray
    frame: np.ndarray
    corner: np.ndarray
    xy_px: np.ndarray
    camera_names: list[str]
    sizes_wh: list[tuple[int, int]]
    frame_labels: list[str] = field(default_factory=list)
    camera_labels: list[list[str]] = field(default_factory=list)

    def label(self, cam: int, frame: int) -> str:
        """The label of camera ``cam``'s view of frame set ``frame``: its own file name where known."""
        if self.camera_labels and frame < len(self.camera_labels[cam]) and self.camera_labels[cam][frame]:
            return self.camera_labels[cam][frame]
        return self.frame_labels[frame] if self.frame_labels else str(frame)

    def __post_init__(self) -> None:
        self.cam = np.asarray(self.cam, np.int64)
        self.frame = np.asarray(self.frame, np.int64)
        self.corner = np.asarray(self.corner, np.int64)
        self.xy_px = np.asarray(self.xy_px, float).reshape(-1, 2)
        if not (len(self.cam) == len(self.frame) == len(self.corner) == len(self.xy_px)):
            raise ValueError("cam, frame, corner and xy_px must have the same length")

    @property
    def n_cams(self) -> int:
        return len(self.camera_names)

    @property
    def n_frames(self) -> int:
        if self.frame_labels:
            return len(self.frame_labels)
        return int(self.frame.max()) + 1 if len(self.frame) else 0

    def __len__(self) -> int:
        return len(self.cam)

    def subset(self, mask: np.ndarray) -> "BoardObservations":
        """Observations where mask (M,) bool is True (same cameras and frames)."""
        return BoardObservations(self.cam[mask], self.frame[mask], self.corner[mask], self.xy_px[mask],
                                 list(self.camera_names), list(self.sizes_wh), list(self.frame_labels),
                                 [list(x) for x in self.camera_labels])

    def view_keys(self) -> np.ndarray:
        """(M,) int key of each observation's view: cam * n_frames + frame."""
        return self.cam * max(self.n_frames, 1) + self.frame

    def views(self) -> list[tuple[int, int]]:
        """Sorted unique (cam, frame) pairs."""
        keys = np.unique(self.view_keys())
        nf = max(self.n_frames, 1)
        return [(int(k // nf), int(k % nf)) for k in keys]

    def shared_frames(self) -> np.ndarray:
        """(V, V) int: number of frames in which both cameras see the board."""
        seen = np.zeros((self.n_cams, max(self.n_frames, 1)), bool)
        seen[self.cam, self.frame] = True
        s = seen.astype(np.int64)
        return s @ s.T

    def camera_components(self) -> list[list[int]]:
        """Groups of cameras linked (directly or through others) by frames they both see."""
        shared = self.shared_frames() > 0
        left = set(range(self.n_cams))
        groups = []
        while left:
            stack = [min(left)]
            group = set(stack)
            while stack:
                c = stack.pop()
                for d in np.flatnonzero(shared[c]):
                    if int(d) not in group:
                        group.add(int(d))
                        stack.append(int(d))
            left -= group
            groups.append(sorted(group))
        return groups


def from_detections(dets: list[CameraDetections]) -> BoardObservations:
    """Stack per-camera detections of a synchronized session (frame i of every camera = frame set i)."""
    if not dets:
        raise CalibrationError("no cameras given")
    n_frames = max(d.n_frames for d in dets)
    labels = [""] * n_frames
    for d in dets:
        for i, lab in enumerate(d.labels):
            if not labels[i]:
                labels[i] = lab
    cams, frames, corners, xys = [], [], [], []
    for ci, d in enumerate(dets):
        for v in d.views:
            cams.append(np.full(len(v.corner_ids), ci))
            frames.append(np.full(len(v.corner_ids), v.frame))
            corners.append(v.corner_ids)
            xys.append(v.xy_px)
    if not cams:
        raise CalibrationError("the board was not found in any camera")
    own = [[d.labels[i] if i < d.n_frames else "" for i in range(n_frames)] for d in dets]
    return BoardObservations(np.concatenate(cams), np.concatenate(frames), np.concatenate(corners),
                             np.concatenate(xys), [d.name for d in dets],
                             [d.size_wh if d.size_wh else (0, 0) for d in dets], labels, own)


def with_extra_views(obs: BoardObservations, cam: int, views: list, prefix: str = "") -> BoardObservations:
    """Append single-camera views (detect.ViewDetection list) of camera ``cam`` as new frames.

    Used to add each camera's close-up intrinsic views to a rig bundle adjustment: they constrain
    that camera's lens model while the shared frames constrain the rig.
    """
    F = obs.n_frames
    labels = list(obs.frame_labels) if obs.frame_labels else [f"frame{i}" for i in range(F)]
    cams, frames, corners, xys = [obs.cam], [obs.frame], [obs.corner], [obs.xy_px]
    for k, v in enumerate(views):
        n = len(v.corner_ids)
        cams.append(np.full(n, cam))
        frames.append(np.full(n, F + k))
        corners.append(np.asarray(v.corner_ids))
        xys.append(np.asarray(v.xy_px, float))
        labels.append(f"{prefix}{v.label}")
    own = [list(x) + [""] * len(views) for x in obs.camera_labels]
    for k, v in enumerate(views):
        if own:
            own[cam][F + k] = f"{prefix}{v.label}"
    return BoardObservations(np.concatenate(cams), np.concatenate(frames), np.concatenate(corners),
                             np.concatenate(xys), list(obs.camera_names), list(obs.sizes_wh), labels, own)
