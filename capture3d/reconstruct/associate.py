"""Cross-view association: which 2D detections of the views are the same person, per frame set.

Two steps, both vectorized over views, people and joints (the only Python loops run over views for the
assignment and over the few candidate links of the clustering):
- ``match_predictions``: the 3D people predicted from the previous frame sets are projected into every
  view; the cost of a detection for a person is its median joint distance to the projection, in units of
  the gate (``gate_m`` at the person's depth, in px); each view assigns its detections to the people
  one-to-one (Hungarian) within the gate. A person hidden in a view simply gets no detection there.
- ``discover``: the detections left over are grouped by the geometry alone: for every pair of detections
  of different views, the median over their common joints of the distance between the two cameras' rays
  (metres, independent of depth); pairs within ``link_m`` are linked, closest first, into groups that hold
  at most one detection per view (greedy, closest first; two groups join only when the median
  distance between all their members is within ``link_m`` too). Groups of >= 2 views are people candidates; false
  detections find no partner in another view and stay alone.

Shapes: V views, P detections per view, J joints, K people. Detections (V, P, J, 3) x px, y px, score.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from capture3d.geometry.camera import Rig

_BIG = 1e6


def seen_mask(kp: np.ndarray, min_score: float) -> np.ndarray:
    """(V, P, J, 3) -> (V, P, J) bool: the joint is detected (finite, score above min_score)."""
    with np.errstate(invalid="ignore"):  # a NaN score is not above min_score
        return (kp[..., 2] > min_score) & np.isfinite(kp[..., 0]) & np.isfinite(kp[..., 1])


def frame_set_detections(keypoints2d: np.ndarray, n_views: int) -> np.ndarray:
    """The detections of one frame set as a float array (V, P, J, 3); (V, J, 3) is one person per view.
    ValueError naming the shapes for anything else (the per-frame input check of the trackers)."""
    kp = np.asarray(keypoints2d, dtype=float)
    if kp.ndim == 3:
        kp = kp[:, None]
    if kp.ndim != 4 or kp.shape[0] != n_views or kp.shape[-1] != 3:
        raise ValueError(f"expected keypoints2d of shape (V={n_views}, P, J, 3) or (V, J, 3), got {kp.shape}")
    return kp


def median_over_joints(d: np.ndarray, min_joints: int) -> np.ndarray:
    """(..., J) distances with NaN where not comparable -> (...,) median of the finite ones; inf where fewer
    than min_joints (the lower median, so one sort serves every row)."""
    ok = np.isfinite(d)
    n = ok.sum(axis=-1)
    s = np.sort(np.where(ok, d, np.inf), axis=-1)
    med = np.take_along_axis(s, np.clip((n - 1) // 2, 0, None)[..., None], axis=-1)[..., 0]
    return np.where(n >= min_joints, med, np.inf)


def assign_per_view(cost: np.ndarray) -> np.ndarray:
    """(V, K, P) costs (inf: impossible; a match needs cost < 1) -> (K, V) int detection per person (-1).

    One Hungarian assignment per view (a loop over views only)."""
    V, K, P = cost.shape
    out = np.full((K, V), -1)
    if K == 0 or P == 0:
        return out
    # pairs outside the gate keep their cost (filtered after the assignment): measured on synthetic crowds, one
    # flat cost for all of them gave an identity switch and false sets that the true costs avoid
    c = np.where(np.isfinite(cost), cost, _BIG)
    for v in np.flatnonzero((c < 1).any(axis=(1, 2))):
        rows, cols = linear_sum_assignment(c[v])
        ok = c[v, rows, cols] < 1
        out[rows[ok], v] = cols[ok]
    return out


class CrossViewAssociator:
    """Groups the detections of one frame set into people; see the module docstring.

    rig: the cameras. min_joints: joints two detections (or a detection and a prediction) must share.
    min_score: joints at or below this score are ignored. link_m: ray distance that links two detections.
    """

    def __init__(self, rig: Rig, min_joints: int = 6, min_score: float = 0.0, link_m: float = 0.1):
        self.min_joints = int(min_joints)
        self.min_score = float(min_score)
        self.link_m = float(link_m)
        self.set_rig(rig)

    def set_rig(self, rig: Rig) -> None:
        P = rig.cams_from_world()
        self.rig = rig
        self.focal = rig.focal_px()
        self.R = P[:, :, :3]                                             # (V, 3, 3)
        self.centres = -np.einsum("vji,vj->vi", self.R, P[:, :, 3])      # (V, 3) camera centres, world

    # ----------------------------------------------------------------- seeded by predictions
    def gate_px(self, xyz_world: np.ndarray, gate_m: float) -> np.ndarray:
        """(K, J, 3) poses -> (V, K) a distance of gate_m metres at each pose's depth, px of each view."""
        with np.errstate(invalid="ignore"):
            c = np.nanmean(xyz_world, axis=1) if xyz_world.size else np.zeros((0, 3))   # (K, 3)
        depth = np.einsum("vk,nk->vn", self.R[:, 2], c) + (-np.einsum("vk,vk->v", self.R[:, 2], self.centres))[:, None]
        return gate_m * self.focal[:, None] / np.maximum(depth, 0.3)

    def prediction_costs(self, kp: np.ndarray, proj_px: np.ndarray, gate_px: np.ndarray) -> np.ndarray:
        """Detections (V, P, J, 3), predicted projections (V, K, J, 2), gates (V, K) -> (V, K, P) median joint
        distance over the gate (inf with fewer than min_joints common joints)."""
        seen = seen_mask(kp, self.min_score)
        with np.errstate(invalid="ignore"):
            dx = kp[:, None, :, :, 0] - proj_px[:, :, None, :, 0]                    # (V, K, P, J)
            dy = kp[:, None, :, :, 1] - proj_px[:, :, None, :, 1]
            d = np.sqrt(dx * dx + dy * dy)
        d = np.where(seen[:, None], d, np.nan)
        return median_over_joints(d, self.min_joints) / gate_px[..., None]

    def match_predictions(self, kp: np.ndarray, pred_world: np.ndarray, gate_m: float
                          ) -> tuple[np.ndarray, np.ndarray]:
        """Detections (V, P, J, 3), predicted poses (K, J, 3) -> (K, V) detection of each person per view (-1),
        and the predictions' projections (V, K, J, 2) px."""
        proj = self.rig.project_all(pred_world)                            # (V, K, J, 2)
        if pred_world.shape[0] == 0 or kp.shape[1] == 0:
            return np.full((pred_world.shape[0], kp.shape[0]), -1), proj
        return assign_per_view(self.prediction_costs(kp, proj, self.gate_px(pred_world, gate_m))), proj

    # ----------------------------------------------------------------- from the geometry alone
    def rays(self, kp: np.ndarray, v_idx: np.ndarray, p_idx: np.ndarray) -> np.ndarray:
        """Detections (V, P, J, 3), D of them picked by view v_idx (D,) and index p_idx (D,) -> (D, J, 3) unit
        ray directions in the world (NaN where unseen)."""
        det = kp[v_idx, p_idx]                                              # (D, J, 3)
        xy = np.full(det.shape[:-1] + (2,), np.nan)
        for v in np.unique(v_idx):                                          # undistort per camera
            rows = v_idx == v
            xy[rows] = self.rig.cameras[v].undistort(det[rows, :, :2])
        h = np.concatenate([xy, np.ones(xy.shape[:-1] + (1,))], axis=-1)
        d = np.einsum("dji,dkj->dki", self.R[v_idx], h)
        d = d / np.linalg.norm(d, axis=-1, keepdims=True)
        return np.where(seen_mask(det[None], self.min_score)[0][..., None], d, np.nan)

    def link_distances(self, kp: np.ndarray, free: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ray distances between the free detections of different views.

        kp (V, P, J, 3), free (V, P) bool -> (view (D,), detection (D,), dist (D, D) metres, median over common
        joints; inf for the same view, too few common joints, or rays that meet behind a camera)."""
        v_idx, p_idx = np.nonzero(free)
        D = len(v_idx)
        if len(np.unique(v_idx)) < 2:
            return v_idx, p_idx, np.full((D, D), np.inf)
        d = self.rays(kp, v_idx, p_idx)                  # (D, J, 3)
        c = self.centres[v_idx]                          # (D, 3)
        a, b = d[:, None], d[None]                       # (D, 1, J, 3), (1, D, J, 3)
        w = (c[None] - c[:, None])[:, :, None]           # (D, D, 1, 3) from centre i to centre j
        n = np.cross(a, b)
        nn = np.linalg.norm(n, axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            dist = np.abs(np.sum(w * n, axis=-1)) / nn
            # depths along each ray of the closest points (both must lie in front of their cameras)
            ab = np.sum(a * b, axis=-1)
            wa, wb = np.sum(w * a, axis=-1), np.sum(w * b, axis=-1)
            den = 1 - ab ** 2
            s = (wa - ab * wb) / den
            t = (ab * wa - wb) / den
        dist = np.where((s > 0.2) & (t > 0.2) & (nn > 1e-6), dist, np.nan)
        med = median_over_joints(dist, self.min_joints)
        med[v_idx[:, None] == v_idx[None]] = np.inf
        return v_idx, p_idx, med

    def discover(self, kp: np.ndarray, free: np.ndarray) -> list[np.ndarray]:
        """Groups of free detections that see the same person: a list of (V,) int detection per view (-1),
        each with >= 2 views, the most tightly linked first."""
        V = kp.shape[0]
        v_idx, p_idx, dist = self.link_distances(kp, free)
        iu, ju = np.nonzero(np.triu(dist < self.link_m, 1))
        if iu.size == 0:
            return []
        order = np.argsort(dist[iu, ju], kind="stable")
        root = np.arange(len(v_idx))                     # group of each detection (its first member)
        members = {i: [i] for i in range(len(v_idx))}
        for i, j in zip(iu[order], ju[order]):
            ri, rj = root[i], root[j]
            if ri == rj or set(v_idx[members[ri]]) & set(v_idx[members[rj]]):
                continue
            # average linkage: the two groups must agree as wholes, not through one close pair
            if np.median(dist[np.ix_(members[ri], members[rj])]) >= self.link_m:
                continue
            members[ri] += members.pop(rj)
            root[members[ri]] = ri
        out = []
        for m in members.values():
            if len(m) < 2:
                continue
            m = np.array(m)
            chosen = np.full(V, -1)
            chosen[v_idx[m]] = p_idx[m]
            out.append(chosen)
        out.sort(key=lambda c: -(c >= 0).sum())
        return out
