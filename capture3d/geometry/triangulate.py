"""Batched, vectorized, robust multi-view triangulation (pure numpy).

Pipeline per point (all points at once, no Python loop over points):
  1. confidence-weighted linear triangulation (inhomogeneous DLT) on undistorted, normalized image
     coordinates, solved as a 3x3 normal system in closed form;
  2. robust view selection: candidate points from view pairs among the K most confident views, each
     scored by a truncated-quadratic (MSAC) count of views that reproject within ``threshold_px``; the
     best candidate's inlier views are kept (only for points whose all-view solution disagrees with some
     view). The cost is O(K^2 V) per point with K <= 6, never a search over camera subsets;
  3. optional Gauss-Newton refinement of the weighted reprojection error over the kept views, starting
     from the best candidate (without refinement, the kept views are re-triangulated linearly instead:
     the refinement from the 2-view candidate gives the same accuracy, and a live frame set is ~10% faster).

Pixel input (``triangulate``) is undistorted by the rig's cameras first: capture3d.geometry.lens for batches
(a fitted inverse + Newton, ~2.4x faster than OpenCV's iteration and more exact), OpenCV for a few points.

Shapes: V views, N points. ``xy_norm`` (V, N, 2) normalized image coordinates (x/z, y/z), NaN when
missing; ``weights`` (V, N) >= 0 (detector confidence; 0 = not seen); ``cams_from_world`` (V, 3, 4)
[R | t]; ``focal_px`` (V,) converts normalized errors to pixels.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import numpy as np

from capture3d.geometry.camera import Rig

_MAX_PAIR_VIEWS = 6   # candidates come from pairs among at most this many most-confident views
_CHUNK = 4096         # points processed together (bounds memory with many views)
_EAGER_MAX_POINTS = 256  # chunks this small solve every candidate at once (see _robust_chunk)


@dataclass(frozen=True)
class Triangulated:
    """Result of triangulation.

    xyz_world: (..., 3) metres, NaN where fewer than min_views agree.
    reproj_err_px: (...) mean reprojection error over the views used, px (NaN where no point).
    n_views: (...) int, number of views used.
    inliers: (V, ...) bool, which views were used for each point.
    """

    xyz_world: np.ndarray
    reproj_err_px: np.ndarray
    n_views: np.ndarray
    inliers: np.ndarray


_SYM = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))


def _sym6(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(V, >=3) rows a, b -> (V, 6): a_i b_j + a_j b_i for the 6 unique (i, j) of a symmetric 3x3."""
    return np.stack([a[:, i] * b[:, j] + a[:, j] * b[:, i] for i, j in _SYM], axis=1)


