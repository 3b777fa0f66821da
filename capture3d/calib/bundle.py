"""Robust bundle adjustment of a rig from board observations.

Unknowns: every camera's pose (except the gauge camera, whose pose is held), optionally every
camera's intrinsics (fx, fy, cx, cy and all distortion coefficients; a camera's skew K[0, 1] is kept as it
is, not estimated), and one rigid pose per board frame. The board geometry (square size) is known, which
fixes the scale. Projection is the lens module's (``capture3d.geometry.lens``), skew included.

Solver: Levenberg-Marquardt with an analytic sparse Jacobian for the pose blocks (rotations are
updated multiplicatively, R <- R exp([d]x)), central differences for the lens model (cheap 2D
functions), iteratively reweighted least squares for the robust (Huber or Cauchy) loss, and the Schur
complement on the 6x6 board-pose blocks, so the reduced system has only the camera unknowns
(at most 16 x 18). Cost per iteration is linear in the number of observations.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace

import numpy as np

from capture3d.geometry.camera import Camera
from capture3d.errors import CalibrationError
from capture3d.calib.observations import BoardObservations
from capture3d.geometry.lens import MODELS, Lens, model_of, pad_dist, to_pixels
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


@dataclass(frozen=True)
class _CamState:
    """One camera during the solve (a step makes a new state with ``dataclasses.replace``).

    R (3, 3), t (3,): world -> camera. intr: (4,) fx, fy, cx, cy px. skew: K[0, 1] px, held. dist: the
    model's coefficients (MODELS[model] values). idx: its observation indices sorted by frame; seg_frames /
    seg_start: the frames seen and where each frame's run of observations starts in idx.
    """

    name: str
    size_wh: tuple[int, int]
    fisheye: bool
    model: str
    R: np.ndarray
    t: np.ndarray
    intr: np.ndarray
    skew: float
    dist: np.ndarray
    n_dist_out: int
    idx: np.ndarray
    seg_frames: np.ndarray
    seg_start: np.ndarray

    @classmethod
    def of(cls, cam: Camera, idx: np.ndarray, frames: np.ndarray) -> "_CamState":
        try:
            model = model_of(cam.dist, cam.fisheye)
        except ValueError as exc:
            raise CalibrationError(f"camera {cam.name}: {exc}") from None
        idx = idx[np.argsort(frames[idx], kind="stable")]
        seg_frames, seg_start = np.unique(frames[idx], return_index=True)
        return cls(cam.name, cam.size_wh, cam.fisheye, model, cam.R.copy(), cam.tvec.copy(),
                   np.array([cam.K[0, 0], cam.K[1, 1], cam.K[0, 2], cam.K[1, 2]]), float(cam.K[0, 1]),
                   pad_dist(cam.dist, model), cam.dist.size, idx, seg_frames, seg_start)

    def K(self, intr: np.ndarray | None = None) -> np.ndarray:
        fx, fy, cx, cy = self.intr if intr is None else intr
        return np.array([[fx, self.skew, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])

    def to_camera(self) -> Camera:
        dist = self.dist[: max(self.n_dist_out, MODELS[self.model])] if self.model != "fisheye" else self.dist
        return Camera(self.name, self.size_wh, self.K(), dist, rotvec(self.R), self.t, self.fisheye)


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


def _distort(st: _CamState, xy: np.ndarray, dist: np.ndarray | None = None) -> np.ndarray:
    return Lens.of(st.dist if dist is None else dist, st.fisheye).distort(xy)


def _project(st: _CamState, Xw: np.ndarray):
    """(M, 3) world points -> uv (M, 2) px, Xc (M, 3), xy (M, 2) normalized, xd (M, 2) distorted."""
    Xc = Xw @ st.R.T + st.t
    xy = Xc[:, :2] / Xc[:, 2:3]
    xd = _distort(st, xy)
    return to_pixels(xd, st.K()), Xc, xy, xd


def _board_points(obs: BoardObservations, i: np.ndarray, R_b, t_b, board_xyz):
    """Observations i -> the board corners in the world (M, 3) and the rotated corners R_b P (M, 3)."""
    f = obs.frame[i]
    RbP = np.einsum("mij,mj->mi", R_b[f], board_xyz[obs.corner[i]])
    return RbP + t_b[f], RbP


def _residuals(states, R_b, t_b, obs, board_xyz, M):
    """(M, 2) projected minus observed px of every observation (1e6 behind a camera)."""
    res = np.full((M, 2), np.nan)
    for st in states:
        i = st.idx
        Xw, _ = _board_points(obs, i, R_b, t_b, board_xyz)
        uv, Xc, _, _ = _project(st, Xw)
        uv[Xc[:, 2] <= 1e-9] = 1e6  # behind the camera: a huge residual, never accepted
        res[i] = uv - obs.xy_px[i]
    return res


def board_residuals_px(cameras: list[Camera], R_board: np.ndarray, t_board: np.ndarray, obs: BoardObservations,
                       board_xyz: np.ndarray) -> np.ndarray:
    """The residuals ``bundle_adjust`` minimizes: (M, 2) projected minus observed px of every observation.

    cameras: (V,) cameras. R_board (F, 3, 3), t_board (F, 3): board->world poses. board_xyz: (N, 3) corners
    in the board frame, metres. A corner behind its camera gets 1e6 px minus the observation.
    """
    states = [_CamState.of(c, np.flatnonzero(obs.cam == ci), obs.frame) for ci, c in enumerate(cameras)]
    return _residuals(states, np.asarray(R_board, float), np.asarray(t_board, float), obs,
                      np.asarray(board_xyz, float), len(obs))


@dataclass
class _Normal:
    """The normal equations of one iteration: camera block (n_c), board blocks (F, 6) and their coupling."""

    A_cc: np.ndarray
    g_c: np.ndarray
    A_bb: np.ndarray
    g_b: np.ndarray
    A_cb: np.ndarray


@dataclass(frozen=True)
class _Layout:
    """Which unknowns each camera has: offsets / sizes in the camera block; fixed camera; what is refined."""

    offsets: tuple[int, ...]
    sizes: tuple[int, ...]
    n_c: int
    fixed_camera: int
    refine_poses: bool
    refine_intrinsics: bool

    @classmethod
    def of(cls, states, fixed_camera: int, refine_poses: bool, refine_intrinsics: bool) -> "_Layout":
        offsets, sizes, n_c = [], [], 0
        for ci, st in enumerate(states):
            n = (0 if (ci == fixed_camera or not refine_poses) else 6) + ((4 + st.dist.size) if refine_intrinsics else 0)
            offsets.append(n_c)
            sizes.append(n)
            n_c += n
        return cls(tuple(offsets), tuple(sizes), n_c, fixed_camera, refine_poses, refine_intrinsics)

    def moves(self, ci: int) -> bool:
        return ci != self.fixed_camera and self.refine_poses


_H = 1e-7  # central-difference step of the lens model's derivatives


def _lens_jacobians(st: _CamState, xy: np.ndarray, refine_intrinsics: bool):
    """d xd / d xy (m, 2, 2), and d xd / d dist (m, 2, n) when the intrinsics are refined (else None)."""
    dxd = np.empty((xy.shape[0], 2, 2))
    for j in range(2):
        e = np.zeros(2)
        e[j] = _H
        dxd[:, :, j] = (_distort(st, xy + e) - _distort(st, xy - e)) / (2 * _H)
    if not refine_intrinsics:
        return dxd, None
    ddist = np.empty((xy.shape[0], 2, st.dist.size))
    for k in range(st.dist.size):
        dp, dm = st.dist.copy(), st.dist.copy()
        dp[k] += _H
        dm[k] -= _H
        ddist[:, :, k] = (_distort(st, xy, dp) - _distort(st, xy, dm)) / (2 * _H)
    return dxd, ddist


def _camera_jacobian(ci: int, st: _CamState, lay: _Layout, A: np.ndarray, Xw: np.ndarray, xd: np.ndarray,
                     ddist) -> np.ndarray | None:
    """d uv / d (camera unknowns) (m, 2, n) or None when the camera has none. A: d uv / d Xc (m, 2, 3)."""
    cols = []
    if lay.moves(ci):
        cols.append(-(A @ st.R) @ skew(Xw))  # d uv / d(delta_c), R <- R exp([delta]x)
        cols.append(A)  # d uv / d t_c
    if lay.refine_intrinsics:
        Ji = np.zeros((xd.shape[0], 2, 4 + st.dist.size))
        Ji[:, 0, 0] = xd[:, 0]
        Ji[:, 1, 1] = xd[:, 1]
        Ji[:, 0, 2] = 1.0
        Ji[:, 1, 3] = 1.0
        fx, fy = st.intr[0], st.intr[1]
        Ji[:, 0, 4:] = fx * ddist[:, 0] + st.skew * ddist[:, 1]
        Ji[:, 1, 4:] = fy * ddist[:, 1]
        cols.append(Ji)
    return np.concatenate(cols, axis=2) if cols else None


def _normal_equations(states, lay: _Layout, R_b, t_b, obs, board_P, res, w) -> _Normal:
    """Assemble J^T W J and J^T W r for the cameras, the boards and their coupling (Schur-ready)."""
    F = len(R_b)
    ne = _Normal(np.zeros((lay.n_c, lay.n_c)), np.zeros(lay.n_c), np.zeros((F, 6, 6)), np.zeros((F, 6)),
                 np.zeros((lay.n_c, F, 6)))
    for ci, st in enumerate(states):
        i = st.idx
        if i.size == 0:
            continue
        Xw, RbP = _board_points(obs, i, R_b, t_b, board_P)
        _, Xc, xy, xd = _project(st, Xw)
        r, sw = res[i], w[i]
        dxd, ddist = _lens_jacobians(st, xy, lay.refine_intrinsics)
        z = Xc[:, 2]
        dxy_dX = np.zeros((i.size, 2, 3))
        dxy_dX[:, 0, 0] = 1 / z
        dxy_dX[:, 1, 1] = 1 / z
        dxy_dX[:, 0, 2] = -Xc[:, 0] / z ** 2
        dxy_dX[:, 1, 2] = -Xc[:, 1] / z ** 2
        A = st.K()[:2, :2] @ (dxd @ dxy_dX)  # (m, 2, 3): d uv / d Xc, skew included
        AR = A @ st.R  # d uv / d Xw
        Rb = R_b[obs.frame[i]]
        Jb = np.concatenate([-AR @ skew(RbP) @ Rb, AR], axis=2)  # board: d Xw / d(delta_b) = -[Rb P]x Rb
        wJbT = (Jb * sw[:, None, None]).transpose(0, 2, 1)
        seg, fu = st.seg_start, st.seg_frames
        ne.A_bb[fu] += np.add.reduceat(wJbT @ Jb, seg, axis=0)
        ne.g_b[fu] += np.add.reduceat((wJbT @ r[:, :, None])[:, :, 0], seg, axis=0)
        Jc = _camera_jacobian(ci, st, lay, A, Xw, xd, ddist)
        if Jc is not None:
            o, n = lay.offsets[ci], lay.sizes[ci]
            wJc = Jc * sw[:, None, None]
            flat = wJc.reshape(-1, n)
            ne.A_cc[o:o + n, o:o + n] += flat.T @ Jc.reshape(-1, n)
            ne.g_c[o:o + n] += flat.T @ r.ravel()
            blk = np.add.reduceat(wJc.transpose(0, 2, 1) @ Jb, seg, axis=0)  # (fu, n, 6)
            ne.A_cb[o:o + n, fu, :] += np.transpose(blk, (1, 0, 2))
    empty = np.all(ne.A_bb.reshape(F, -1) == 0, axis=1)
    ne.A_bb[empty] = np.eye(6)
    return ne


def _schur_step(ne: _Normal, lam: float, n_c: int) -> tuple[np.ndarray, np.ndarray]:
    """The damped Gauss-Newton step (dc (n_c,), db (F, 6)): board blocks eliminated by the Schur complement."""
    Bd = ne.A_bb + lam * (np.einsum("fii->fi", ne.A_bb)[:, :, None] * np.eye(6) + 1e-9 * np.eye(6))
    Bi = np.linalg.inv(Bd)
    if not n_c:
        return np.zeros(0), -np.einsum("fij,fj->fi", Bi, ne.g_b)
    Cd = ne.A_cc + lam * np.diag(np.diag(ne.A_cc) + 1e-9)
    E = np.einsum("cfi,fij->cfj", ne.A_cb, Bi)
    S = Cd - E.reshape(n_c, -1) @ ne.A_cb.reshape(n_c, -1).T
    rhs = -(ne.g_c - E.reshape(n_c, -1) @ ne.g_b.ravel())
    try:
        dc = np.linalg.solve(S, rhs)
    except np.linalg.LinAlgError:
        dc = np.linalg.lstsq(S, rhs, rcond=None)[0]
    db = -np.einsum("fij,fj->fi", Bi, ne.g_b + np.einsum("cfi,c->fi", ne.A_cb, dc))
    return dc, db


def _apply_step(states, lay: _Layout, dc: np.ndarray) -> list[_CamState]:
    """New camera states after a step dc of the camera block."""
    out = []
    for ci, st in enumerate(states):
        o, k, new = lay.offsets[ci], 0, {}
        if lay.moves(ci):
            new["R"] = st.R @ rodrigues(dc[o:o + 3])
            new["t"] = st.t + dc[o + 3:o + 6]
            k = 6
        if lay.refine_intrinsics:
            new["intr"] = st.intr + dc[o + k:o + k + 4]
            new["dist"] = st.dist + dc[o + k + 4:o + k + 4 + st.dist.size]
        out.append(replace(st, **new) if new else st)
    return out


def _check_connected(obs: BoardObservations, n_cameras: int, refine_poses: bool) -> None:
    if not (refine_poses and n_cameras > 1):
        return
    groups = obs.camera_components()
    if len(groups) > 1:
        names = [[obs.camera_names[c] for c in g] for g in groups]
        raise CalibrationError(f"bundle adjustment: the cameras form {len(groups)} groups with no board view in "
                               f"common ({names}), so their relative pose is undetermined; record frames where the "
                               f"board is seen by cameras of different groups at the same time")


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
    V, M = len(cameras), len(obs)
    _check_connected(obs, V, refine_poses)
    R_b = np.array(R_board, float)
    t_b = np.array(t_board, float)
    states = [_CamState.of(c, np.flatnonzero(obs.cam == ci), obs.frame) for ci, c in enumerate(cameras)]
    lay = _Layout.of(states, fixed_camera, refine_poses, refine_intrinsics)
    board_P = np.asarray(board_xyz, float)

    def evaluate(R_b, t_b, sts):
        res = _residuals(sts, R_b, t_b, obs, board_P, M)
        rho, w = _robust(np.sum(res ** 2, axis=1), loss, f_scale_px)
        return res, float(rho.sum()), w

    res, cost, w = evaluate(R_b, t_b, states)
    if not np.isfinite(cost):
        raise CalibrationError("bundle adjustment: the initial rig gives non-finite reprojections")
    costs, lam, it = [cost], 1e-3, 0
    for it in range(1, max_iter + 1):
        ne = _normal_equations(states, lay, R_b, t_b, obs, board_P, res, w)
        for _try in range(12):
            dc, db = _schur_step(ne, lam, lay.n_c)
            new_states = _apply_step(states, lay, dc)
            nR_b, nt_b = R_b @ rodrigues(db[:, :3]), t_b + db[:, 3:]
            nres, ncost, nw = evaluate(nR_b, nt_b, new_states)
            if np.isfinite(ncost) and ncost < cost:
                break
            lam *= 4.0
        else:
            break  # no step improves the cost: converged
        rel = (cost - ncost) / max(cost, 1e-300)
        states, R_b, t_b, res, cost, w = new_states, nR_b, nt_b, nres, ncost, nw
        costs.append(cost)
        lam = max(lam / 3.0, 1e-9)
        if rel < ftol:
            break
    return _result(states, R_b, t_b, res, obs, V, it, t0, costs)


def _result(states, R_b, t_b, res, obs, V, it, t0, costs) -> BundleResult:
    e = np.linalg.norm(res, axis=1)
    cam_rms = np.array([np.sqrt(np.mean(e[obs.cam == c] ** 2)) if np.any(obs.cam == c) else np.nan
                        for c in range(V)])
    out = [st.to_camera() for st in states]
    for c in out:
        if not (np.all(np.isfinite(c.K)) and np.all(np.isfinite(c.dist)) and np.all(np.isfinite(c.tvec))):
            raise CalibrationError(f"bundle adjustment diverged: camera {c.name} has non-finite parameters")
    dt = time.perf_counter() - t0
    rms = float(np.sqrt(np.mean(e ** 2)))
    log.info("bundle adjustment: %d iterations, %.2f s, RMS %.3f px", it, dt, rms)
    return BundleResult(out, R_b, t_b, res, rms, cam_rms, it, dt, costs)
