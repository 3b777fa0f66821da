"""Multi-person 3D tracking: every person in view, with an id that holds, frame set after frame set.

Per frame set (detections (V, P, J, 3) of every view):
1. the people tracked until a moment ago (``_PREDICT_MAX_S``) are predicted (constant velocity) and
   matched to the detections of each view (``CrossViewAssociator.match_predictions``); left/right pairs
   closer to the prediction swapped are swapped back; all of them are triangulated in one robust batch,
   views that mostly disagree are dropped and the rest triangulated again;
2. the detections nobody took are grouped across views by the geometry alone (``discover``) and
   triangulated: new people candidates; a candidate within ``_DUPLICATE_M`` of a person already updated
   is a leftover of that person (a split or a ghost) and is dropped;
3. candidates are re-identified with the people lost for at most ``hold_s``: within
   ``reacquire_radius_m + max_speed_mps * time lost`` of the predicted position and, once a person's bone
   lengths are known, with a body scale within ``shape_tolerance`` (one assignment, nearest first);
4. the remaining candidates start tentative tracks; a tentative track seen ``birth_frames`` frame sets
   in a row is born (gets the next id); one missed frame set ends a tentative track; a person not seen
   for ``hold_s`` is retired.

No exception on the per-frame path: nobody seen gives an empty result.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from capture3d.body.bones import IncrementalBoneLengths, relative_scale, tree_bones
from capture3d.body.keypoint_sets import KeypointSet
from capture3d.config import TrackingConfig, TriangulationConfig
from capture3d.geometry.camera import Rig
from capture3d.geometry.triangulate import Triangulated, triangulate
from capture3d.nanstats import quiet_nan_warnings
from capture3d.reconstruct.associate import CrossViewAssociator, frame_set_detections, seen_mask
from capture3d.reconstruct.track import repair_swaps

log = logging.getLogger(__name__)

_PREDICT_MAX_S = 0.25        # a person seen this recently is followed by prediction (step 1)
_MIN_VIEW_INLIER_FRACTION = 0.5
_DUPLICATE_M = 0.35          # a candidate this close (median joint distance) to an updated person is a leftover
_MAX_SPEED_CAP_MPS = 3.0     # velocities used for prediction are clipped to this
_SHAPE_FRAMES = 15           # frames a bone must be measured in before its length is known (re-identification)


@dataclass
class _Track:
    """The memory of one person (mutable, private to PeopleTracker)."""

    xyz: np.ndarray                  # (J, 3) last known position of each joint
    vel: np.ndarray                  # (J, 3) m/s
    t_last: float
    shape: IncrementalBoneLengths
    hits: int = 1
    id: int = -1                     # -1 while tentative
    updated: bool = field(default=False)
    early: list = field(default_factory=list)  # while tentative: its frame sets (see PeopleTracker.born_early)

    def predict(self, t: float) -> np.ndarray:
        return self.xyz + self.vel * min(max(t - self.t_last, 0.0), 1.0)


@dataclass(frozen=True)
class PeopleResult:
    """Every person seen in one frame set (born tracks only), sorted by id.

    ids: (K,) int. person_per_view: (K, V) int detection of each view (-1: none).
    keypoints2d: (V, K, J, 3) those detections after left/right repair.
    tri: triangulation of keypoints2d: xyz_world (K, J, 3), reproj_err_px (K, J), n_views (K, J), inliers (V, K, J).
    n_candidates: people candidates found from the geometry alone this frame set (tentative included).
    """

    ids: np.ndarray
    person_per_view: np.ndarray
    keypoints2d: np.ndarray
    tri: Triangulated
    n_candidates: int = 0


class PeopleTracker:
    """Tracks every person with a stable id; see the module docstring.

    update(keypoints2d (V, P, J, 3), time_s) -> PeopleResult. reset() forgets everybody (ids restart at 1).
    """

    def __init__(self, rig: Rig, keypoint_set: KeypointSet, tracking: TrackingConfig = TrackingConfig(),
                 triangulation: TriangulationConfig = TriangulationConfig()):
        self.kps = keypoint_set
        self.cfg = tracking
        self.tri_cfg = triangulation
        self.bones = tree_bones(keypoint_set)
        self.lr_pairs = np.asarray(keypoint_set.lr_pairs, dtype=np.int64).reshape(-1, 2)
        self.assoc = CrossViewAssociator(rig, tracking.min_joints, triangulation.min_score, tracking.link_m)
        self.rig = rig
        self.reset()

    def set_rig(self, rig: Rig) -> None:
        """Use ``rig`` (the same cameras, refined) from the next update on; the people are kept."""
        self.assoc.set_rig(rig)
        self.rig = rig

    def reset(self) -> None:
        self.tracks: list[_Track] = []
        self._next_id = 1
        # {person id: [(time_s, person_per_view (V,), keypoints2d (V, J, 3), Triangulated (leading J))]}: the frame
        # sets each person was seen in before its birth (birth_frames - 1 of them), for offline takes to fill in
        self.born_early: dict[int, list] = {}

    @property
    def n_born(self) -> int:
        """How many people have been born since the last reset."""
        return self._next_id - 1

    # ----------------------------------------------------------------- helpers
    def _triangulate(self, views: np.ndarray) -> Triangulated:
        c = self.tri_cfg
        return triangulate(self.rig, views, robust=c.robust, threshold_px=c.threshold_px, min_views=c.min_views,
                           min_score=c.min_score, refine_iterations=c.refine_iterations)

    @staticmethod
    def _gather(kp: np.ndarray, chosen: np.ndarray) -> np.ndarray:
        """(V, P, J, 3), (K, V) -> (V, K, J, 3) the chosen detections (missing where -1)."""
        V, P, J, _ = kp.shape
        K = chosen.shape[0]
        out = np.full((V, K, J, 3), np.nan)
        out[..., 2] = 0.0
        if P == 0 or K == 0:
            return out
        ch = chosen.T                                   # (V, K)
        g = kp[np.arange(V)[:, None], np.clip(ch, 0, P - 1)]
        return np.where((ch >= 0)[..., None, None], g, out)

    def _solve(self, kp: np.ndarray, chosen: np.ndarray, proj_px: np.ndarray | None):
        """Triangulate people (K, V) chosen detections; drop views that mostly disagree and solve again.

        proj_px: (V, K, J, 2) predicted projections for the left/right repair, or None.
        Returns (chosen (K, V), views (V, K, J, 3), Triangulated with leading (K, J))."""
        views = self._gather(kp, chosen)
        if proj_px is not None and self.cfg.swap_repair and len(self.lr_pairs):
            views, _ = repair_swaps(views, proj_px, self.lr_pairs, self.cfg.swap_margin_px, self.tri_cfg.min_score)
        tri = self._triangulate(views)
        seen = seen_mask(views, self.tri_cfg.min_score)                       # (V, K, J)
        frac = (tri.inliers & seen).sum(-1) / np.maximum(seen.sum(-1), 1)     # (V, K)
        # a view that mostly disagrees is dropped, where >= 2 others remain to outvote it
        outvoted = ((chosen >= 0).sum(1) >= 3) & np.isfinite(tri.xyz_world).any(-1).any(-1)   # (K,)
        bad = (chosen.T >= 0) & (frac < _MIN_VIEW_INLIER_FRACTION) & outvoted
        if bad.any():
            chosen = np.where(bad.T, -1, chosen)
            views = np.where(bad[..., None, None], np.array([np.nan, np.nan, 0.0]), views)
            # solve again the people whose dropped view was used for some joint, only them (a view the
            # robust triangulation used for no joint changes nothing when it is taken out)
            k = np.flatnonzero((bad & tri.inliers.any(-1)).any(axis=0))
            if not k.size:
                return chosen, views, tri
            again = self._triangulate(views[:, k])
            parts = []
            for name in ("xyz_world", "reproj_err_px", "n_views"):
                a = getattr(tri, name).copy()
                a[k] = getattr(again, name)
                parts.append(a)
            inl = tri.inliers.copy()
            inl[:, k] = again.inliers
            tri = Triangulated(*parts, inl)
        return chosen, views, tri

    def _good(self, tri: Triangulated) -> np.ndarray:
        """(K,) bool: enough joints triangulated to count as a person."""
        return np.isfinite(tri.xyz_world).all(-1).sum(-1) >= self.cfg.min_joints

    # ----------------------------------------------------------------- per frame
    def update(self, keypoints2d: np.ndarray, time_s: float) -> PeopleResult:
        """One frame set: keypoints2d (V, P, J, 3) (P may be 0). Never raises for missing data."""
        kp = frame_set_detections(keypoints2d, len(self.rig))
        V, P, J, _ = kp.shape
        t = float(time_s)
        for tr in self.tracks:
            tr.updated = False
        free = seen_mask(kp, self.tri_cfg.min_score).sum(-1) >= self.cfg.min_joints   # (V, P)
        rows: list = []  # (track, chosen (V,), views (V, J, 3), Triangulated, index k in it)

        # 1. people seen a moment ago: prediction -> per-view assignment -> one batched triangulation
        fresh = [tr for tr in self.tracks if 0 <= t - tr.t_last <= _PREDICT_MAX_S]
        if fresh and P:
            pred = np.stack([tr.predict(t) for tr in fresh])
            chosen, proj = self.assoc.match_predictions(np.where(free[..., None, None], kp, np.nan), pred,
                                                        self.cfg.gate_m)
            chosen = np.where((chosen >= 0).sum(1, keepdims=True) >= self.tri_cfg.min_views, chosen, -1)
            if (chosen >= 0).any():
                chosen, views, tri1 = self._solve(kp, chosen, proj)
                for k in np.flatnonzero(self._good(tri1)):
                    rows.append((fresh[k], chosen[k], views[:, k], tri1, k))
                    free[np.flatnonzero(chosen[k] >= 0), chosen[k][chosen[k] >= 0]] = False
        for tr, ch, _, tri1, k in rows:
            self._update_track(tr, tri1.xyz_world[k], t, tracking=True)

        # 2. the rest, from the geometry alone
        groups = self.assoc.discover(kp, free) if free.sum() >= 2 else []
        cands: list[tuple[np.ndarray, np.ndarray, Triangulated, int]] = []
        if groups:
            chosen, views, tri2 = self._solve(kp, np.stack(groups), None)
            done = np.stack([r[3].xyz_world[r[4]] for r in rows]) if rows else np.zeros((0, J, 3))
            for k in np.flatnonzero(self._good(tri2)):
                if len(done) and self._near(tri2.xyz_world[k], done).min() < _DUPLICATE_M:
                    continue
                cands.append((chosen[k], views[:, k], tri2, k))

        # 3. re-identification of the people lost a while, 4. tentative tracks and births
        rows += self._reidentify_or_start(cands, t)
        for tr, ch, views, tri, k in rows:
            if tr.id < 0 and tr.updated:
                tr.early.append((t, ch, views, person_of(tri, k)))
        self.tracks = [tr for tr in self.tracks if self._alive(tr, t)]
        return self._result(rows, V, J, len(cands))

    @staticmethod
    def _near(xyz: np.ndarray, others: np.ndarray) -> np.ndarray:
        """(J, 3), (K, J, 3) -> (K,) median joint distance (inf where nothing in common)."""
        with np.errstate(invalid="ignore"), quiet_nan_warnings():
            d = np.nanmedian(np.linalg.norm(others - xyz[None], axis=-1), axis=-1)
        return np.where(np.isfinite(d), d, np.inf)

    def _reidentify_or_start(self, cands, t: float) -> list:
        # people lost a while, and tentative tracks too stale for step 1's prediction (frame sets further apart
        # than _PREDICT_MAX_S: a slow live rate), continued where a candidate is near them
        lost = [tr for tr in self.tracks if not tr.updated and t - tr.t_last <= self.cfg.hold_s
                and (tr.id >= 0 or t - tr.t_last > _PREDICT_MAX_S)]
        rows, taken = [], set()
        if cands and lost:
            cost = np.full((len(cands), len(lost)), np.inf)
            for i, (_, _, tri, k) in enumerate(cands):
                X = tri.xyz_world[k]
                for j, tr in enumerate(lost):
                    gap = t - tr.t_last
                    radius = self.cfg.reacquire_radius_m + self.cfg.max_speed_mps * gap
                    dist = float(self._near(X, tr.predict(t)[None])[0])
                    dev = abs(relative_scale(X, self.bones, tr.shape.lengths))
                    if dist > radius or (np.isfinite(dev) and dev > self.cfg.shape_tolerance):
                        continue
                    cost[i, j] = dist / radius + (dev / self.cfg.shape_tolerance if np.isfinite(dev) else 1.0)
            r, c = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e6))
            for i, j in zip(r, c):
                if np.isfinite(cost[i, j]):
                    ch, views, tri, k = cands[i]
                    gap = t - lost[j].t_last
                    self._update_track(lost[j], tri.xyz_world[k], t, tracking=False)
                    if lost[j].id >= 0:
                        log.info("person %d re-identified at t=%.3f s after %.2f s", lost[j].id, t, gap)
                    rows.append((lost[j], ch, views, tri, k))
                    taken.add(i)
        for i, (ch, views, tri, k) in enumerate(cands):
            if i not in taken:
                X = tri.xyz_world[k]
                ok = np.isfinite(X).all(-1)
                tr = _Track(np.where(ok[:, None], X, np.nanmedian(X[ok], axis=0)), np.zeros_like(X), t,
                            IncrementalBoneLengths(self.bones, min_frames=_SHAPE_FRAMES))
                tr.shape.add(X)
                tr.updated = True
                self.tracks.append(tr)
                rows.append((tr, ch, views, tri, k))
        return rows

    def _update_track(self, tr: _Track, X: np.ndarray, t: float, tracking: bool) -> None:
        ok = np.isfinite(X).all(-1)
        dt = t - tr.t_last
        if tracking and dt > 0:
            v_new = (X - tr.xyz) / dt
            tr.vel = np.where(ok[:, None], 0.5 * tr.vel + 0.5 * v_new, tr.vel)
            speed = np.linalg.norm(tr.vel, axis=-1, keepdims=True)
            tr.vel = tr.vel * np.minimum(1.0, _MAX_SPEED_CAP_MPS / np.maximum(speed, 1e-9))
        else:
            tr.vel = np.zeros_like(X)
        tr.xyz = np.where(ok[:, None], X, tr.xyz + tr.vel * max(dt, 0.0))
        tr.t_last = t
        tr.hits += 1
        tr.updated = True
        tr.shape.add(X)
        if tr.id < 0 and tr.hits >= self.cfg.birth_frames:
            tr.id = self._next_id
            self._next_id += 1
            self.born_early[tr.id], tr.early = tr.early, []
            log.info("person %d born at t=%.3f s", tr.id, t)

    def _alive(self, tr: _Track, t: float) -> bool:
        if tr.id < 0:
            return tr.updated          # one missed frame set ends a tentative track
        if t - tr.t_last > self.cfg.hold_s:
            log.info("person %d retired at t=%.3f s (not seen for %.2f s)", tr.id, t, t - tr.t_last)
            return False
        return True

    def _result(self, rows: list, V: int, J: int, n_cands: int) -> PeopleResult:
        rows = sorted((r for r in rows if r[0].id >= 0 and r[0].updated), key=lambda r: r[0].id)
        K = len(rows)
        if K == 0:
            tri = Triangulated(np.full((0, J, 3), np.nan), np.full((0, J), np.nan), np.zeros((0, J), np.int64),
                               np.zeros((V, 0, J), bool))
            return PeopleResult(np.zeros(0, np.int64), np.full((0, V), -1), np.zeros((V, 0, J, 3)), tri, n_cands)
        tri = Triangulated(np.stack([r[3].xyz_world[r[4]] for r in rows]),
                           np.stack([r[3].reproj_err_px[r[4]] for r in rows]),
                           np.stack([r[3].n_views[r[4]] for r in rows]),
                           np.stack([r[3].inliers[:, r[4]] for r in rows], axis=1))
        return PeopleResult(np.array([r[0].id for r in rows], np.int64), np.stack([r[1] for r in rows]),
                            np.stack([r[2] for r in rows], axis=1), tri, n_cands)


def person_of(tri: Triangulated, k: int) -> Triangulated:
    """Person k of a batch triangulation (leading (K, J); inliers (V, K, J)) -> leading (J,)."""
    return Triangulated(tri.xyz_world[k], tri.reproj_err_px[k], tri.n_views[k], tri.inliers[:, k])