def _pair_coeffs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(V, 4) rows a, b -> (V, 9): _sym6(a, b), then -(a_i b_3 + a_3 b_i) for the 3 right-hand-side
    entries (the packing of _solve_sym3)."""
    rhs = np.stack([-(a[:, i] * b[:, 3] + a[:, 3] * b[:, i]) for i in range(3)], axis=1)
    return np.concatenate([_sym6(a, b), rhs], axis=1)


def _dlt_coeffs(P: np.ndarray) -> np.ndarray:
    """(V, 3, 4) [R | t] -> (V, 9, 4) coefficients G so that the per-view DLT normal-equation terms are
    G[v] @ [w2 (x^2 + y^2), w2 x, w2 y, w2] (see _features).

    With rows r1 = x p2 - p0 and r2 = y p2 - p1, the entries r1_i r1_j + r2_i r2_j expand to
    (x^2 + y^2) p2_i p2_j - x (p2_i p0_j + p0_i p2_j) - y (p2_i p1_j + p1_i p2_j) + p0_i p0_j + p1_i p1_j.
    """
    p0, p1, p2 = P[:, 0], P[:, 1], P[:, 2]
    G = np.stack([_pair_coeffs(p2, p2) / 2, -_pair_coeffs(p2, p0), -_pair_coeffs(p2, p1),
                  (_pair_coeffs(p0, p0) + _pair_coeffs(p1, p1)) / 2], axis=-1)
    return G


@dataclass(frozen=True)
class _Geometry:
    """Everything derived from the cameras alone, computed once per rig (see _geometry)."""

    P: np.ndarray       # (V, 3, 4) [R | t]
    focal: np.ndarray   # (V,) px
    P3: np.ndarray      # (3V, 3) stacked rotations
    t3: np.ndarray      # (3V, 1) stacked translations
    G: np.ndarray       # (V, 9, 4) DLT normal-equation coefficients (see _dlt_coeffs)
    G_flat: np.ndarray  # (9, 4V) the same, for a sum over views
    H_G: np.ndarray     # (6, 4V) Gauss-Newton matrix coefficients (see refine)
    g_G: np.ndarray     # (3, 3V) Gauss-Newton gradient coefficients


@lru_cache(maxsize=32)
def _geometry_cached(P_bytes: bytes, focal_bytes: bytes, V: int) -> _Geometry:
    P = np.frombuffer(P_bytes, dtype=float).reshape(V, 3, 4)
    focal = np.frombuffer(focal_bytes, dtype=float)
    R = P[:, :, :3]
    G = _dlt_coeffs(P)
    # Gauss-Newton: H on features [u, u px, u py, u (px^2 + py^2)] with u = w2 / z^2 ...
    H_G = np.stack([(_sym6(R[:, 0], R[:, 0]) + _sym6(R[:, 1], R[:, 1])) / 2, -_sym6(R[:, 0], R[:, 2]),
                    -_sym6(R[:, 1], R[:, 2]), _sym6(R[:, 2], R[:, 2]) / 2], axis=-1)  # (V, 6, 4)
    # ... and g on features [s rx, s ry, s (px rx + py ry)] with s = w2 / z: coefficients R0_i, R1_i, -R2_i
    g_G = np.stack([R[:, 0], R[:, 1], -R[:, 2]], axis=-1)  # (V, 3, 3)
    return _Geometry(P, focal, np.ascontiguousarray(R.reshape(V * 3, 3)), P[:, :, 3].reshape(V * 3, 1).copy(), G,
                     G.transpose(1, 0, 2).reshape(9, V * 4).copy(), H_G.transpose(1, 0, 2).reshape(6, V * 4).copy(),
                     g_G.transpose(1, 0, 2).reshape(3, V * 3).copy())


def _geometry(P: np.ndarray, focal: np.ndarray) -> _Geometry:
    P = np.ascontiguousarray(P, dtype=float)
    focal = np.ascontiguousarray(focal, dtype=float)
    return _geometry_cached(P.tobytes(), focal.tobytes(), P.shape[0])


def _features(x: np.ndarray, y: np.ndarray, w2: np.ndarray) -> np.ndarray:
    """(V, N) each -> (V, 4, N) features [w2 (x^2 + y^2), w2 x, w2 y, w2]."""
    wx = w2 * x
    wy = w2 * y
    return np.stack([wx * x + wy * y, wx, wy, w2], axis=1)


def _per_view_terms(G: np.ndarray, F: np.ndarray) -> np.ndarray:
    """(V, 9, 4) @ (V, 4, N) -> (V, 9, N) weighted normal-equation terms of each view."""
    return G @ F


def _solve_sym3(S: np.ndarray) -> np.ndarray:
    """Solve symmetric 3x3 systems packed along the first axis as 9 values: m00 m01 m02 m11 m12 m22, then
    the right-hand side. S (9, ...) -> (..., 3); NaN where the system is singular."""
    a, b, c, d, e, f, g, h, i = S
    A11 = d * f
    A11 -= e * e
    A12 = c * e
    A12 -= b * f
    A13 = b * e
    A13 -= c * d
    A22 = a * f
    A22 -= c * c
    A23 = b * c
    A23 -= a * e
    A33 = a * d
    A33 -= b * b
    det = a * A11
    det += b * A12
    det += c * A13
    tr = a + d
    tr += f
    det[np.abs(det) <= 1e-12 * tr * tr * tr] = np.nan  # singular: NaN out (1 / NaN raises no warning)
    inv = 1.0 / det
    out = np.empty(a.shape + (3,))
    for k, (p, q, r) in enumerate(((A11, A12, A13), (A12, A22, A23), (A13, A23, A33))):
        v = p * g
        v += q * h
        v += r * i
        v *= inv
        out[..., k] = v
    return out


def _reproj_err2(X: np.ndarray, x: np.ndarray, y: np.ndarray, geo: _Geometry) -> np.ndarray:
    """Squared normalized reprojection errors.

    X (N, 3) or (C, N, 3) points; x, y (V, N) observations. Returns (V, N) or (V, C, N); NaN where the
    point is behind a camera.
    """
    V = geo.P.shape[0]
    proj = geo.P3 @ X.reshape(-1, 3).T  # (3V, M) contiguous rows
    proj += geo.t3
    proj = proj.reshape(V, 3, *X.shape[:-1])
    z = proj[:, 2]
    z[z <= 1e-6] = np.nan
    if X.ndim == 3:
        x, y = x[:, None], y[:, None]
    dx = proj[:, 0] / z
    dx -= x
    dy = proj[:, 1] / z
    dy -= y
    dx *= dx
    dy *= dy
    dx += dy
    return dx


def _prepare(xy_norm: np.ndarray, weights: np.ndarray):
    """Split (V, N, 2) into x, y (V, N) with 0 where missing; squared weights (V, N) with 0 where missing."""
    xy = np.asarray(xy_norm, dtype=float)
    w = np.asarray(weights, dtype=float)
    x, y = xy[..., 0], xy[..., 1]
    valid = np.isfinite(x) & np.isfinite(y) & np.isfinite(w) & (w > 0)
    x = np.where(valid, x, 0.0)
    y = np.where(valid, y, 0.0)
    w = np.where(valid, w, 0.0)
    return x, y, w * w, valid


def triangulate_dlt(xy_norm: np.ndarray, weights: np.ndarray, cams_from_world: np.ndarray) -> np.ndarray:
    """Confidence-weighted linear triangulation with every view whose weight is > 0.

    Returns (N, 3); NaN where fewer than 2 views have weight.
    """
    x, y, w2, valid = _prepare(xy_norm, weights)
    P = np.asarray(cams_from_world, dtype=float)
    X = _solve_sym3(_dlt_sum(_geometry(P, np.ones(P.shape[0])), x, y, w2))
    X[valid.sum(axis=0) < 2] = np.nan
    return X


def _dlt_sum(geo: _Geometry, x: np.ndarray, y: np.ndarray, w2: np.ndarray) -> np.ndarray:
    """Normal equations summed over views: (V, N) inputs -> (9, N)."""
    return geo.G_flat @ _features(x, y, w2).reshape(geo.G_flat.shape[1], -1)


def refine(X: np.ndarray, x: np.ndarray, y: np.ndarray, w2: np.ndarray, geo: _Geometry,
           iterations: int = 1) -> np.ndarray:
    """Gauss-Newton on the weighted reprojection error.

    X (N, 3) start; x, y (V, N) normalized observations; w2 (V, N) squared weights (0 = view unused).
    The normal equations sum, over views, (w2 / z^2) J^T J with J rows (R0 - px R2) and (R1 - py R2),
    expanded into products of per-view coefficients (geo.H_G, geo.g_G) and per-point features.
    """
    V = geo.P.shape[0]
    for _ in range(iterations):
        c = (geo.P3 @ X.T + geo.t3).reshape(V, 3, -1)
        z = c[:, 2]
        ok = z > 1e-6
        inv_z = np.where(ok, 1.0 / np.where(ok, z, 1.0), 0.0)
        px = c[:, 0] * inv_z
        py = c[:, 1] * inv_z
        rx = px - x
        ry = py - y
        s_ = w2 * inv_z
        FH = np.empty((V, 4) + s_.shape[1:])  # per-view features, filled in place
        u = np.multiply(s_, inv_z, out=FH[:, 0])
        np.multiply(u, px, out=FH[:, 1])
        np.multiply(u, py, out=FH[:, 2])
        np.multiply(u, px * px + py * py, out=FH[:, 3])
        Fg = np.empty((V, 3) + s_.shape[1:])
        np.multiply(s_, rx, out=Fg[:, 0])
        np.multiply(s_, ry, out=Fg[:, 1])
        np.multiply(s_, px * rx + py * ry, out=Fg[:, 2])
        S = np.empty((9,) + s_.shape[1:])
        np.matmul(geo.H_G, FH.reshape(V * 4, -1), out=S[:6])
        np.matmul(geo.g_G, Fg.reshape(V * 3, -1), out=S[6:])
        np.negative(S[6:], out=S[6:])  # (9, N)
        step = _solve_sym3(S)
        X = np.where(np.isfinite(step), X + step, X)
    return X


def _robust_chunk(x, y, w2, valid, geo: _Geometry, thr_px, refine_iters):
    """Robust triangulation of one chunk of points (see module docstring). Returns X (N, 3), inliers (V, N).

    Points whose all-view solution already reprojects within the threshold in every view skip the
    candidate search (most points: it only runs where some view disagrees). Small chunks (a live frame set)
    solve and reproject the all-view solution and every candidate in one go instead: the same numbers
    with fewer numpy calls.
    """
    V, N = w2.shape
    Sv = _per_view_terms(geo.G, _features(x, y, w2))  # (V, 9, N)
    thr2 = (thr_px / geo.focal) ** 2  # (V,) in normalized units
    eager = N <= _EAGER_MAX_POINTS
    if eager:
        S_pairs, pair_ok = _pair_sums(Sv, w2, valid)
        sols = _solve_sym3(np.concatenate([Sv.sum(axis=0)[:, None], S_pairs], axis=1))  # (1 + C, N, 3)
        e2 = _reproj_err2(sols, x, y, geo)  # (V, 1 + C, N)
        X, e2_all = sols[0], e2[:, 0]
    else:
        X = _solve_sym3(Sv.sum(axis=0))
        e2_all = _reproj_err2(X, x, y, geo)
    agree = valid & (e2_all < thr2[:, None])  # NaN compares False, no warning
    inliers = valid.copy()
    hard = np.flatnonzero((agree != valid).any(axis=0) | ~np.isfinite(X).all(axis=1))
    if hard.size:
        if eager:
            Xh, inl_h = _msac_pick(sols[1:, hard], e2[:, 1:, hard], valid[:, hard], pair_ok[:, hard], thr2)
        else:
            valid_h = valid[:, hard]
            S_pairs, pair_ok = _pair_sums(Sv[:, :, hard], w2[:, hard], valid_h)
            cand = _solve_sym3(S_pairs)  # (C, n, 3)
            Xh, inl_h = _msac_pick(cand, _reproj_err2(cand, x[:, hard], y[:, hard], geo), valid_h, pair_ok, thr2)
        if not refine_iters:  # no refinement to finish the 2-view candidate: re-triangulate on its inliers
            Xh = _solve_sym3((Sv[:, :, hard] * inl_h[:, None]).sum(axis=0))
        X[hard], inliers[:, hard] = Xh, inl_h
    if refine_iters:
        X = refine(X, x, y, w2 * inliers, geo, refine_iters)
    return X, inliers


@lru_cache(maxsize=None)
def _pairs(K: int) -> np.ndarray:
    """(C, 2) all view pairs among K views."""
    return np.array(list(combinations(range(K), 2)), dtype=np.intp).reshape(-1, 2)


def _pair_sums(Sv, w2, valid):
    """2-view normal equations among the K most confident views of each point.

    Sv (V, 9, N) per-view terms, w2 and valid (V, N) -> S_pairs (9, C, N) packed first for _solve_sym3, and
    pair_ok (C, N): both views of the pair are valid.
    """
    V, N = w2.shape
    K = min(V, _MAX_PAIR_VIEWS)
    pairs = _pairs(K)  # (C, 2)
    Svt = Sv.transpose(1, 0, 2)  # (9, V, N) view: pair sums come out packed-axis first, contiguous
    if K == V:  # every view takes part: fixed pairs
        return Svt[:, pairs[:, 0]] + Svt[:, pairs[:, 1]], valid[pairs[:, 0]] & valid[pairs[:, 1]]
    order = np.argsort(-w2, axis=0)[:K]  # (K, N)
    ia, ib = order[pairs[:, 0]], order[pairs[:, 1]]  # (C, N)
    n_idx = np.arange(N)
    return Svt[:, ia, n_idx] + Svt[:, ib, n_idx], valid[ia, n_idx] & valid[ib, n_idx]


def _msac_pick(cand, e2, valid, pair_ok, thr2):
    """The best candidate of each point by truncated-quadratic (MSAC) score.

    cand (C, N, 3) candidate points; e2 (V, C, N) their squared normalized reprojection errors; valid (V, N);
    pair_ok (C, N); thr2 (V,) squared thresholds. Returns X (N, 3), inliers (V, N).
    """
    N = cand.shape[1]
    inl = valid[:, None, :] & (e2 < thr2[:, None, None])
    msac = np.where(inl, 1.0 - e2 / thr2[:, None, None], 0.0).sum(axis=0)  # (C, N)
    msac[~pair_ok] = -1.0
    best = np.argmax(msac, axis=0)  # (N,)
    n_idx = np.arange(N)
    return cand[best, n_idx], inl[:, best, n_idx]


def triangulate_points(xy_norm: np.ndarray, weights: np.ndarray, cams_from_world: np.ndarray,
                       focal_px: np.ndarray, *, robust: bool = True, threshold_px: float = 15.0,
                       min_views: int = 2, refine_iterations: int = 1) -> Triangulated:
    """Triangulate N points seen by V views (see the module docstring for shapes).

    robust=False: weighted DLT with every view that has weight (+ refinement). robust=True: outlier views
    are rejected first. Points with fewer than ``min_views`` agreeing views are NaN.
    """
    P = np.asarray(cams_from_world, dtype=float)
    focal = np.asarray(focal_px, dtype=float)
    x, y, w2, valid = _prepare(xy_norm, weights)
    V, N = w2.shape
    if P.shape != (V, 3, 4) or focal.shape != (V,):
        raise ValueError(f"expected cams_from_world (V={V}, 3, 4) and focal_px ({V},), got {P.shape}, {focal.shape}")
    geo = _geometry(P, focal)
    X = np.full((N, 3), np.nan)
    inliers = np.zeros((V, N), bool)
    for s in range(0, N, _CHUNK):
        sl = slice(s, min(N, s + _CHUNK))
        if robust:
            X[sl], inliers[:, sl] = _robust_chunk(x[:, sl], y[:, sl], w2[:, sl], valid[:, sl], geo, threshold_px,
                                                  refine_iterations)
        else:
            inliers[:, sl] = valid[:, sl]
            X[sl] = _solve_sym3(_dlt_sum(geo, x[:, sl], y[:, sl], w2[:, sl]))
            if refine_iterations:
                X[sl] = refine(X[sl], x[:, sl], y[:, sl], w2[:, sl], geo, refine_iterations)
    n_views = inliers.sum(axis=0)
    with np.errstate(invalid="ignore"):
        err_px = np.sqrt(_reproj_err2(X, x, y, geo)) * focal[:, None]
        err_mean = np.where(inliers, err_px, 0.0).sum(axis=0) / np.maximum(n_views, 1)
    bad = (n_views < max(min_views, 2)) | ~np.isfinite(X).all(axis=1) | ~np.isfinite(err_mean)
    X[bad] = np.nan
    err_mean[bad] = np.nan
    inliers[:, bad] = False
    n_views = np.where(bad, 0, n_views)
    return Triangulated(X, err_mean, n_views, inliers)


def triangulate(rig: Rig, keypoints_px: np.ndarray, *, robust: bool = True, threshold_px: float = 15.0,
                min_views: int = 2, min_score: float = 0.0, refine_iterations: int = 1) -> Triangulated:
    """Triangulate 2D keypoints from every camera of a rig.

    keypoints_px: (V, ..., 3) x px, y px, score (distorted pixel coordinates as detected; NaN or score 0
    for missing). Joints with score <= min_score are ignored. Returns Triangulated with leading shape
    (...) for points and (V, ...) for inliers.
    """
    kp = np.asarray(keypoints_px, dtype=float)
    if kp.ndim < 2 or kp.shape[0] != len(rig) or kp.shape[-1] != 3:
        raise ValueError(f"expected keypoints of shape (V={len(rig)}, ..., 3), got {kp.shape}")
    lead = kp.shape[1:-1]
    flat = kp.reshape(len(rig), -1, 3)
    xy_norm = rig.undistort(flat[..., :2])
    w = np.where(flat[..., 2] > min_score, flat[..., 2], 0.0)
    res = triangulate_points(xy_norm, w, rig.cams_from_world(), rig.focal_px(), robust=robust,
                             threshold_px=threshold_px, min_views=min_views, refine_iterations=refine_iterations)
    return Triangulated(res.xyz_world.reshape(lead + (3,)), res.reproj_err_px.reshape(lead),
                        res.n_views.reshape(lead), res.inliers.reshape((len(rig),) + lead))
