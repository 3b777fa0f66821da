"""Refine a rig's camera poses (and optionally focal lengths) from the people in view.

Bundle adjustment over the subject's triangulated joints: the unknowns are each camera's pose change
(a rotation vector applied to the board-calibrated rotation and a move of its centre, optionally a
log-focal change) and every joint position (eliminated: re-triangulated for each camera guess); the residuals are the confidence-weighted reprojection
errors of the subject's 2D keypoints under a robust loss, plus a weak prior pulling each camera towards
the board calibration. The data only determine the cameras relative to each other: the prior holds the
gauge (world frame and scale), so the refined rig stays in the board calibration's frame and metres.

Rounds: triangulate with the current rig (robust view selection, a generous threshold in the first
round because a bumped camera is tens of pixels off), adjust, re-triangulate with a tighter threshold,
adjust again from the original prior. Shapes: keypoints (V, T, J, 3) x px, y px, score.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from capture3d.geometry.camera import Camera, Rig
from capture3d.geometry.rotations import rodrigues, rotation_angle_deg, rotvec
from capture3d.geometry.triangulate import triangulate, triangulate_points

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefineSettings:
    """loss: scipy robust loss ("soft_l1", "huber", "cauchy", "linear"); loss_scale_px: where it turns
    robust. prior_rotation_deg / prior_center_m / prior_focal: the board calibration's 1-sigma (weak: it
    mainly fixes the gauge). refine_focal: also adjust each camera's focal length (fx, fy scaled together).
    thresholds_px: robust-triangulation threshold of each round (its length is the number of rounds).
    min_score: 2D keypoints below this confidence are left out. max_points: joints kept (evenly over the
    frames) to bound the solve. warn_rotation_deg / warn_center_m: a camera that moved more is warned about."""

    loss: str = "soft_l1"
    loss_scale_px: float = 3.0
    prior_rotation_deg: float = 3.0
    prior_center_m: float = 0.10
    prior_focal: float = 0.02
    refine_focal: bool = False
    thresholds_px: tuple[float, ...] = (80.0, 25.0, 12.0)
    min_score: float = 0.3
    max_points: int = 4000
    warn_rotation_deg: float = 0.5
    warn_center_m: float = 0.02

    def validate(self) -> None:
        if self.loss not in ("soft_l1", "huber", "cauchy", "linear", "arctan"):
            raise ValueError(f"loss must be soft_l1, huber, cauchy, arctan or linear, found {self.loss!r}")
        if not (self.loss_scale_px > 0 and self.prior_rotation_deg > 0 and self.prior_center_m > 0
                and self.prior_focal > 0):
            raise ValueError("loss_scale_px and the prior sigmas must be > 0")
        if not self.thresholds_px or min(self.thresholds_px) <= 0:
            raise ValueError(f"thresholds_px must be one or more values > 0, found {self.thresholds_px}")


@dataclass(frozen=True)
class CameraChange:
    """How one camera changed from the prior rig: rotation (deg), centre move (m), focal ratio (1: same)."""

    name: str
    rotation_deg: float
    center_m: float
    focal_ratio: float


@dataclass(frozen=True)
class RefineResult:
    """rig: the refined rig. changes: per camera. reproj_*_px: median reprojection error of the subject's
    keypoints (all views with score >= min_score) before / after; held_out_*_px: median held-out-view
    error (each view predicted from the others) before / after. n_points / n_observations: the last solve."""

    rig: Rig
    changes: tuple[CameraChange, ...]
    reproj_before_px: float
    reproj_after_px: float
    held_out_before_px: float
    held_out_after_px: float
    n_points: int
    n_observations: int
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def improved(self) -> bool:
        """The refined rig predicts held-out views better than the prior."""
        return bool(self.held_out_after_px < self.held_out_before_px)


def subject_keypoints(rig: Rig, keypoints2d: np.ndarray, keypoint_set, threshold_px: float = 80.0) -> np.ndarray:
    """The tracked subject's 2D per view: (V, T, P, J, 3) -> (V, T, J, 3) (capture3d.reconstruct's tracker
    with a generous triangulation threshold, since the rig may be off; one detection per view passes as is)."""
    from capture3d.config import TrackingConfig, TriangulationConfig
    from capture3d.reconstruct.track import SubjectTracker

    kp = np.asarray(keypoints2d, float)
    if kp.ndim == 4:
        return kp.copy()
    if kp.shape[2] == 1:
        return kp[:, :, 0].copy()
    tracker = SubjectTracker(rig, keypoint_set, TrackingConfig(), TriangulationConfig(threshold_px=threshold_px))
    out = [tracker.update(kp[:, t], float(t)).keypoints2d for t in range(kp.shape[1])]
    return np.stack(out, axis=1)


def rig_errors_px(rig: Rig, kp: np.ndarray, min_score: float, threshold_px: float = 15.0) -> tuple[float, float]:
    """Median reprojection and held-out-view errors (px) of the subject's keypoints (V, T, J, 3) with ``rig``
    (triangulated robustly at threshold_px; a held-out view is predicted from the others)."""
    tri = triangulate(rig, kp, threshold_px=threshold_px, min_score=min_score)
    seen = kp[..., 2] >= min_score
    proj = rig.project(tri.xyz_world)
    err = np.linalg.norm(proj - kp[..., :2], axis=-1)[seen]
    held = []
    for v in range(len(rig)):
        others = kp.copy()
        others[v, ..., 2] = 0.0
        xyz = triangulate(rig, others, threshold_px=threshold_px, min_score=min_score).xyz_world
        e = np.linalg.norm(rig.cameras[v].project(xyz) - kp[v, ..., :2], axis=-1)
        held.append(e[seen[v]])
    held = np.concatenate(held)
    med = lambda a: float(np.nanmedian(a)) if np.isfinite(a).any() else float("nan")  # noqa: E731
    return med(err), med(held)


class _Problem:
    """One round's least squares over the camera parameters only (k per camera): the joints are
    eliminated (variable projection): for given cameras each joint is re-triangulated from its inlier
    views (weighted DLT + Gauss-Newton), so the problem has a few dozen unknowns and converges in a few
    dense Gauss-Newton steps, where the joint problem over thousands of points crawls."""

    def __init__(self, prior: Rig, use: np.ndarray, xy: np.ndarray, w: np.ndarray, s: RefineSettings):
        self.prior, self.s = prior, s
        self.V = len(prior)
        self.k = 7 if s.refine_focal else 6
        self.use, self.xy = use, xy                      # (V, N) bool, (V, N, 2) px
        self.w = np.where(use, w, 0.0)                   # (V, N) triangulation weights
        self.sw = np.sqrt(self.w[use])                   # (n_obs,) residual weights
        self.R0 = np.stack([c.R for c in prior.cameras])
        self.c0 = np.stack([c.center_world for c in prior.cameras])
        self.prior_sigma = np.r_[np.full(3, np.radians(s.prior_rotation_deg)), np.full(3, s.prior_center_m),
                                 [s.prior_focal] if s.refine_focal else []]
        self._xy_norm = None if s.refine_focal else prior.undistort(np.where(use[..., None], xy, np.nan))

    def cameras(self, x: np.ndarray) -> list[Camera]:
        cams = []
        for v, cam in enumerate(self.prior.cameras):
            q = x[v * self.k:(v + 1) * self.k]
            R = rodrigues(q[:3]) @ self.R0[v]
            c = self.c0[v] + q[3:6]
            K = cam.K.copy()
            if self.s.refine_focal:
                K[:2, :2] *= np.exp(q[6])
            cams.append(Camera(cam.name, cam.size_wh, K, cam.dist, rotvec(R), -R @ c, cam.fisheye))
        return cams

    def points(self, x: np.ndarray) -> tuple[Rig, np.ndarray]:
        """The rig of parameters x and the joints (N, 3) triangulated with it."""
        rig = Rig(tuple(self.cameras(x)))
        xy_norm = self._xy_norm if self._xy_norm is not None else \
            rig.undistort(np.where(self.use[..., None], self.xy, np.nan))
        tri = triangulate_points(xy_norm, self.w, rig.cams_from_world(), rig.focal_px(), robust=False,
                                 refine_iterations=3)
        return rig, tri.xyz_world

    def residuals(self, x: np.ndarray) -> np.ndarray:
        rig, X = self.points(x)
        r = np.empty((self.V, self.xy.shape[1], 2))
        for v, cam in enumerate(rig.cameras):
            r[v] = cam.project(X) - self.xy[v]
        r = np.nan_to_num(r[self.use], nan=1e3) * self.sw[:, None]
        prior = x.reshape(self.V, self.k) / self.prior_sigma
        return np.concatenate([r.ravel(), prior.ravel()])

    def _robust_weights(self, r: np.ndarray) -> np.ndarray:
        """IRLS weights of the robust loss for the image residuals r (n_obs, 2) (per observation)."""
        z = (np.linalg.norm(r, axis=1) / self.s.loss_scale_px) ** 2
        if self.s.loss == "linear":
            return np.ones_like(z)
        if self.s.loss == "huber":
            return np.where(z <= 1, 1.0, 1 / np.sqrt(np.maximum(z, 1e-12)))
        if self.s.loss == "cauchy":
            return 1 / (1 + z)
        if self.s.loss == "arctan":
            return 1 / (1 + z ** 2)
        return 1 / np.sqrt(1 + z)  # soft_l1

    def solve(self, x0: np.ndarray, iterations: int = 15) -> np.ndarray:
        """Levenberg-Marquardt with iteratively reweighted robust loss; forward-difference Jacobian
        (one re-triangulation per camera parameter)."""
        x, n_img = np.array(x0, float), 2 * int(self.use.sum())
        lam, step = 1e-3, 1e-7
        r = self.residuals(x)

        def cost(res):
            w = self._robust_weights(res[:n_img].reshape(-1, 2))
            return float((w[:, None] * res[:n_img].reshape(-1, 2) ** 2).sum() + (res[n_img:] ** 2).sum()), w

        c, w = cost(r)
        for _ in range(iterations):
            J = np.empty((r.size, x.size))
            for i in range(x.size):
                dx = np.zeros_like(x)
                dx[i] = step
                J[:, i] = (self.residuals(x + dx) - r) / step
            W = np.r_[np.repeat(w, 2), np.ones(r.size - n_img)]
            A = J.T @ (W[:, None] * J)
            g = J.T @ (W * r)
            improved = False
            for _ in range(8):
                delta = np.linalg.solve(A + lam * np.diag(np.diag(A) + 1e-12), -g)
                r_new = self.residuals(x + delta)
                c_new, w_new = cost(r_new)
                if c_new < c:
                    x, r, w, improved = x + delta, r_new, w_new, True
                    lam = max(lam / 10, 1e-9)
                    break
                lam *= 10
            done = not improved or abs(c - c_new) < 1e-9 * c or np.abs(delta).max() < 1e-9
            c = min(c, c_new)
            if done:
                break
        log.info("refine: %d residuals, %d unknowns, weighted cost %.4g", r.size, x.size, c)
        return x


def _observations(rig: Rig, kp: np.ndarray, threshold_px: float, s: RefineSettings):
    """Triangulate the subject with ``rig`` (robust view selection at threshold_px) and keep the inlier
    views of joints seen by >= 2 of them: use (V, N) bool, xy (V, N, 2) px, score (V, N)."""
    V = len(rig)
    flat = kp.reshape(V, -1, 3)
    tri = triangulate(rig, flat, threshold_px=threshold_px, min_score=s.min_score)
    use = tri.inliers & (flat[..., 2] >= s.min_score) & np.isfinite(tri.xyz_world).all(axis=-1)[None]
    pts = np.flatnonzero(use.sum(axis=0) >= 2)
    if len(pts) > s.max_points:
        pts = pts[np.linspace(0, len(pts) - 1, s.max_points).round().astype(int)]
    return use[:, pts], flat[:, pts, :2], flat[:, pts, 2]


def _changes(prior: Rig, rig: Rig) -> tuple[CameraChange, ...]:
    return tuple(CameraChange(a.name, float(rotation_angle_deg(b.R, a.R)),
                              float(np.linalg.norm(b.center_world - a.center_world)), float(b.focal_px / a.focal_px))
                 for a, b in zip(prior.cameras, rig.cameras))


def refine_rig(prior: Rig, keypoints2d: np.ndarray, settings: RefineSettings = RefineSettings(),
               progress=None) -> RefineResult:
    """Refine ``prior``'s camera poses from the subject's 2D keypoints (V, T, J, 3) (one detection per view,
    e.g. from ``subject_keypoints``). Never modifies its inputs. progress: optional callable(done, total)
    called after each round. ValueError when too little of the subject is seen by two cameras."""
    settings.validate()
    if len(prior) < 2:
        raise ValueError(f"refining a rig from people needs at least 2 cameras (joints are triangulated from two "
                         f"views or more), found {len(prior)} ({', '.join(prior.names)})")
    kp = np.asarray(keypoints2d, float)
    if kp.ndim != 4 or kp.shape[0] != len(prior) or kp.shape[-1] != 3:
        raise ValueError(f"expected keypoints2d of shape (V={len(prior)}, T, J, 3), got {kp.shape}")
    kp = np.where(np.isfinite(kp[..., :2]).all(axis=-1, keepdims=True), kp, np.array([np.nan, np.nan, 0.0]))
    before = rig_errors_px(prior, kp, settings.min_score)
    rig, x_cams = prior, None
    n_obs = n_pts = 0
    for i, thr in enumerate(settings.thresholds_px):
        use, xy, w = _observations(rig, kp, thr, settings)
        per_view = use.sum(axis=1)
        if use.shape[1] < 20 or (per_view < 10).any():
            raise ValueError(f"too little of the subject is seen by two cameras to refine the rig: {use.shape[1]} "
                             f"joints, observations per camera {dict(zip(prior.names, per_view.tolist()))}")
        prob = _Problem(prior, use, xy, w, settings)
        x_cams = prob.solve(np.zeros(len(prior) * prob.k) if x_cams is None else x_cams)
        rig = Rig(tuple(prob.cameras(x_cams)), dict(prior.metadata))
        n_obs, n_pts = int(use.sum()), use.shape[1]
        if progress is not None:
            progress(i + 1, len(settings.thresholds_px))
    after = rig_errors_px(rig, kp, settings.min_score)
    changes = _changes(prior, rig)
    warnings = tuple(f"camera {c.name} moved by {c.rotation_deg:.2f} deg and {100 * c.center_m:.1f} cm since the "
                     f"prior calibration (over {settings.warn_rotation_deg} deg / {100 * settings.warn_center_m:.0f} cm)"
                     for c in changes
                     if c.rotation_deg > settings.warn_rotation_deg or c.center_m > settings.warn_center_m)
    if len(prior) >= 3 and not after[1] < before[1]:  # a held-out view is predicted from >= 2 others
        warnings += (f"the refined rig does not predict held-out views better ({before[1]:.2f} -> {after[1]:.2f} px)",)
    meta = {**prior.metadata, "refined_from_people": True, "refinerig_errors_px": round(after[0], 3),
            "refine_held_out_px": round(after[1], 3)}
    return RefineResult(Rig(rig.cameras, meta), changes, before[0], after[0], before[1], after[1], n_pts, n_obs,
                        warnings)
