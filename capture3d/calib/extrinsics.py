"""Initial rig from board views: board pose per view, the camera graph, and world-frame changes.

Cameras are linked when they see the board in the same frame set; each link gets a robust relative
pose (the medoid of the per-frame estimates). A maximum spanning tree of the links (weighted by the
number of shared frames) from camera 1 gives every camera a pose, so a camera only needs to share
views with some other camera, not with camera 1.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from capture3d.geometry.camera import Camera
from capture3d.errors import CalibrationError
from capture3d.calib.observations import BoardObservations
from capture3d.geometry.rotations import rotation_angle_deg, rotvec

log = logging.getLogger(__name__)

MAX_PAIR_CANDIDATES = 80


@dataclass
class ViewPose:
    """Board pose in one camera: X_cam = R @ X_board + t; rms_px of the PnP fit; n corners."""

    R: np.ndarray
    t: np.ndarray
    rms_px: float
    n: int


def board_poses_per_view(obs: BoardObservations, cameras: list[Camera], board_xyz: np.ndarray
                         ) -> dict[tuple[int, int], ViewPose]:
    """PnP (planar IPPE on undistorted points) for every (camera, frame) view with >= 4 corners."""
    out: dict[tuple[int, int], ViewPose] = {}
    keys = obs.view_keys()
    order = np.argsort(keys, kind="stable")
    uk, start = np.unique(keys[order], return_index=True)
    bounds = list(start) + [len(order)]
    nf = max(obs.n_frames, 1)
    for k, key in enumerate(uk):
        idx = order[bounds[k]:bounds[k + 1]]
        if idx.size < 4:
            continue
        c, f = int(key // nf), int(key % nf)
        cam = cameras[c]
        xy_norm = cam.undistort(obs.xy_px[idx])
        obj = board_xyz[obs.corner[idx]]
        ok, rvec, tvec = cv2.solvePnP(obj.astype(np.float64), xy_norm.astype(np.float64), np.eye(3), None,
                                      flags=cv2.SOLVEPNP_IPPE)
        if not ok:
            continue
        R = cv2.Rodrigues(rvec)[0]
        t = tvec.ravel()
        proj = cam.with_pose(rvec.ravel(), t).project(obj)
        rms = float(np.sqrt(np.nanmean(np.sum((proj - obs.xy_px[idx]) ** 2, axis=1))))
        if np.isfinite(rms) and t[2] > 0:
            out[(c, f)] = ViewPose(R, t, rms, int(idx.size))
    return out


def _medoid_relative(cands: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The candidate (R, t) closest, in median, to all others (robust to bad PnP solutions)."""
    if len(cands) > MAX_PAIR_CANDIDATES:
        pick = np.linspace(0, len(cands) - 1, MAX_PAIR_CANDIDATES).astype(int)
        cands = [cands[i] for i in pick]
    R = np.stack([c[0] for c in cands])
    t = np.stack([c[1] for c in cands])
    scale = max(float(np.median(np.linalg.norm(t, axis=1))), 1e-9)
    ang = np.radians(rotation_angle_deg(R[:, None], R[None, :]))
    dt = np.linalg.norm(t[:, None] - t[None, :], axis=2)
    score = np.median(ang * scale + dt, axis=1)
    k = int(np.argmin(score))
    return R[k], t[k]


