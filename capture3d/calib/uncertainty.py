"""Per-camera uncertainty of a rig calibration, by bootstrap over the synchronized frames.

The used observations are resampled by whole frames (with replacement), the bundle adjustment is rerun
from the calibrated rig, and each resampled rig is aligned to the calibrated one by a similarity of the
cameras (metrics.camera_similarity: the centres; for two cameras their orientations too), so the gauge
(camera 1 or the floor) does not hide or inflate any camera's spread. The
per-camera RMS deviation of the centre (mm) and of the orientation (deg) from the calibrated camera over
the resamples is the uncertainty. It measures how well the views pin each camera down, not errors shared by all views (a
wrong square size, synchronization offsets).
"""
from __future__ import annotations

import logging

import numpy as np

from capture3d.errors import CalibrationError
from capture3d.geometry.rotations import rotation_angle_deg
from capture3d.calib.bundle import bundle_adjust
from capture3d.calib.metrics import camera_similarity
from capture3d.calib.observations import BoardObservations

log = logging.getLogger(__name__)


def _resample(obs: BoardObservations, frames: np.ndarray) -> BoardObservations:
    """Observations of ``frames`` (K,) in that order, frame k of the result being frames[k]."""
    parts = [np.flatnonzero(obs.frame == f) for f in frames]
    idx = np.concatenate(parts)
    new_frame = np.concatenate([np.full(len(p), k) for k, p in enumerate(parts)])
    return BoardObservations(obs.cam[idx], new_frame, obs.corner[idx], obs.xy_px[idx], list(obs.camera_names),
                             list(obs.sizes_wh), [obs.frame_labels[f] for f in frames] if obs.frame_labels else [],
                             [[own[f] for f in frames] for own in obs.camera_labels])


def bootstrap_uncertainty(cal, n_samples: int = 10, seed: int = 0) -> dict:
    """{"samples": resamples solved, "cameras": [{"name", "center_mm", "rotation_deg"}]} for a
    RigCalibration ``cal``: per-camera RMS deviation of the centre (mm) and the orientation (deg) from
    the calibrated camera over ``n_samples`` bootstrap resamples of its frames. Resamples whose cameras no longer share views
    are skipped. One camera has no pose to be uncertain about (it is the world frame): no samples."""
    if len(cal.rig) < 2:
        return {"samples": 0, "cameras": []}
    obs = cal.obs.subset(cal.used)
    frames = np.unique(obs.frame)
    rng = np.random.default_rng(seed)
    ref_c = np.stack([c.center_world for c in cal.rig.cameras])
    centres, angles = [], []
    for _ in range(n_samples):
        pick = np.sort(rng.choice(frames, len(frames), replace=True))
        try:
            ba = bundle_adjust(list(cal.rig.cameras), cal.R_board[pick], cal.t_board[pick], _resample(obs, pick),
                               cal.board.corners_board, refine_intrinsics=cal.solve.get("refine_intrinsics", False),
                               loss=cal.solve.get("loss", "huber"), f_scale_px=cal.solve.get("f_scale_px", 1.5))
        except CalibrationError as exc:
            log.info("bootstrap resample skipped: %s", exc)
            continue
        c = np.stack([cam.center_world for cam in ba.cameras])
        s, Q, T = camera_similarity(ba.cameras, cal.rig.cameras)
        centres.append(s * c @ Q.T + T)
        angles.append([rotation_angle_deg(cam.R @ Q.T, ref.R) for cam, ref in zip(ba.cameras, cal.rig.cameras)])
    if len(centres) < 2:
        return {"samples": len(centres), "cameras": []}
    spread = np.sqrt(np.mean(np.sum((np.stack(centres) - ref_c) ** 2, axis=2), axis=0)) * 1000
    rot = np.sqrt(np.mean(np.square(angles), axis=0))
    return {"samples": len(centres), "cameras": [{"name": n, "center_mm": float(d), "rotation_deg": float(r)}
                                                 for n, d, r in zip(cal.rig.names, spread, rot)]}
