"""Time offsets of unsynchronized cameras from the people in view.

With a rig (``offsets_from_geometry``): for every camera pair and candidate relative offset, the mean
truncated epipolar distance of the subject's joints (symmetric, px; a candidate whose overlap keeps under a
quarter of the sparser view's detections is not scored, short overlaps at large shifts win by chance); the offsets
minimize the sum over all pairs (exhaustive over whole frames for up to 4 cameras, coordinate descent
beyond), then each is refined to a tenth of a frame with interpolated keypoints and a parabola. Using
every pair matters: a walk moves joints along the epipolar lines of cameras at the same height, which
one pair cannot see, but another pair's lines cross them.

Without a rig (``offsets_from_speed``): the normalized cross-correlation of each view's keypoint speed
(median joint speed over the subject's image size) with the first camera's: the baseline.

Confidence per camera: 1 - best / second-best cost more than 2 frames from the best (0: another offset
fits as well, so the motion did not decide; near 1: one clear optimum). Offsets with confidence below
``SyncResult.min_confidence`` are reported as unreliable, and so is a camera whose joints disagree grossly
with the others' at the best offsets (a note names it). Conventions: ``capture3d.reconstruct.offsets``.
Shapes: keypoints (V, T, J, 3) x px, y px, score (one subject per view).
"""
from __future__ import annotations

import itertools
import logging
import warnings
from dataclasses import dataclass

import numpy as np

from capture3d.geometry.camera import Rig
from capture3d.geometry.rotations import skew
from capture3d.geometry.triangulate import triangulate
from capture3d.reconstruct.offsets import apply_offsets, sample_view

log = logging.getLogger(__name__)

MIN_CONFIDENCE = 0.3
_TRUNCATE_PX = 20.0
_MIN_PAIRS = 40          # joint pairs a candidate offset needs to be scored
_MIN_OVERLAP = 0.25      # ... and at least this fraction of the detections of the sparser view: a mean over
                         # a few frames at a large shift is not comparable (measured on Pose2Sim Trial_2: 46-69
                         # joint pairs, 2-3 frames, scored 180 px^2 against the true offset's 330-360 over 1000+)
_TRIM = 1.0             # fraction of the joint pairs kept when comparing sub-frame offsets (1: all)
_OUTLIER_PX = 15.0      # detections this far from the other views' agreement are left out of the sub-frame fit
_DISAGREE_PX = 40.0     # a camera whose joints are this far (median) from the other views' epipolar lines: gross
_SIDE = 3                # the second-best cost is looked for at least this many frames from the best


@dataclass(frozen=True)
class SyncResult:
    """offsets: (V,) frames relative to camera 0 (see capture3d.reconstruct.offsets); confidence: (V,) 0..1
    (camera 0: 1); method: how; notes: warnings (e.g. too little motion)."""

    offsets: np.ndarray
    confidence: np.ndarray
    method: str
    notes: tuple[str, ...]
    min_confidence: float = MIN_CONFIDENCE

    @property
    def reliable(self) -> np.ndarray:
        return self.confidence >= self.min_confidence


def _essential(rig: Rig, v: int, w: int) -> np.ndarray:
    """E with x_w^T E x_v = 0 for normalized points of cameras v and w."""
    a, b = rig.cameras[v], rig.cameras[w]
    R = b.R @ a.R.T
    t = b.tvec - R @ a.tvec
    return skew(t) @ R


def _normalized(rig: Rig, kp: np.ndarray, min_score: float) -> np.ndarray:
    """(V, T, J, 3) px -> (V, T, J, 3) normalized x, y and score (NaN where score < min_score)."""
    out = np.array(kp, float)
    low = ~(np.nan_to_num(out[..., 2]) >= min_score)
    out[low] = (np.nan, np.nan, 0.0)
    out[..., :2] = rig.undistort(out[..., :2])
    return out


