"""Part-affinity-field parsing (OpenPose's bottom-up multi-person assembly), vectorized with numpy.

1. Peaks: local maxima (3x3) of every part confidence map above ``peak_threshold``, refined to sub-pixel
   by a parabola through the log of the peak and its neighbours (exact for a Gaussian peak).
2. Limb scores: for every limb (a, b) and every candidate pair, the PAF is sampled at ``n_samples``
   points along the segment and projected on its direction; a pair is a candidate when at least
   ``min_inlier_fraction`` of the samples exceed ``paf_threshold`` and the mean (with a penalty for limbs
   longer than half the map height) is positive. All pairs of a limb are scored in one array operation.
3. Greedy bipartite matching per limb: best-scoring pairs first, each peak used once.
4. Person assembly: limbs in tree order grow people (a connection extends the person that holds one
   end, merges two people whose joints do not clash, or starts a new person; redundant limbs never
   start one). People with fewer than ``min_parts`` joints or a low mean score are dropped.

Coordinates are in map pixels (pixel centres at integers). Maps: heatmaps (K, H, W) with K >= J (extra
channels such as the background are ignored), pafs (2L, H, W).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


@dataclass(frozen=True)
class PafParams:
    peak_threshold: float = 0.05
    paf_threshold: float = 0.05
    n_samples: int = 10
    min_inlier_fraction: float = 0.8
    min_parts: int = 3
    min_mean_score: float = 0.2


def _parabola_offset(lm: np.ndarray, l0: np.ndarray, lp: np.ndarray) -> np.ndarray:
    """Offset in [-0.5, 0.5] of the vertex of the parabola through (-1, lm), (0, l0), (1, lp)."""
    den = lm - 2 * l0 + lp
    ok = den < -1e-12
    off = np.where(ok, 0.5 * (lm - lp) / np.where(ok, den, -1.0), 0.0)
    return np.clip(off, -0.5, 0.5)


def find_peaks(heatmaps: np.ndarray, n_joints: int, threshold: float) -> list[np.ndarray]:
    """Per joint j < n_joints: (n_j, 3) peaks x, y, score (sub-pixel x, y; score = map value)."""
    hm = np.asarray(heatmaps[:n_joints], dtype=np.float32)
    J, H, W = hm.shape
    maxf = ndimage.maximum_filter(hm, size=(1, 3, 3), mode="constant", cval=-np.inf)
    is_peak = (hm == maxf) & (hm > threshold)
    j_idx, ys, xs = np.nonzero(is_peak)
    # Sub-pixel: a parabola through the log of the peak and its 4 neighbours (exact for a Gaussian peak);
    # the map is mirrored at the borders, so a peak on the edge pixel is not pulled either way.
    pad = np.log(np.maximum(np.pad(hm, ((0, 0), (1, 1), (1, 1)), mode="reflect"), 1e-12))
    yp, xp = ys + 1, xs + 1
    c = pad[j_idx, yp, xp]
    dx = _parabola_offset(pad[j_idx, yp, xp - 1], c, pad[j_idx, yp, xp + 1])
    dy = _parabola_offset(pad[j_idx, yp - 1, xp], c, pad[j_idx, yp + 1, xp])
    peaks = np.stack([xs + dx, ys + dy, hm[j_idx, ys, xs]], axis=1)
    return [peaks[j_idx == j] for j in range(J)]


def score_limb(pa: np.ndarray, pb: np.ndarray, paf_x: np.ndarray, paf_y: np.ndarray, params: PafParams):
    """All candidate pairs of one limb -> (ia, ib, score) arrays of the valid ones, best first.

    pa: (na, 3), pb: (nb, 3) peaks; paf_x, paf_y: (H, W) the limb's field.
    """
    H, W = paf_x.shape
    if len(pa) == 0 or len(pb) == 0:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    d = pb[None, :, :2] - pa[:, None, :2]  # (na, nb, 2)
    norm = np.linalg.norm(d, axis=-1)
    unit = d / np.maximum(norm, 1e-9)[..., None]
    t = np.linspace(0.0, 1.0, params.n_samples)
    pts = pa[:, None, None, :2] + t[None, None, :, None] * d[:, :, None, :]  # (na, nb, n, 2)
    xi = np.clip(np.rint(pts[..., 0]).astype(int), 0, W - 1)
    yi = np.clip(np.rint(pts[..., 1]).astype(int), 0, H - 1)
    dots = paf_x[yi, xi] * unit[..., None, 0] + paf_y[yi, xi] * unit[..., None, 1]  # (na, nb, n)
    prior = np.minimum(0.5 * H / np.maximum(norm, 1e-9) - 1.0, 0.0)
    score = dots.mean(axis=-1) + prior
    inliers = (dots > params.paf_threshold).mean(axis=-1)
    ok = (inliers >= params.min_inlier_fraction) & (score > 0) & (norm > 0)
    ia, ib = np.nonzero(ok)
    s = score[ia, ib]
    order = np.argsort(-s, kind="stable")
    return ia[order], ib[order], s[order]


def greedy_match(ia: np.ndarray, ib: np.ndarray, score: np.ndarray) -> list[tuple[int, int, float]]:
    """Best-first bipartite matching: (ia, ib, score) sorted by score descending -> matched triples."""
    used_a, used_b, out = set(), set(), []
    for a, b, s in zip(ia.tolist(), ib.tolist(), score.tolist()):
        if a in used_a or b in used_b:
            continue
        used_a.add(a)
        used_b.add(b)
        out.append((a, b, s))
    return out


def parse_pafs(heatmaps: np.ndarray, pafs: np.ndarray, n_joints: int, pairs, channels, redundant=(),
               params: PafParams = PafParams()) -> np.ndarray:
    """Assemble people from part confidence maps and PAFs.

    heatmaps: (K >= n_joints, H, W); pafs: (2L, H, W); pairs: L (a, b) joint pairs in assembly order;
    channels: their (x, y) PAF channels. Returns (P, n_joints, 3) x, y (map px), score (peak value),
    missing joints NaN / 0, people sorted by total score (best first).
    """
    peaks = find_peaks(heatmaps, n_joints, params.peak_threshold)
    offsets = np.cumsum([0] + [len(p) for p in peaks])
    all_peaks = np.concatenate(peaks) if offsets[-1] else np.zeros((0, 3))
    people: list[np.ndarray] = []  # each (J,) global peak id or -1
    totals: list[float] = []
    redundant = set(redundant)
    for k, ((a, b), (cx, cy)) in enumerate(zip(pairs, channels)):
        ia, ib, s = score_limb(peaks[a], peaks[b], pafs[cx], pafs[cy], params)
        for i, j, sc in greedy_match(ia, ib, s):
            ga, gb = offsets[a] + i, offsets[b] + j
            owners = [p for p, person in enumerate(people) if person[a] == ga or person[b] == gb]
            if len(owners) == 1:
                person = people[owners[0]]
                if person[b] == -1 and person[a] == ga:
                    person[b] = gb
                    totals[owners[0]] += all_peaks[gb, 2] + sc
                elif person[a] == -1 and person[b] == gb:
                    person[a] = ga
                    totals[owners[0]] += all_peaks[ga, 2] + sc
            elif len(owners) == 2:
                p1, p2 = owners
                m1, m2 = people[p1] >= 0, people[p2] >= 0
                if not np.any(m1 & m2):  # disjoint: the limb joins two parts of one person
                    people[p1][m2] = people[p2][m2]
                    totals[p1] += totals[p2] + sc
                    del people[p2], totals[p2]
            elif k not in redundant:
                person = np.full(n_joints, -1, dtype=np.int64)
                person[a], person[b] = ga, gb
                people.append(person)
                totals.append(all_peaks[ga, 2] + all_peaks[gb, 2] + sc)
    out = []
    for person, total in zip(people, totals):
        count = int((person >= 0).sum())
        if count < params.min_parts or total / count < params.min_mean_score:
            continue
        kp = np.full((n_joints, 3), np.nan)
        kp[:, 2] = 0.0
        kp[person >= 0] = all_peaks[person[person >= 0]]
        out.append((total, kp))
    out.sort(key=lambda x: -x[0])
    return np.stack([kp for _, kp in out]) if out else np.zeros((0, n_joints, 3))
