"""Single-subject tracking: which 2D detection of each view is the subject, frame after frame.

Per frame set, from multi-person detections (V, P, J, 3):
- while tracking, the subject's predicted 3D pose is projected into every view; the detection whose
  median joint distance to that projection is smallest (and within ``gate_m`` at the subject's depth)
  is the subject's; left/right pairs that are closer to the prediction swapped are swapped back
  (``repair_swaps``); the chosen views are triangulated robustly and a view whose detection mostly
  disagrees with the others is dropped (cross-view consistency);
- when the prediction is stale (the subject was missed for a while) or before the first acquisition,
  people are found from the detections alone (``find_people``: two-view triangulations checked in the
  other views); a lost subject is re-acquired only near its last position and with its own bone-length
  signature for ``hold_s``, after that by the acquisition policy (central / largest / consistent).

No exception on the per-frame path: missing people or views give a result with no views (NaN pose).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from capture3d.body.bones import RunningBoneLengths, relative_scale, tree_bones
from capture3d.geometry.camera import Rig
from capture3d.config import TrackingConfig, TriangulationConfig
from capture3d.nanstats import quiet_nan_warnings
from capture3d.body.keypoint_sets import KeypointSet
from capture3d.geometry.triangulate import Triangulated, triangulate, triangulate_points
from capture3d.reconstruct.associate import frame_set_detections, seen_mask

log = logging.getLogger(__name__)

_PREDICT_MAX_S = 0.25   # beyond this since the last success, the prediction is not trusted (re-acquire)
_MIN_VIEW_INLIER_FRACTION = 0.5
_OUTVOTED_FRAMES = 3     # frames in a row most views must disagree with the predicted sides to overrule it
_SIDE_MARGIN_M = 0.05   # a 3D left/right limb relabelling must fit the bone lengths this much better


@dataclass(frozen=True)
class TrackResult:
    """The subject in one frame set.

    person_per_view: (V,) int, the detection used in each view (-1: none).
    keypoints2d: (V, J, 3) those detections after left/right repair (NaN, NaN, 0 where none).
    swapped_pairs: (V,) int, left/right pairs swapped back per view.
    tri: triangulation of keypoints2d: xyz_world (J, 3), reproj_err_px (J,), n_views (J,), inliers (V, J).
    state: "tracking", "acquired", "reacquired" or "missing".
    """

    person_per_view: np.ndarray
    keypoints2d: np.ndarray
    swapped_pairs: np.ndarray
    tri: Triangulated
    state: str


@dataclass(frozen=True)
class PersonHypothesis:
    """A person found across views. xyz_world (J, 3); person_per_view (V,); n_views; err_px (median)."""

    xyz_world: np.ndarray
    person_per_view: np.ndarray
    n_views: int
    err_px: float
    size_px: float


def gather_people(keypoints2d: np.ndarray, person_per_view: np.ndarray) -> np.ndarray:
    """(V, P, J, 3), (V,) -> (V, J, 3): the chosen detection of each view (missing where -1)."""
    V, P, J, _ = keypoints2d.shape
    if P == 0:
        out = np.zeros((V, J, 3))
        out[..., :2] = np.nan
        return out
    out = keypoints2d[np.arange(V), np.clip(person_per_view, 0, max(P - 1, 0))].copy()
    out[person_per_view < 0] = (np.nan, np.nan, 0.0)
    return out


def missing_result(V: int, J: int, state: str = "missing") -> TrackResult:
    """A TrackResult with no views and a NaN pose (nobody to follow in this frame set)."""
    kp = np.zeros((V, J, 3))
    kp[..., :2] = np.nan
    tri = Triangulated(np.full((J, 3), np.nan), np.full(J, np.nan), np.zeros(J, np.int64), np.zeros((V, J), bool))
    return TrackResult(np.full(V, -1), kp, np.zeros(V, np.int64), tri, state)


def volume_center(rig: Rig) -> np.ndarray:
    """(3,) the point closest (least squares) to every camera's optical axis: the middle of the volume."""
    A = np.zeros((3, 3))
    b = np.zeros(3)
    for cam in rig:
        d = cam.R[2]  # optical axis in world
        Pm = np.eye(3) - np.outer(d, d)
        A += Pm
        b += Pm @ cam.center_world
    return np.linalg.lstsq(A, b, rcond=None)[0]