def _distances(a: np.ndarray, b: np.ndarray, E: np.ndarray, f_a: float, f_b: float) -> np.ndarray:
    """Symmetric epipolar distances (px, NaN where unseen) of joints a, b (T, J, 3) normalized."""
    ha = np.concatenate([a[..., :2], np.ones(a.shape[:-1] + (1,))], axis=-1)
    hb = np.concatenate([b[..., :2], np.ones(b.shape[:-1] + (1,))], axis=-1)
    la = ha @ E.T                       # lines in b's image
    lb = hb @ E                         # lines in a's image
    s = (hb * la).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = 0.5 * (np.abs(s) / np.hypot(la[..., 0], la[..., 1]) * f_b + np.abs(s) / np.hypot(lb[..., 0], lb[..., 1]) * f_a)
    return np.where((a[..., 2] > 0) & (b[..., 2] > 0), d, np.nan)


def _pair_cost(a: np.ndarray, b: np.ndarray, E: np.ndarray, f_a: float, f_b: float, trim: float = 1.0,
               min_pairs: int = _MIN_PAIRS) -> float:
    """Mean truncated squared symmetric epipolar distance (px^2) of joints a, b (T, J, 3) normalized, every
    joint pair counted once (weighting by the detector's scores put Pose2Sim Trial_2's cam02 and cam04 27
    frames off; unweighted they are right to 0.5 frame).
    trim < 1: the mean of that lowest fraction of the squared distances (sub-frame offsets interpolate
    between frames, so one wrong detection spoils two samples: trimming keeps it out of the comparison)."""
    d = _distances(a, b, E, f_a, f_b)
    w = np.minimum(a[..., 2], b[..., 2])
    ok = np.isfinite(d) & (w > 0)
    if ok.sum() < max(min_pairs, _MIN_PAIRS):
        return float("nan")
    e2, w = np.minimum(d[ok], _TRUNCATE_PX) ** 2, w[ok]
    if trim < 1:
        keep = np.argsort(e2)[:max(1, int(trim * len(e2)))]
        return float(e2[keep].mean())
    return float(e2.mean())


