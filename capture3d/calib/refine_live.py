"""Rolling rig refinement for live capture: the building block of the opt-in background refinement.

``RollingRefiner`` keeps the subject's 2D keypoints of the most recent frame sets; ``propose`` refines
the board-calibrated rig (always the prior) on half of the window's frames, moves the result into the
board rig's frame by the cameras that did not move (``anchor_to_prior``) and accepts it only when it
predicts the views of the *other* half, which it was not fitted on, better than the rig in use by a margin.
No threads here: ``capture3d.runtime.refine_stage`` pushes frame sets and takes ``snapshot()`` of the window
in the processing thread, runs ``propose(window)`` in a background thread and swaps the accepted rig into
the 3D stage between two frame sets.
"""
from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass

import numpy as np

from capture3d.calib.refine import RefineResult, RefineSettings, _changes, refine_rig, rig_errors_px
from capture3d.geometry.camera import Rig
from capture3d.geometry.rotations import rotvec


def _weighted_similarity(src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(s, R, t) minimizing sum w_i |dst_i - (s R src_i + t)|^2 (weighted Umeyama). src, dst (N, 3), w (N,)."""
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    a, b = src - mu_s, dst - mu_d
    U, S, Vt = np.linalg.svd((b * w[:, None]).T @ a)
    D = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        D[2, 2] = -1
    R = U @ D @ Vt
    s = float(np.trace(np.diag(S) @ D) / (w @ np.sum(a ** 2, axis=1)))
    return s, R, mu_d - s * R @ mu_s


def anchor_to_prior(rig: Rig, prior: Rig, tolerance_m: float = 0.01, iterations: int = 10) -> Rig:
    """``rig`` (refined from people: right up to a similarity) moved into the prior's frame by the
    similarity that best maps its camera centres onto the prior's, robustly (Cauchy weights at
    tolerance_m): the cameras that did not move since the board calibration hold the world frame and the
    scale, and a bumped camera shows its whole move instead of sharing it with the others. Projections are
    unchanged (the world and the camera frames are scaled together). Needs >= 4 cameras (else ``rig``)."""
    if len(rig) < 4:
        return rig
    c = np.stack([cam.center_world for cam in rig.cameras])
    c0 = np.stack([cam.center_world for cam in prior.cameras])
    w = np.ones(len(rig))
    for _ in range(iterations):
        s, Rs, t = _weighted_similarity(c, c0, w)
        r = np.linalg.norm(c0 - (s * c @ Rs.T + t), axis=1)
        w = 1.0 / (1.0 + (r / tolerance_m) ** 2)
        w = np.maximum(w, 1e-6)
    cams = []
    for cam in rig.cameras:  # x_new = s Rs x + t: x_cam' = s x_cam = (R Rs^T) x_new + s tvec - R Rs^T t
        R = cam.R @ Rs.T
        cams.append(cam.with_pose(rotvec(R), s * cam.tvec - R @ t))
    return Rig(tuple(cams), dict(rig.metadata))


@dataclass(frozen=True)
class Proposal:
    """result: the refinement; held_out_current_px / held_out_new_px: median held-out-view error on the
    frames left out of the fit, with the rig in use and with the refined one; accepted: new < current."""

    result: RefineResult
    held_out_current_px: float
    held_out_new_px: float
    accepted: bool


class RollingRefiner:
    """push((V, J, 3)) per frame set; propose() -> Proposal or None (too few frames yet).

    board_rig: the prior. window: frame sets kept. min_frames: needed before proposing. min_gain: the
    held-out error must drop by this fraction for the refined rig to be accepted."""

    def __init__(self, board_rig: Rig, window: int = 300, min_frames: int = 100,
                 settings: RefineSettings = RefineSettings(), min_gain: float = 0.05):
        if not (2 <= min_frames <= window):
            raise ValueError(f"expected 2 <= min_frames <= window, found {min_frames} and {window}")
        if not 0 <= min_gain < 1:
            raise ValueError(f"min_gain must be in [0, 1), found {min_gain}")
        self.board_rig = board_rig
        self.rig = board_rig
        self.settings = settings
        self.min_frames = min_frames
        self.min_gain = min_gain
        self._frames: deque = deque(maxlen=window)

    def push(self, keypoints2d: np.ndarray) -> None:
        kp = np.asarray(keypoints2d, float)
        if kp.ndim != 3 or kp.shape[0] != len(self.board_rig) or kp.shape[2] != 3:
            raise ValueError(f"expected the subject's keypoints (V={len(self.board_rig)}, J, 3), got {kp.shape}")
        self._frames.append(kp.copy())

    @property
    def ready(self) -> bool:
        return len(self._frames) >= self.min_frames

    def __len__(self) -> int:
        return len(self._frames)

    def snapshot(self) -> np.ndarray | None:
        """The window's keypoints (V, T, J, 3) (a copy), None while fewer than min_frames were pushed."""
        return np.stack(list(self._frames), axis=1) if self.ready else None

    def propose(self, window: np.ndarray | None = None) -> Proposal | None:
        """Refine on the even frames of the window (``window`` (V, T, J, 3), e.g. an earlier ``snapshot()``,
        else the current one), judge on the odd ones; the accepted rig becomes ``self.rig``. None while
        fewer than min_frames frame sets were pushed, or when too little of the subject was seen."""
        kp = self.snapshot() if window is None else np.asarray(window, float)
        if kp is None or kp.shape[1] < 2:
            return None
        fit, test = kp[:, 0::2], kp[:, 1::2]
        try:
            res = refine_rig(self.board_rig, fit, self.settings)
            anchored = anchor_to_prior(res.rig, self.board_rig)
            res = dataclasses.replace(res, rig=anchored, changes=_changes(self.board_rig, anchored))
        except ValueError:
            return None
        current = rig_errors_px(self.rig, test, self.settings.min_score)[1]
        new = rig_errors_px(res.rig, test, self.settings.min_score)[1]
        accepted = bool(new < (1 - self.min_gain) * current)
        if accepted:
            self.rig = res.rig
        return Proposal(res, current, new, accepted)