def repair_swaps(det: np.ndarray, proj_px: np.ndarray, lr_pairs: np.ndarray, margin_px: float,
                 min_score: float = 0.0):
    """Swap back left/right pairs that are closer to the predicted projection when swapped.

    det: (..., J, 3) detections; proj_px: (..., J, 2) predicted positions (broadcastable); lr_pairs: (K, 2).
    A pair is swapped when both joints are seen and the swapped distance sum is more than 2 * margin_px
    smaller and less than half the kept one (near-coincident pairs, e.g. the ears seen from the side, are
    left alone). A joint seen without its twin that is that much closer to the twin's prediction is dropped
    (set missing): it is probably the other side, but relabelling a lone joint on a guess could lock a
    wrong side into the track. Returns (repaired copy (..., J, 3), swapped (..., K) bool per pair).
    """
    out = np.array(det, dtype=float)
    if len(lr_pairs) == 0:
        return out, np.zeros(out.shape[:-2] + (0,), bool)
    a, b = lr_pairs[:, 0], lr_pairs[:, 1]
    proj = np.broadcast_to(proj_px, out.shape[:-1] + (2,))
    seen = (out[..., 2] > min_score) & np.isfinite(out[..., :2]).all(-1)
    sa, sb = seen[..., a], seen[..., b]
    xa, xb, pa, pb = out[..., a, :2], out[..., b, :2], proj[..., a, :], proj[..., b, :]

    def dist(x, p, s):  # (..., K) distance of detected joints x to predicted joints p; 0 where x unseen (s)
        with np.errstate(invalid="ignore"):
            return np.where(s, np.sqrt(((x - p) ** 2).sum(-1)), 0.0)

    keep = dist(xa, pa, sa) + dist(xb, pb, sb)
    swap = dist(xb, pa, sb) + dist(xa, pb, sa)
    with np.errstate(invalid="ignore"):
        wrong = (np.isfinite(pa[..., 0]) & np.isfinite(pb[..., 0]) & (swap + 2 * margin_px < keep)
                 & (swap < 0.5 * keep))
    do = wrong & sa & sb
    ja, jb = out[..., a, :].copy(), out[..., b, :].copy()
    out[..., a, :] = np.where(do[..., None], jb, ja)
    out[..., b, :] = np.where(do[..., None], ja, jb)
    missing = np.array([np.nan, np.nan, 0.0])
    out[..., a, :] = np.where((wrong & sa & ~sb)[..., None], missing, out[..., a, :])
    out[..., b, :] = np.where((wrong & sb & ~sa)[..., None], missing, out[..., b, :])
    return out, do


