"""Robust bundle adjustment of a rig from board observations.

Unknowns: every camera's pose (except the gauge camera, whose pose is held), optionally every
camera's intrinsics (fx, fy, cx, cy and all distortion coefficients), and one rigid pose per board
frame. The board geometry (square size) is known, which fixes the scale.

Solver: Levenberg-Marquardt with an analytic sparse Jacobian for the pose blocks (rotations are
updated multiplicatively, R <- R exp([d]x)), central differences for the lens model (cheap 2D
functions), iteratively reweighted least squares for the robust (Huber or Cauchy) loss, and the Schur
complement on the 6x6 board-pose blocks, so the reduced system has only the camera unknowns
(at most 16 x 18). Cost per iteration is linear in the number of observations.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from capture3d.geometry.camera import Camera
from capture3d.errors import CalibrationError
from capture3d.calib.observations import BoardObservations
from capture3d.calib.projection import MODELS, distort, model_of, pad_dist
from capture3d.geometry.rotations import rodrigues, rotvec, skew

log = logging.getLogger(__name__)

LOSSES = ("linear", "huber", "cauchy")


@dataclass
class BundleResult:
    """Result of ``bundle_adjust``.

    cameras: refined cameras. R_board: (F, 3, 3), t_board: (F, 3) board->world poses
    (X_world = R_board @ X_board + t_board). residual_px: (M, 2) projected - observed, px.
    rms_px: RMS of the residual norms. cam_rms_px: (V,) per camera. iterations, seconds, cost history.
    """

    cameras: list[Camera]
    R_board: np.ndarray
    t_board: np.ndarray
    residual_px: np.ndarray
    rms_px: float
    cam_rms_px: np.ndarray
    iterations: int
    seconds: float
    costs: list[float] = field(default_factory=list)


class _CamState:
    """Mutable per-camera state during the solve."""

    def __init__(self, cam: Camera, idx: np.ndarray, frames: np.ndarray):
        self.name = cam.name
        self.size_wh = cam.size_wh
        self.fisheye = cam.fisheye
        self.model = model_of(cam.dist, cam.fisheye)
        self.R = cam.R.copy()
        self.t = cam.tvec.copy()
        self.intr = np.array([cam.K[0, 0], cam.K[1, 1], cam.K[0, 2], cam.K[1, 2]])
        self.dist = pad_dist(cam.dist, self.model)
        self.n_dist_out = cam.dist.size
        order = np.argsort(frames[idx], kind="stable")
        self.idx = idx[order]  # observation indices, sorted by frame
        f = frames[self.idx]
        self.seg_frames, self.seg_start = np.unique(f, return_index=True)

    def to_camera(self) -> Camera:
        K = np.array([[self.intr[0], 0, self.intr[2]], [0, self.intr[1], self.intr[3]], [0, 0, 1.0]])
        dist = self.dist[: max(self.n_dist_out, MODELS[self.model])] if self.model != "fisheye" else self.dist
        return Camera(self.name, self.size_wh, K, dist, rotvec(self.R), self.t, self.fisheye)


def _robust(e2: np.ndarray, loss: str, s: float) -> tuple[np.ndarray, np.ndarray]:
    """(cost per observation, IRLS weight) for squared residual norms e2 (px^2)."""
    if loss == "linear":
        return e2, np.ones_like(e2)
    if loss == "huber":
        e = np.sqrt(e2)
        inl = e <= s
        return np.where(inl, e2, 2 * s * e - s * s), np.where(inl, 1.0, s / np.maximum(e, 1e-12))
    z = e2 / (s * s)
    return s * s * np.log1p(z), 1.0 / (1.0 + z)


def _project(st: _CamState, Xw: np.ndarray, dist: np.ndarray | None = None, intr: np.ndarray | None = None):
    dist = st.dist if dist is None else dist
    intr = st.intr if intr is None else intr
    Xc = Xw @ st.R.T + st.t
    xy = Xc[:, :2] / Xc[:, 2:3]
    xd = distort(xy, dist, st.fisheye)
    uv = np.stack([intr[0] * xd[:, 0] + intr[2], intr[1] * xd[:, 1] + intr[3]], axis=1)
    return uv, Xc, xy, xd


def _residuals(states, R_b, t_b, obs, board_xyz, M):
    res = np.full((M, 2), np.nan)
    for st in states:
        i = st.idx
        f = obs.frame[i]
        Xw = np.einsum("mij,mj->mi", R_b[f], board_xyz[obs.corner[i]]) + t_b[f]
        uv, Xc, _, _ = _project(st, Xw)
        uv[Xc[:, 2] <= 1e-9] = 1e6  # behind the camera: a huge residual, never accepted
        res[i] = uv - obs.xy_px[i]
    return res


def bundle_adjust(cameras: list[Camera], R_board: np.ndarray, t_board: np.ndarray, obs: BoardObservations,
                  board_xyz: np.ndarray, refine_intrinsics: bool = True, fixed_camera: int = 0,
                  loss: str = "huber", f_scale_px: float = 1.5, max_iter: int = 100, ftol: float = 1e-9,
                  refine_poses: bool = True) -> BundleResult:
    """Jointly refine camera poses (+ intrinsics) and board poses.

    cameras: (V,) initial cameras (pose world->camera). R_board (F, 3, 3), t_board (F, 3): initial
    board->world poses. obs: corner observations (cam, frame, corner, xy_px). board_xyz: (N, 3)
    corners in the board frame. fixed_camera: index whose pose is held (the gauge). loss: "linear",
    "huber" or "cauchy" on the 2D residual norm, with scale f_scale_px. refine_poses=False holds every
    camera pose (with refine_intrinsics=False only the board poses move: a fit of the boards to a rig).
    """
    if loss not in LOSSES:
        raise CalibrationError(f"unknown loss {loss!r}; expected one of {LOSSES}")
    t0 = time.perf_counter()
    V, F, M = len(cameras), len(R_board), len(obs)
    if refine_poses and V > 1:
        groups = obs.camera_components()
        if len(groups) > 1:
            names = [[obs.camera_names[c] for c in g] for g in groups]
            raise CalibrationError(f"bundle adjustment: the cameras form {len(groups)} groups with no board view in "
                                   f"common ({names}), so their relative pose is undetermined; record frames where the "
                                   f"board is seen by cameras of different groups at the same time")
    R_b = np.array(R_board, float)
    t_b = np.array(t_board, float)
    states = [_CamState(c, np.flatnonzero(obs.cam == ci), obs.frame) for ci, c in enumerate(cameras)]
    # parameter layout of the camera block
    offsets, sizes = [], []
    n_c = 0
    for ci, st in enumerate(states):
        n = (0 if (ci == fixed_camera or not refine_poses) else 6) + ((4 + st.dist.size) if refine_intrinsics else 0)
        offsets.append(n_c)
        sizes.append(n)
        n_c += n
    board_P = np.asarray(board_xyz, float)

    def evaluate(R_b, t_b, sts):
        res = _residuals(sts, R_b, t_b, obs, board_P, M)
        e2 = np.sum(res ** 2, axis=1)
        rho, w = _robust(e2, loss, f_scale_px)
        return res, float(rho.sum()), w

    res, cost, w = evaluate(R_b, t_b, states)
    if not np.isfinite(cost):
        raise CalibrationError("bundle adjustment: the initial rig gives non-finite reprojections")
    costs = [cost]
    lam = 1e-3
    it = 0
    h = 1e-7
    for it in range(1, max_iter + 1):
        A_cc = np.zeros((n_c, n_c))
        g_c = np.zeros(n_c)
        A_bb = np.zeros((F, 6, 6))
        g_b = np.zeros((F, 6))
        A_cb = np.zeros((n_c, F, 6))
        for ci, st in enumerate(states):
            i = st.idx
            if i.size == 0:
                continue
            f = obs.frame[i]
            P = board_P[obs.corner[i]]
            Rb = R_b[f]
            RbP = np.einsum("mij,mj->mi", Rb, P)
            Xw = RbP + t_b[f]
            uv, Xc, xy, xd = _project(st, Xw)
            r = res[i]
            sw = w[i]
            # d(xd)/d(xy) by central differences: (m, 2, 2)
            dxd = np.empty((i.size, 2, 2))
            for j in range(2):
                e = np.zeros(2)
                e[j] = h
                dxd[:, :, j] = (distort(xy + e, st.dist, st.fisheye) - distort(xy - e, st.dist, st.fisheye)) / (2 * h)
            z = Xc[:, 2]
            dxy_dX = np.zeros((i.size, 2, 3))
            dxy_dX[:, 0, 0] = 1 / z
            dxy_dX[:, 1, 1] = 1 / z
            dxy_dX[:, 0, 2] = -Xc[:, 0] / z ** 2
            dxy_dX[:, 1, 2] = -Xc[:, 1] / z ** 2
            A = dxd @ dxy_dX
            A[:, 0, :] *= st.intr[0]
            A[:, 1, :] *= st.intr[1]  # (m, 2, 3): d uv / d Xc
            AR = A @ st.R  # d uv / d Xw
            # board block: d Xw / d(delta_b) = -[Rb P]x Rb, d Xw / d t_b = I
            Jb = np.concatenate([-AR @ skew(RbP) @ Rb, AR], axis=2)
            cols = []
            if ci != fixed_camera and refine_poses:
                cols.append(-(A @ st.R) @ skew(Xw))  # d uv / d(delta_c)
                cols.append(A)  # d uv / d t_c
            if refine_intrinsics:
                Ji = np.zeros((i.size, 2, 4 + st.dist.size))
                Ji[:, 0, 0] = xd[:, 0]
                Ji[:, 1, 1] = xd[:, 1]
                Ji[:, 0, 2] = 1.0
                Ji[:, 1, 3] = 1.0
                for k in range(st.dist.size):
                    dp = st.dist.copy()
                    dm = st.dist.copy()
                    dp[k] += h
                    dm[k] -= h
                    dd = (distort(xy, dp, st.fisheye) - distort(xy, dm, st.fisheye)) / (2 * h)
                    Ji[:, 0, 4 + k] = st.intr[0] * dd[:, 0]
                    Ji[:, 1, 4 + k] = st.intr[1] * dd[:, 1]
                cols.append(Ji)
            wJb = Jb * sw[:, None, None]
            seg = st.seg_start
            fu = st.seg_frames
            wJbT = wJb.transpose(0, 2, 1)
            A_bb[fu] += np.add.reduceat(wJbT @ Jb, seg, axis=0)
            g_b[fu] += np.add.reduceat((wJbT @ r[:, :, None])[:, :, 0], seg, axis=0)
            if cols:
                Jc = np.concatenate(cols, axis=2)
                wJc = Jc * sw[:, None, None]
                o, n = offsets[ci], sizes[ci]
                flat = wJc.reshape(-1, n)
                A_cc[o:o + n, o:o + n] += flat.T @ Jc.reshape(-1, n)
                g_c[o:o + n] += flat.T @ r.ravel()
                blk = np.add.reduceat(wJc.transpose(0, 2, 1) @ Jb, seg, axis=0)  # (fu, n, 6)
                A_cb[o:o + n, fu, :] += np.transpose(blk, (1, 0, 2))
        empty = np.all(A_bb.reshape(F, -1) == 0, axis=1)
        A_bb[empty] = np.eye(6)
        improved = False
        for _try in range(12):
            Bd = A_bb + lam * (np.einsum("fii->fi", A_bb)[:, :, None] * np.eye(6) + 1e-9 * np.eye(6))
            Bi = np.linalg.inv(Bd)
            if n_c:
                Cd = A_cc + lam * np.diag(np.diag(A_cc) + 1e-9)
                E = np.einsum("cfi,fij->cfj", A_cb, Bi)
                S = Cd - E.reshape(n_c, -1) @ A_cb.reshape(n_c, -1).T
                rhs = -(g_c - E.reshape(n_c, -1) @ g_b.ravel())
                try:
                    dc = np.linalg.solve(S, rhs)
                except np.linalg.LinAlgError:
                    dc = np.linalg.lstsq(S, rhs, rcond=None)[0]
                db = -np.einsum("fij,fj->fi", Bi, g_b + np.einsum("cfi,c->fi", A_cb, dc))
            else:
                dc = np.zeros(0)
                db = -np.einsum("fij,fj->fi", Bi, g_b)
            # apply the step to copies
            new_states = []
            for ci, st in enumerate(states):
                ns = _CamState.__new__(_CamState)
                ns.__dict__.update(st.__dict__)
                o = offsets[ci]
                k = 0
                if ci != fixed_camera and refine_poses:
                    ns.R = st.R @ rodrigues(dc[o:o + 3])
                    ns.t = st.t + dc[o + 3:o + 6]
                    k = 6
                if refine_intrinsics:
                    ns.intr = st.intr + dc[o + k:o + k + 4]
                    ns.dist = st.dist + dc[o + k + 4:o + k + 4 + st.dist.size]
                new_states.append(ns)
            nR_b = R_b @ rodrigues(db[:, :3])
            nt_b = t_b + db[:, 3:]
            nres, ncost, nw = evaluate(nR_b, nt_b, new_states)
            if np.isfinite(ncost) and ncost < cost:
                improved = True
                break
            lam *= 4.0
        if not improved:
            break
        rel = (cost - ncost) / max(cost, 1e-300)
        states, R_b, t_b, res, cost, w = new_states, nR_b, nt_b, nres, ncost, nw
        costs.append(cost)
        lam = max(lam / 3.0, 1e-9)
        if rel < ftol:
            break
    e = np.linalg.norm(res, axis=1)
    cam_rms = np.array([np.sqrt(np.mean(e[obs.cam == c] ** 2)) if np.any(obs.cam == c) else np.nan
                        for c in range(V)])
    out = [st.to_camera() for st in states]
    for c in out:
        if not (np.all(np.isfinite(c.K)) and np.all(np.isfinite(c.dist)) and np.all(np.isfinite(c.tvec))):
            raise CalibrationError(f"bundle adjustment diverged: camera {c.name} has non-finite parameters")
    dt = time.perf_counter() - t0
    log.info("bundle adjustment: %d iterations, %.2f s, RMS %.3f px", it, dt, float(np.sqrt(np.mean(e ** 2))))
    return BundleResult(out, R_b, t_b, res, float(np.sqrt(np.mean(e ** 2))), cam_rms, it, dt, costs)