class _Pairs:
    """Pairwise costs C_vw(d): what camera v shows at frame t, camera w shows at t + d."""

    def __init__(self, rig: Rig, kp: np.ndarray, min_score: float):
        self.xn = _normalized(rig, kp, min_score)
        self.V = len(rig)
        self.E = {(v, w): _essential(rig, v, w) for v, w in itertools.permutations(range(self.V), 2)}
        self.f = rig.focal_px()
        seen = self.xn[..., 2] > 0
        self.min_pairs = {(v, w): int(_MIN_OVERLAP * min(seen[v].sum(), seen[w].sum()))
                          for v, w in itertools.permutations(range(self.V), 2)}

    def cost(self, v: int, w: int, d: float, trim: float = 1.0) -> float:
        c = _pair_cost(self.xn[v], sample_view(self.xn[w], d), self.E[(v, w)], self.f[v], self.f[w], trim,
                       self.min_pairs[(v, w)])
        return _TRUNCATE_PX ** 2 if np.isnan(c) else c

    def drop_outliers(self, rig: Rig, kp: np.ndarray, off: np.ndarray, min_score: float) -> None:
        """Leave out the detections that disagree with the other views once aligned by whole-frame
        offsets ``off`` (robust triangulation's outlier views), so that every sub-frame candidate is
        scored on the same clean detections."""
        aligned = apply_offsets(kp, off)
        tri = triangulate(rig, aligned, threshold_px=_OUTLIER_PX, min_score=min_score)
        bad = (np.nan_to_num(aligned[..., 2]) >= min_score) & ~tri.inliers
        T = kp.shape[1]
        for v in range(self.V):
            t, j = np.nonzero(bad[v])
            t = t + int(off[v])
            ok = (t >= 0) & (t < T)
            self.xn[v, t[ok], j[ok]] = (np.nan, np.nan, 0.0)

    def table(self, span: int) -> dict:
        """{(v, w): (2 span + 1,) costs for d = -span..span}, v < w."""
        return {(v, w): np.array([self.cost(v, w, d) for d in range(-span, span + 1)])
                for v, w in itertools.combinations(range(self.V), 2)}

    def disagreement(self, off: np.ndarray) -> np.ndarray:
        """(V,) per camera: the median over the other cameras of the median epipolar distance (px) of the
        joints at whole-frame offsets ``off`` (a camera showing someone else, or grossly wrong joints, stands
        out: measured on Pose2Sim Trial_2's cam03, 74 px against 11-17 px for the others)."""
        med = np.full((self.V, self.V), np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for v, w in itertools.combinations(range(self.V), 2):
                d = _distances(self.xn[v], sample_view(self.xn[w], int(off[w] - off[v])), self.E[(v, w)],
                               self.f[v], self.f[w])
                med[v, w] = med[w, v] = np.nanmedian(d) if np.isfinite(d).sum() >= _MIN_PAIRS else np.nan
            return np.nanmedian(med, axis=1)

    def total(self, v: int, o_v: float, off: np.ndarray) -> float:
        """Sum over the other cameras w of camera v's pair cost when v has offset o_v."""
        return sum(self.cost(v, w, off[w] - o_v, _TRIM) for w in range(self.V) if w != v)


def _lookup(C: dict, span: int, v: int, w: int, d: np.ndarray) -> np.ndarray:
    """C_vw(d) for integer d arrays (either order of v, w); the worst cost outside the table."""
    table, sign = (C[(v, w)], 1) if v < w else (C[(w, v)], -1)
    i = sign * np.asarray(d) + span
    inside = (i >= 0) & (i < len(table))
    return np.where(inside, table[np.clip(i, 0, len(table) - 1)], _TRUNCATE_PX ** 2)


def _whole_frames(C: dict, V: int, M: int) -> np.ndarray:
    """Integer offsets (V,) minimizing the sum of pair costs, camera 0 at 0."""
    span = 2 * M
    cand = np.arange(-M, M + 1)
    if V <= 4:
        grids = np.meshgrid(*([cand] * (V - 1)), indexing="ij")
        o = [np.zeros_like(grids[0])] + list(grids)
        total = sum(_lookup(C, span, v, w, o[w] - o[v]) for v, w in itertools.combinations(range(V), 2))
        idx = np.unravel_index(np.argmin(total), total.shape)
        return np.array([0] + [int(cand[i]) for i in idx])
    off = np.array([0] + [int(cand[np.argmin(_lookup(C, span, 0, w, cand))]) for w in range(1, V)])
    for _ in range(10):
        old = off.copy()
        for v in range(1, V):
            tot = sum(_lookup(C, span, v, w, off[w] - cand) for w in range(V) if w != v)
            off[v] = cand[np.argmin(tot)]
        if np.array_equal(old, off):
            break
    return off


def _confidence(profile: np.ndarray, best: int) -> float:
    """1 - best / second best (at least _SIDE frames away) of a cost profile."""
    far = np.abs(np.arange(len(profile)) - best) >= _SIDE
    if not far.any() or not np.isfinite(profile[best]):
        return 0.0
    second = float(np.nanmin(profile[far]))
    return float(np.clip(1 - profile[best] / second, 0, 1)) if second > 0 else 0.0


def _parabola(c_minus: float, c0: float, c_plus: float) -> float:
    den = c_minus - 2 * c0 + c_plus
    return float(np.clip(0.5 * (c_minus - c_plus) / den, -0.5, 0.5)) if den > 0 else 0.0


def _motion_note(kp: np.ndarray) -> str | None:
    """A note when the subject barely moves in the images: the median joint displacement over 10 frames
    under 5 px (detector noise alone moves joints a few px from frame to frame)."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        move = np.nanmedian(np.linalg.norm(kp[:, 10:, :, :2] - kp[:, :-10, :, :2], axis=-1))
    if not np.isfinite(move) or move < 5.0:
        return (f"the subject barely moves (median joint displacement {move:.1f} px over 10 frames): too little "
                f"motion to synchronize the views")
    return None


def offsets_from_geometry(rig: Rig, keypoints2d: np.ndarray, max_offset: int = 30, min_score: float = 0.3,
                          subframe: bool = True) -> SyncResult:
    """Offsets (frames, camera 0 = 0) of the rig's cameras from the subject's 2D keypoints (V, T, J, 3) by
    cross-view epipolar consistency (see the module docstring). max_offset: the largest |offset| tried."""
    kp = np.asarray(keypoints2d, float)
    if kp.ndim != 4 or kp.shape[0] != len(rig) or kp.shape[-1] != 3:
        raise ValueError(f"expected keypoints2d of shape (V={len(rig)}, T, J, 3), got {kp.shape}")
    if not 0 < max_offset < kp.shape[1] // 2:
        raise ValueError(f"max_offset must be 1..{kp.shape[1] // 2 - 1} frames for {kp.shape[1]} frames, "
                         f"found {max_offset}")
    V, M = len(rig), int(max_offset)
    pairs = _Pairs(rig, kp, min_score)
    C = pairs.table(2 * M)
    off = _whole_frames(C, V, M).astype(float)
    cand = np.arange(-M, M + 1)
    conf = np.ones(V)
    for v in range(1, V):
        prof = sum(_lookup(C, 2 * M, v, w, off[w].astype(int) - cand) for w in range(V) if w != v)
        conf[v] = _confidence(prof, int(off[v]) + M)
    disagree = pairs.disagreement(off.astype(int))
    if subframe:
        pairs.drop_outliers(rig, kp, off.astype(int), min_score)
        off = _subframe(pairs, off)
    gross = _disagreement_notes(disagree, conf, rig.names)
    notes = _notes(kp, conf, rig.names) + gross
    return SyncResult(off, conf, "cross-view epipolar consistency", notes)


def _subframe(pairs: _Pairs, off: np.ndarray, sweeps: int = 8) -> np.ndarray:
    """Coordinate descent on fractional offsets: each camera on a grid around its offset (others fixed),
    then a parabola through the best three; the grid narrows from 0.1 to 0.05 frame after two sweeps."""
    off = off.astype(float).copy()
    for k in range(sweeps):
        step, half = (0.1, 6) if k < 2 else (0.05, 3)
        old = off.copy()
        for v in range(1, pairs.V):
            grid = off[v] + step * np.arange(-half, half + 1)
            costs = np.array([pairs.total(v, g, off) for g in grid])
            i = int(np.clip(np.argmin(costs), 1, len(grid) - 2))
            off[v] = grid[i] + step * _parabola(costs[i - 1], costs[i], costs[i + 1])
        if k >= 2 and np.abs(off - old).max() < 0.01:
            break
    return off


def _disagreement_notes(disagree: np.ndarray, conf: np.ndarray, names) -> tuple[str, ...]:
    """A note naming the cameras whose joints disagree with the others' (median epipolar distance over
    _DISAGREE_PX and over 3 times the median camera's): their offsets cannot be trusted whatever the motion;
    such a camera's confidence is set to at most half the threshold."""
    ref = np.nanmedian(disagree)
    bad = np.flatnonzero(np.nan_to_num(disagree, nan=np.inf) > max(_DISAGREE_PX, 3 * ref))
    if not len(bad):
        return ()
    conf[bad] = np.minimum(conf[bad], 0.5 * MIN_CONFIDENCE)
    px = ", ".join(f"{names[b]}: {disagree[b]:.0f} px" for b in bad)
    return (f"camera(s) {', '.join(names[b] for b in bad)} disagree with the other views even at their best offsets (median epipolar "
            f"distance {px}, the median camera {ref:.0f} px): a wrong person or grossly wrong 2D keypoints, "
            f"so their offsets are not to be used",)


def _notes(kp: np.ndarray, conf: np.ndarray, names) -> tuple[str, ...]:
    """names: (V,) camera labels the notes use."""
    notes = [n for n in [_motion_note(kp)] if n]
    weak = np.flatnonzero(conf < MIN_CONFIDENCE)
    if len(weak):
        got = ", ".join(f"{names[w]}: {conf[w]:.2f}" for w in weak)
        notes.append(f"camera(s) {', '.join(names[w] for w in weak)} could not be synchronized with confidence ({got}, below "
                     f"{MIN_CONFIDENCE}: an offset at least {_SIDE} frames away costs at most "
                     f"{100 * conf[weak].max() / max(1e-9, 1 - conf[weak].max()):.0f}% more than the best): "
                     f"over these {kp.shape[1]} frames the motion does not single out one offset; record more or "
                     f"larger motion")
    return tuple(notes)


def speed_signal(kp: np.ndarray, min_score: float = 0.3) -> np.ndarray:
    """(T, J, 3) -> (T,) median joint speed (px/frame) over the subject's image size (NaN where unseen)."""
    xy = np.where((np.nan_to_num(kp[..., 2]) >= min_score)[..., None], kp[..., :2], np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        size = np.nanmedian(np.nanmax(xy[..., 1], axis=1) - np.nanmin(xy[..., 1], axis=1))
        sp = np.nanmedian(np.linalg.norm(np.diff(xy, axis=0), axis=-1), axis=1)
    return np.r_[sp, np.nan] / (size if size > 0 else 1.0)


def _ncc_cost(a: np.ndarray, b: np.ndarray, d: int) -> float:
    """1 - normalized cross-correlation of a(t) and b(t + d) over their overlap."""
    T = len(a)
    t = np.arange(max(0, -d), min(T, T - d))
    x, y = a[t], b[t + d]
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 10:
        return 2.0
    x, y = x[ok] - x[ok].mean(), y[ok] - y[ok].mean()
    den = np.sqrt((x ** 2).sum() * (y ** 2).sum())
    return float(1 - (x * y).sum() / den) if den > 0 else 2.0


def offsets_from_speed(keypoints2d: np.ndarray, max_offset: int = 30, min_score: float = 0.3,
                       names=None) -> SyncResult:
    """Offsets from keypoint motion alone (no rig): cross-correlation of each view's speed signal with the
    first camera's, sub-frame by a parabola through the peak. names: (V,) camera labels for the notes
    (default: camera 0, camera 1, ...)."""
    kp = np.asarray(keypoints2d, float)
    if kp.ndim != 4 or kp.shape[-1] != 3:
        raise ValueError(f"expected keypoints2d of shape (V, T, J, 3), got {kp.shape}")
    if not 0 < max_offset < kp.shape[1] // 2:
        raise ValueError(f"max_offset must be 1..{kp.shape[1] // 2 - 1} frames for {kp.shape[1]} frames, "
                         f"found {max_offset}")
    sig = [speed_signal(kp[v], min_score) for v in range(kp.shape[0])]
    cand = np.arange(-max_offset, max_offset + 1)
    off, conf = np.zeros(len(sig)), np.ones(len(sig))
    for v in range(1, len(sig)):
        prof = np.array([_ncc_cost(sig[0], sig[v], int(d)) for d in cand])
        i = int(np.argmin(prof))
        frac = _parabola(prof[i - 1], prof[i], prof[i + 1]) if 0 < i < len(cand) - 1 else 0.0
        off[v] = cand[i] + frac
        conf[v] = _confidence(prof, i)
    names = list(names) if names is not None else [f"camera {v}" for v in range(kp.shape[0])]
    return SyncResult(off, conf, "keypoint-speed cross-correlation", _notes(kp, conf, names))