class SubjectTracker:
    """Follows one subject through multi-person detections; see the module docstring.

    update(keypoints2d (V, P, J, 3), time_s) -> TrackResult. reset() forgets the subject.
    """

    def __init__(self, rig: Rig, keypoint_set: KeypointSet, tracking: TrackingConfig = TrackingConfig(),
                 triangulation: TriangulationConfig = TriangulationConfig()):
        self.rig = rig
        self.kps = keypoint_set
        self.cfg = tracking
        self.tri_cfg = triangulation
        self.P = rig.cams_from_world()
        self.focal = rig.focal_px()
        self.center = volume_center(rig)
        self.lr_pairs = np.asarray(keypoint_set.lr_pairs, dtype=np.int64).reshape(-1, 2)
        self.bones = tree_bones(keypoint_set)
        self._limb_pairs = _limb_pairs(keypoint_set)
        self._bone_of_child = {int(c): i for i, (_, c) in enumerate(self.bones)}
        self.reset()

    def set_rig(self, rig: Rig) -> None:
        """Use ``rig`` (the same cameras, e.g. refined poses) from the next update on; the subject is kept."""
        P, focal, center = rig.cams_from_world(), rig.focal_px(), volume_center(rig)
        self.rig, self.P, self.focal, self.center = rig, P, focal, center

    def reset(self) -> None:
        self._last_xyz = None       # (J, 3) last known position of each joint
        self._vel = None            # (J, 3) m/s
        self._t_last = None         # time of the last successful frame
        self._ever = False
        self._shape = RunningBoneLengths(self.bones, window=300, min_frames=10, update_every=10)
        self._outvoted = np.zeros(len(self.lr_pairs), np.int64)  # (K,) frames in a row the views outvote the prediction
        self._outvoted_now = np.ones(len(self.lr_pairs), bool)   # (K,) in this frame most views outvoted the prediction
        self.people_seen = 0  # most people found at once when the subject was (re)chosen
        self.choices = 0      # times the policy chose a subject (re-acquisitions of the same one excluded)

    # ----------------------------------------------------------------- helpers
    def _triangulate(self, kp: np.ndarray) -> Triangulated:
        c = self.tri_cfg
        return triangulate(self.rig, kp, robust=c.robust, threshold_px=c.threshold_px, min_views=c.min_views,
                           min_score=c.min_score, refine_iterations=c.refine_iterations)

    def _seen(self, kp: np.ndarray) -> np.ndarray:
        return seen_mask(kp, self.tri_cfg.min_score)

    def _gate_px(self, xyz: np.ndarray, scale_m: float) -> np.ndarray:
        """(V,) a distance of scale_m metres at the subject's depth, in px of each view."""
        c = np.nanmedian(xyz, axis=0)
        depth = self.P[:, :, :3] @ c + self.P[:, :, 3]
        return scale_m * self.focal / np.maximum(depth[:, 2], 0.3)

    def _match_cost(self, kp: np.ndarray, proj: np.ndarray, repair: bool):
        """kp (V, P, J, 3), proj (V, J, 2) -> (repaired kp, swapped (V, P, K) per left/right pair,
        median distance px (V, P))."""
        swapped = np.zeros(kp.shape[:2] + (len(self.lr_pairs),), bool)
        if repair and self.cfg.swap_repair:
            kp, swapped = repair_swaps(kp, proj[:, None], self.lr_pairs, self.cfg.swap_margin_px,
                                       self.tri_cfg.min_score)
        with np.errstate(invalid="ignore"):
            d = np.linalg.norm(kp[..., :2] - proj[:, None], axis=-1)  # (V, P, J)
        d = np.where(self._seen(kp) & np.isfinite(d), d, np.nan)
        n = np.isfinite(d).sum(axis=-1)
        d_sorted = np.sort(np.where(np.isfinite(d), d, np.inf), axis=-1)
        med = np.take_along_axis(d_sorted, np.clip((n - 1) // 2, 0, None)[..., None], axis=-1)[..., 0]
        cost = np.where(n >= self.cfg.min_joints, med, np.inf)
        return kp, swapped, cost

    def _assemble(self, kp: np.ndarray, chosen: np.ndarray, repaired: np.ndarray, swapped: np.ndarray,
                  state: str) -> TrackResult:
        """Triangulate the chosen detections, drop views that mostly disagree, return the result.

        When most views that see a left/right pair disagree with the prediction for _OUTVOTED_FRAMES
        frames in a row, the prediction is what is swapped: every view keeps its own labels, and a wrong
        side cannot lock into the track through the repair (a single frame outvoted is more likely a
        detector error in several views at once)."""
        V, P, J, _ = kp.shape
        views = np.zeros((V, J, 3))
        views[..., :2] = np.nan
        has = chosen >= 0
        idx = np.flatnonzero(has)
        views[has] = repaired[idx, chosen[has]]
        flags = np.zeros((V, len(self.lr_pairs)), bool)
        flags[has] = swapped[idx, chosen[has]]
        orig = np.zeros((V, J, 3))
        orig[..., :2] = np.nan
        orig[has] = kp[idx, chosen[has]]
        seen = self._seen(orig)
        a, b = self.lr_pairs[:, 0], self.lr_pairs[:, 1]
        n_seen = (seen[:, a] & seen[:, b]).sum(axis=0)              # (K,) views that see both joints
        outvoted = 2 * flags.sum(axis=0) > np.maximum(n_seen, 1)    # (K,) most views disagree with the prediction
        self._outvoted = np.where(outvoted, self._outvoted + 1, 0)
        for k in np.flatnonzero(self._outvoted >= _OUTVOTED_FRAMES):  # the prediction is what is swapped
            rows = flags[:, k]
            views[rows, a[k]], views[rows, b[k]] = orig[rows, a[k]], orig[rows, b[k]]
            flags[:, k] = False
            self._outvoted[k] = 0
        self._outvoted_now = outvoted
        sw = flags.sum(axis=1).astype(np.int64)
        tri = self._triangulate(views)
        seen = self._seen(views)
        frac = (tri.inliers & seen).sum(axis=1) / np.maximum(seen.sum(axis=1), 1)
        bad = has & (frac < _MIN_VIEW_INLIER_FRACTION) & np.isfinite(tri.xyz_world).any()
        if bad.any():
            chosen = np.where(bad, -1, chosen)
            views[bad] = (np.nan, np.nan, 0.0)
            sw[bad] = 0
            tri = self._triangulate(views)
        if np.isfinite(tri.xyz_world).all(-1).sum() < self.cfg.min_joints:
            return missing_result(V, J)
        return TrackResult(chosen, views, sw, tri, state)

    # ----------------------------------------------------------------- acquisition
    def find_people(self, kp: np.ndarray) -> list[PersonHypothesis]:
        """People seen consistently in at least 2 views, best first. kp: (V, P, J, 3)."""
        V, P, J, _ = kp.shape
        seen = self._seen(kp)
        xy_norm = self.rig.undistort(kp[..., :2].reshape(V, P * J, 2)).reshape(V, P, J, 2)
        w = np.where(seen, kp[..., 2], 0.0)
        cands = [(a, b, pa, pb) for a, b in combinations(range(V), 2) for pa in range(P) for pb in range(P)
                 if (seen[a, pa] & seen[b, pb]).sum() >= self.cfg.min_joints]
        if not cands:
            return []
        C = len(cands)
        xyn = np.full((V, C, J, 2), np.nan)
        wc = np.zeros((V, C, J))
        for i, (a, b, pa, pb) in enumerate(cands):
            xyn[a, i], xyn[b, i] = xy_norm[a, pa], xy_norm[b, pb]
            wc[a, i], wc[b, i] = w[a, pa], w[b, pb]
        res = triangulate_points(xyn.reshape(V, C * J, 2), wc.reshape(V, C * J), self.P, self.focal,
                                 robust=False, min_views=2, refine_iterations=0)
        X = res.xyz_world.reshape(C, J, 3)
        # support of each candidate in every view: median distance of each detection to its projection
        proj = self.rig.project(X)  # (V, C, J, 2)
        with np.errstate(invalid="ignore"):
            d = np.linalg.norm(kp[:, None, :, :, :2] - proj[:, :, None], axis=-1)  # (V, C, P, J)
        d = np.where(seen[:, None] & np.isfinite(d), d, np.nan)
        n = np.isfinite(d).sum(-1)
        with np.errstate(invalid="ignore"), quiet_nan_warnings():
            med = np.where(n >= self.cfg.min_joints, np.nanmedian(d, axis=-1), np.inf)  # (V, C, P)
        best_p = np.argmin(med, axis=-1)  # (V, C)
        best_d = np.take_along_axis(med, best_p[..., None], -1)[..., 0]
        thr = self.tri_cfg.threshold_px
        support = best_d < thr
        n_sup = support.sum(axis=0)
        order = np.lexsort((np.where(np.isfinite(best_d), best_d, 1e9).sum(0) / np.maximum(n_sup, 1), -n_sup))
        people: list[PersonHypothesis] = []
        used = np.zeros((V, P), bool)
        for i in order:
            if n_sup[i] < 2:
                break
            chosen = np.where(support[:, i], best_p[:, i], -1)
            if any(used[v, chosen[v]] for v in range(V) if chosen[v] >= 0):
                continue
            for v in range(V):
                if chosen[v] >= 0:
                    used[v, chosen[v]] = True
            views = gather_people(kp, chosen)
            tri = self._triangulate(views)
            if np.isfinite(tri.xyz_world).all(-1).sum() < self.cfg.min_joints:
                continue
            with quiet_nan_warnings():
                ext = np.nanmax(views[..., :2], axis=1) - np.nanmin(views[..., :2], axis=1)  # (V, 2)
            size = float(np.nanmean(np.linalg.norm(ext, axis=-1)[chosen >= 0]))
            people.append(PersonHypothesis(tri.xyz_world, chosen, int(n_sup[i]),
                                           float(np.nanmedian(tri.reproj_err_px)), size))
        return people

    def _pick(self, people: list[PersonHypothesis], t_s: float) -> tuple[PersonHypothesis | None, str]:
        if not people:
            return None, "missing"
        holding = self._ever and self._t_last is not None and (t_s - self._t_last) <= self.cfg.hold_s
        if holding:
            gap = t_s - self._t_last
            radius = self.cfg.reacquire_radius_m + self.cfg.max_speed_mps * gap
            ref = _root_xy(self._last_xyz + self._vel * min(gap, 1.0))
            best, best_cost = None, np.inf
            for h in people:
                dist = float(np.linalg.norm(_root_xy(h.xyz_world) - ref))
                dev = abs(relative_scale(h.xyz_world, self.bones, self._shape.lengths))
                if dist > radius or dev > self.cfg.shape_tolerance:
                    continue
                cost = dist / radius + (dev / self.cfg.shape_tolerance if np.isfinite(dev) else 1.0)
                if cost < best_cost:
                    best, best_cost = h, cost
            return best, "reacquired"
        policy = self.cfg.policy
        if policy == "largest":
            key = [-h.size_px for h in people]
        elif policy == "consistent":
            key = [-(h.n_views - h.err_px / self.tri_cfg.threshold_px) for h in people]
        else:
            key = [float(np.linalg.norm(_root_xy(h.xyz_world) - self.center[:2])) for h in people]
        return people[int(np.argmin(key))], "acquired"

    # ----------------------------------------------------------------- per frame
    def update(self, keypoints2d: np.ndarray, time_s: float) -> TrackResult:
        """One frame set: keypoints2d (V, P, J, 3) (P may be 0). Never raises for missing data."""
        kp = frame_set_detections(keypoints2d, len(self.rig))
        V, P, J, _ = kp.shape
        t = float(time_s)
        if P == 0 or not self._seen(kp).any():
            return self._finish(missing_result(V, J), t)
        fresh = self._t_last is not None and 0 <= t - self._t_last <= _PREDICT_MAX_S
        if fresh:
            dt = t - self._t_last
            pred = self._last_xyz + self._vel * dt
            proj = self.rig.project(pred)  # (V, J, 2)
            repaired, swapped, cost = self._match_cost(kp, proj, repair=True)
            gate = self._gate_px(pred, self.cfg.gate_m)
            best = np.argmin(cost, axis=1)
            ok = cost[np.arange(V), best] < gate
            chosen = np.where(ok, best, -1)
            if (chosen >= 0).sum() >= self.tri_cfg.min_views:
                res = self._assemble(kp, chosen, repaired, swapped, "tracking")
                if res.state != "missing":
                    return self._finish(res, t)
        people = self.find_people(kp)
        self.people_seen = max(self.people_seen, len(people))
        hyp, state = self._pick(people, t)
        self.choices += int(hyp is not None and state == "acquired")
        if hyp is None:
            return self._finish(missing_result(V, J), t)
        proj = self.rig.project(hyp.xyz_world)
        repaired, swapped, _ = self._match_cost(kp, proj, repair=True)
        res = self._assemble(kp, hyp.person_per_view, repaired, swapped, state)
        if res.state != "missing":
            log.info("subject %s at t=%.3f s (%d views)", state, t, int((res.person_per_view >= 0).sum()))
        return self._finish(res, t)

    def _fix_limb_sides(self, res: TrackResult) -> TrackResult:
        """Swap left/right 3D limb joints that are attached to the wrong side (3D anatomical check).

        Root to leaves, for each left/right pair with distinct parents (knees, ankles, elbows, ...): the pair
        is swapped when, on both sides, the other joint fits the parent's bone length (the subject's, or
        before it is known the nearer joint) better by _SIDE_MARGIN_M / 2. This breaks a wrong side that
        the views agreed on (several views swapped at once) before it can lock into the prediction. While
        tracking, only a pair on which most views outvote the prediction is checked: relabelling a pair
        against the views and the prediction would itself lock a wrong side into the track (on real
        footage, legs passing each other fit either way within the noise).
        """
        X = res.tri.xyz_world
        perm = np.arange(len(X))
        L = self._shape.lengths
        for k, (a, b, pa, pb) in self._limb_pairs:
            if res.state == "tracking" and not self._outvoted_now[k]:
                continue
            ia, ib, ipa, ipb = perm[a], perm[b], perm[pa], perm[pb]
            P = X[[ia, ib, ipa, ipb]]
            if not np.isfinite(P).all():
                continue
            d = lambda u, v: float(np.linalg.norm(P[u] - P[v]))  # noqa: E731
            la, lb = L[self._bone_of_child[a]], L[self._bone_of_child[b]]
            la = la if np.isfinite(la) else 0.0
            lb = lb if np.isfinite(lb) else 0.0
            # both sides must prefer the swap (a single misplaced parent cannot trigger it)
            gain_a = abs(d(0, 2) - la) - abs(d(1, 2) - la)
            gain_b = abs(d(1, 3) - lb) - abs(d(0, 3) - lb)
            if min(gain_a, gain_b) > _SIDE_MARGIN_M / 2:
                perm[a], perm[b] = ib, ia
        if (perm == np.arange(len(X))).all():
            return res
        tri = res.tri
        tri = Triangulated(tri.xyz_world[perm], tri.reproj_err_px[perm], tri.n_views[perm], tri.inliers[:, perm])
        return TrackResult(res.person_per_view, res.keypoints2d[:, perm], res.swapped_pairs, tri, res.state)

    def _finish(self, res: TrackResult, t: float) -> TrackResult:
        """Update the subject's memory (position, velocity, shape) from a result."""
        if res.state != "missing" and self.cfg.swap_repair and len(self._limb_pairs):
            res = self._fix_limb_sides(res)
        X = res.tri.xyz_world
        ok = np.isfinite(X).all(-1)
        if res.state == "missing" or not ok.any():
            return res
        if self._last_xyz is None or res.state in ("acquired",):
            self._last_xyz = np.where(ok[:, None], X, np.nanmedian(X[ok], axis=0))
            self._vel = np.zeros_like(X)
        else:
            dt = t - self._t_last
            if res.state == "tracking" and dt > 0:
                v_new = (X - self._last_xyz) / dt
                self._vel = np.where(ok[:, None], 0.5 * self._vel + 0.5 * v_new, self._vel)
            else:
                self._vel = np.zeros_like(X)
            self._last_xyz = np.where(ok[:, None], X, self._last_xyz + self._vel * max(dt, 0.0))
        self._t_last = t
        self._ever = True
        self._shape.add(X)
        return res


def _limb_pairs(kps: KeypointSet) -> list[tuple[int, tuple[int, int, int, int]]]:
    """(pair index, (a, b, parent a, parent b)) of the left/right pairs with distinct parents, root to leaves."""
    def depth(j: int) -> int:
        n = 0
        while kps.parents[j] >= 0 and n < kps.n_joints:
            j, n = kps.parents[j], n + 1
        return n

    out = [(k, (a, b, kps.parents[a], kps.parents[b])) for k, (a, b) in enumerate(kps.lr_pairs)
           if kps.parents[a] >= 0 and kps.parents[b] >= 0 and kps.parents[a] != kps.parents[b]]
    return sorted(out, key=lambda p: depth(p[1][0]))


def _root_xy(xyz: np.ndarray) -> np.ndarray:
    """(J, 3) -> (2,) ground position of a pose (median of its joints)."""
    with quiet_nan_warnings():
        return np.nanmedian(xyz[:, :2], axis=0)