def initial_camera_poses(obs: BoardObservations, poses: dict[tuple[int, int], ViewPose], reference: int = 0,
                         ) -> tuple[np.ndarray, np.ndarray]:
    """World->camera (R (V, 3, 3), t (V, 3)) with the reference camera at the world origin.

    Raises CalibrationError naming the cameras that share no board views with the others.
    """
    V = obs.n_cams
    by_frame: dict[int, dict[int, ViewPose]] = {}
    for (c, f), p in poses.items():
        by_frame.setdefault(f, {})[c] = p
    pair: dict[tuple[int, int], list] = {}
    for f, views in by_frame.items():
        cs = sorted(views)
        for a in range(len(cs)):
            for b in range(a + 1, len(cs)):
                i, j = cs[a], cs[b]
                Ri, ti, Rj, tj = views[i].R, views[i].t, views[j].R, views[j].t
                R_ij = Ri @ Rj.T  # X_i = R_ij X_j + t_ij
                pair.setdefault((i, j), []).append((R_ij, ti - R_ij @ tj))
    weight = np.zeros((V, V), int)
    for (i, j), c in pair.items():
        weight[i, j] = weight[j, i] = len(c)
    R = np.full((V, 3, 3), np.nan)
    t = np.full((V, 3), np.nan)
    R[reference], t[reference] = np.eye(3), np.zeros(3)
    done = {reference}
    while len(done) < V:
        best = None
        for i in done:
            for j in range(V):
                if j not in done and weight[i, j] > 0 and (best is None or weight[i, j] > best[2]):
                    best = (i, j, weight[i, j])
        if best is None:
            lost = [obs.camera_names[j] for j in range(V) if j not in done]
            among = {obs.camera_names[j]: int(weight[j].sum()) for j in range(V) if j not in done}
            raise CalibrationError(
                f"camera(s) {', '.join(lost)} share no board views with camera {obs.camera_names[reference]} or the "
                f"cameras linked to it (frames shared with any camera: {among}); record frames where each of these "
                f"cameras sees the board at the same time as one of the linked cameras")
        i, j, _ = best  # i known, j new
        if i < j:
            R_ij, t_ij = _medoid_relative(pair[(i, j)])
            R_ji, t_ji = R_ij.T, -R_ij.T @ t_ij
        else:
            R_ji, t_ji = _medoid_relative(pair[(j, i)])
        R[j] = R_ji @ R[i]
        t[j] = R_ji @ t[i] + t_ji
        done.add(j)
        log.debug("camera %s placed from %s (%d shared frames)", obs.camera_names[j], obs.camera_names[i], best[2])
    return R, t


def initial_board_poses(obs: BoardObservations, poses: dict[tuple[int, int], ViewPose], R_cam: np.ndarray,
                        t_cam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Board->world pose per frame from its best view (most corners, then lowest PnP error).

    Returns R (F, 3, 3), t (F, 3) and seen (F,) bool (False: no view, pose is identity).
    """
    F = obs.n_frames
    R = np.tile(np.eye(3), (F, 1, 1))
    t = np.zeros((F, 3))
    seen = np.zeros(F, bool)
    best: dict[int, tuple] = {}
    for (c, f), p in poses.items():
        key = (-p.n, p.rms_px)
        if f not in best or key < best[f][0]:
            best[f] = (key, c, p)
    for f, (_, c, p) in best.items():
        R[f] = R_cam[c].T @ p.R
        t[f] = R_cam[c].T @ (p.t - t_cam[c])
        seen[f] = True
    return R, t, seen


def cameras_with_poses(cameras: list[Camera], R: np.ndarray, t: np.ndarray) -> list[Camera]:
    return [c.with_pose(rotvec(Ri), ti) for c, Ri, ti in zip(cameras, R, t)]


def floor_frame(R_board: np.ndarray, t_board: np.ndarray, camera_centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World change (Q (3, 3), origin (3,)) that puts a board lying on the floor at the origin, Z up.

    New coordinates: x_new = Q @ (x_old - origin). X is the board's x axis (along its columns), Z is the
    board normal on the side of the cameras (up), Y = Z x X.
    """
    x = R_board[:, 0]
    n = R_board[:, 2]
    up = n if n @ (camera_centers.mean(axis=0) - t_board) > 0 else -n
    y = np.cross(up, x)
    y /= np.linalg.norm(y)
    x = np.cross(y, up)
    return np.stack([x, y, up]), t_board.copy()


def transform_world(cameras: list[Camera], R_board: np.ndarray, t_board: np.ndarray, Q: np.ndarray,
                    origin: np.ndarray) -> tuple[list[Camera], np.ndarray, np.ndarray]:
    """Apply x_new = Q (x_old - origin) to cameras (world->camera) and board->world poses."""
    cams = []
    for c in cameras:
        R = c.R @ Q.T
        cams.append(c.with_pose(rotvec(R), c.tvec + c.R @ origin))
    Rb = np.einsum("ij,fjk->fik", Q, R_board)
    tb = (t_board - origin) @ Q.T
    return cams, Rb, tb
