"""The lens model: OpenCV's pinhole (standard / rational, with tangential terms) and fisheye distortion,
the intrinsics K (skew included), projection camera frame -> px, undistortion px -> normalized, and a
fast inverse of the pinhole distortion for large batches. Everything that projects or undistorts (cameras,
triangulation, calibration, bundle adjustment) goes through these functions.

Coordinates: ``xy_norm`` (x/z, y/z) undistorted normalized; ``xy_dist`` distorted normalized; ``xy_px``
pixels, (0, 0) the centre of the top-left pixel. Intrinsics K (3, 3): u = fx xd + s yd + cx, v = fy yd + cy
(s = K[0, 1], the skew; OpenCV's own projection and undistortion ignore it, so it is applied and removed
here, in ``apply_intrinsics`` and ``remove_skew_px`` only).

Lens models (``model`` names used throughout calib/):

- "standard": 5 coefficients k1, k2, p1, p2, k3 (OpenCV's default; 4 values are accepted, k3 = 0);
- "rational": 8 coefficients k1, k2, p1, p2, k3, k4, k5, k6 (CALIB_RATIONAL_MODEL);
- "fisheye": 4 coefficients k1..k4 of OpenCV's equidistant fisheye model.

Pinhole model (OpenCV order) on undistorted normalized coordinates (x, y):
  r2 = x^2 + y^2, radial = (1 + k1 r2 + k2 r2^2 + k3 r2^3) / (1 + k4 r2 + k5 r2^2 + k6 r2^3)
  xd = x radial + 2 p1 x y + p2 (r2 + 2 x^2),   yd = y radial + p1 (r2 + 2 y^2) + 2 p2 x y
Fisheye: theta = atan(r), theta_d = theta (1 + k1 theta^2 + k2 theta^4 + k3 theta^6 + k4 theta^8),
  (xd, yd) = (x, y) theta_d / r.
Thin-prism and tilt coefficients (12/14 values) are handled here only when they are zero; otherwise
OpenCV computes the distortion (with K = I, so the skew is still applied here).

Undistortion: OpenCV's fixed-point iteration for small batches (fewer numpy calls) and fisheye lenses;
for large batches a per-camera fitted inverse gives a start within a fraction of a pixel and Newton
steps on the 2x2 Jacobian of the distortion finish it (quadratic convergence): 3-4 ms per 100k points,
residual < ``TOL_PX`` (OpenCV's 8 iterations take ~10 ms and leave ~3e-4 px at the corners of a 1080p
image with k1 = -0.14). The number of Newton steps is chosen once per camera on a dense check of the
whole disc the fit covers (the image plus a margin); points outside that disc go to OpenCV, and a lens
whose inverse cannot be fitted there (e.g. a distortion that folds over inside the image) gets ``None``
from ``fit_inverse`` (OpenCV then undistorts everything).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from capture3d.errors import CalibrationError

MODELS = {"standard": 5, "rational": 8, "fisheye": 4}
TOL_PX = 1e-4           # largest residual |distort(undistort(p)) - p| allowed on the checked disc, px
MARGIN = 1.2            # the disc reaches this factor times the distance from the principal point to the
                        # farthest image corner (detections slightly outside the image are common)
_MAX_NEWTON = 3         # more steps than this: leave the lens to OpenCV
_CHUNK = 16384          # points per pass (keeps the temporaries in cache)
_GRID = 161             # check/fit grid points per side of the disc's bounding square
_MIN_JACOBIAN_DET = 0.05  # below this the distortion is about to fold over: no inverse there
# A fixed iteration count: OpenCV's EPS test reprojects every point at every iteration (3x slower);
# 8 fixed-point iterations leave < 1e-3 px over a 1080p image with k1 = -0.25.
UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT, 8, 0.0)


# ------------------------------------------------------------------------------------ model names
def model_of(dist: np.ndarray, fisheye: bool) -> str:
    """Lens model name of a distortion vector (4 or 5 -> standard, 8 -> rational)."""
    if fisheye:
        return "fisheye"
    n = np.asarray(dist).size
    if n in (4, 5):
        return "standard"
    if n == 8:
        return "rational"
    raise CalibrationError(f"distortion with {n} coefficients (thin-prism / tilted models) is not supported by the "
                           f"calibration solvers; expected 4, 5 (standard), 8 (rational) or 4 fisheye")


def pad_dist(dist: np.ndarray, model: str) -> np.ndarray:
    """Distortion vector with exactly MODELS[model] values (4 -> 5 with k3 = 0)."""
    d = np.asarray(dist, float).ravel()
    n = MODELS[model]
    out = np.zeros(n)
    out[:min(n, d.size)] = d[:n]
    return out


def lens_coefficients(dist: np.ndarray) -> np.ndarray | None:
    """OpenCV pinhole distortion (4, 5, 8, 12 or 14 values) -> (8,) k1 k2 p1 p2 k3 k4 k5 k6, or None when
    thin-prism or tilt terms are in use (not handled here)."""
    d = np.asarray(dist, float).ravel()
    if d.size > 8 and np.any(d[8:]):
        return None
    k = np.zeros(8)
    k[:min(8, d.size)] = d[:8]
    return k


# ------------------------------------------------------------------------------------ intrinsics
def apply_intrinsics(xy_dist: np.ndarray, K: np.ndarray, offset: bool = True) -> np.ndarray:
    """(..., 2) distorted normalized -> (..., 2) px with K (3, 3), skew K[0, 1] included.

    offset=False applies the linear part only (no principal point): the map of derivative vectors.
    """
    x = xy_dist[..., 0]
    y = xy_dist[..., 1]
    u = K[0, 0] * x
    if K[0, 1]:
        u = u + K[0, 1] * y
    v = K[1, 1] * y
    if offset:
        u = u + K[0, 2]
        v = v + K[1, 2]
    return np.stack([u, v], axis=-1)


def remove_skew_px(xy_px: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(..., 2) px -> (..., 2) px of the same camera with zero skew (what OpenCV's K handling expects).

    Returns the input itself when K has no skew.
    """
    if not K[0, 1]:
        return xy_px
    out = np.array(xy_px, dtype=float)
    out[..., 0] -= K[0, 1] * (out[..., 1] - K[1, 2]) / K[1, 1]
    return out


def remove_intrinsics(xy_px: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(..., 2) px -> (..., 2) distorted normalized coordinates: the inverse of ``apply_intrinsics``."""
    return _remove_focal(remove_skew_px(xy_px, K), K)


def _remove_focal(src_px: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(..., 2) skew-free px -> (..., 2) distorted normalized."""
    return (src_px - K[:2, 2]) / np.diag(K)[:2]


def without_skew(K: np.ndarray) -> np.ndarray:
    """(3, 3) K with K[0, 1] = 0 (for OpenCV calls on pixels that ``remove_skew_px`` made skew-free)."""
    K0 = np.array(K, dtype=float)
    K0[0, 1] = 0.0
    return K0


# ------------------------------------------------------------------------------------ distortion
def distort(x: np.ndarray, y: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pinhole model: undistorted normalized (N,) x, y and k (8,) (``lens_coefficients``) -> distorted xd, yd."""
    xd, yd, *_ = _model(x, y, k, jacobian=False)
    return xd, yd


def distort_fisheye(x: np.ndarray, y: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fisheye (equidistant) model: undistorted normalized (N,) x, y and k (4,) -> distorted xd, yd."""
    r = np.sqrt(x * x + y * y)
    th = np.arctan(r)
    t2 = th * th
    thd = th * (1 + t2 * (k[0] + t2 * (k[1] + t2 * (k[2] + t2 * k[3]))))
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(r > 1e-12, thd / np.where(r > 1e-12, r, 1.0), 1.0)
    return x * s, y * s


def distort_points(xy_norm: np.ndarray, dist: np.ndarray, fisheye: bool = False) -> np.ndarray:
    """(M, 2) undistorted normalized -> (M, 2) distorted normalized with OpenCV coefficients ``dist``
    (fisheye: k1..k4; pinhole: 4, 5, 8, 12 or 14 values, thin prism / tilt through OpenCV)."""
    d = np.asarray(dist, float).ravel()
    x = xy_norm[:, 0]
    y = xy_norm[:, 1]
    if fisheye:
        xd, yd = distort_fisheye(x, y, d[:4])
    else:
        k = lens_coefficients(d)
        if k is None:
            obj = np.ascontiguousarray(np.c_[x, y, np.ones_like(x)].reshape(-1, 1, 3))
            img, _ = cv2.projectPoints(obj, np.zeros(3), np.zeros(3), np.eye(3), d)
            return img.reshape(-1, 2)
        if not k.any():
            return np.array(xy_norm, dtype=float)
        xd, yd = distort(x, y, k)
    return np.stack([xd, yd], axis=1)


def project_cam(xyz_cam: np.ndarray, K: np.ndarray, dist: np.ndarray, fisheye: bool = False) -> np.ndarray:
    """(M, 3) camera-frame points (z > 0) -> (M, 2) px with K (3, 3, skew included) and distortion."""
    xy_norm = xyz_cam[:, :2] / xyz_cam[:, 2:3]
    return apply_intrinsics(distort_points(xy_norm, dist, fisheye), K)


# ------------------------------------------------------------------------------------ undistortion
def undistort_px(xy_px: np.ndarray, K: np.ndarray, dist: np.ndarray, fisheye: bool = False,
                 inverse: InverseDistortion | None = None) -> np.ndarray:
    """Remove K and lens distortion: (N, 2) px -> (N, 2) undistorted normalized (x/z, y/z).

    inverse: this lens's fitted inverse (``fit_inverse``) to use (worth it for thousands of points), or
    None for OpenCV's iteration. A point with a NaN coordinate comes out all NaN.
    """
    pts = np.asarray(xy_px, dtype=float)
    src = remove_skew_px(pts, K)
    d = np.asarray(dist, float).ravel()
    if fisheye:
        out = cv2.fisheye.undistortPoints(np.ascontiguousarray(src.reshape(-1, 1, 2)), without_skew(K), d[:4],
                                          criteria=UNDISTORT_CRITERIA).reshape(-1, 2)
    elif not d.any():
        out = _remove_focal(src, K)
    elif inverse is not None:
        out = _undistort_newton(src, K, d, inverse)
    else:
        out = _undistort_opencv(src, K, d)
    out[np.isnan(pts).any(axis=-1)] = np.nan  # fisheye and pinhole can return half a point
    return out


def _undistort_opencv(src_px: np.ndarray, K: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """(M, 2) skew-free px -> (M, 2) normalized by OpenCV's fixed-point iteration (pinhole models)."""
    src = np.ascontiguousarray(src_px.reshape(-1, 1, 2))
    return cv2.undistortPointsIter(src, without_skew(K), dist, None, None, UNDISTORT_CRITERIA).reshape(-1, 2)


def _undistort_newton(src_px: np.ndarray, K: np.ndarray, dist: np.ndarray,
                      inverse: InverseDistortion) -> np.ndarray:
    """(M, 2) skew-free px -> (M, 2) normalized by the fitted inverse; OpenCV for points outside its disc."""
    xd = (src_px[:, 0] - K[0, 2]) / K[0, 0]
    yd = (src_px[:, 1] - K[1, 2]) / K[1, 1]
    x, y, inside = inverse(xd, yd)
    out = np.stack([x, y], axis=1)
    finite = np.isfinite(xd) & np.isfinite(yd)
    out[~finite] = np.nan
    outside = np.flatnonzero(~inside & finite)
    if outside.size:
        out[outside] = _undistort_opencv(src_px[outside], K, dist)
    return out


# ------------------------------------------------------------------------------------ fitted inverse
@dataclass(frozen=True)
class InverseDistortion:
    """Undistortion of one lens: fitted start + ``newton_steps`` Newton steps, valid for r2 <= r2_max.

    k: (8,) k1 k2 p1 p2 k3 k4 k5 k6. start: (8,) coefficients of the fitted start (see _start_basis).
    r2_max: squared distorted normalized radius of the checked disc. max_residual_px: worst residual
    found on the check grid (px, at the larger focal length).
    """

    k: np.ndarray
    start: np.ndarray
    r2_max: float
    newton_steps: int
    max_residual_px: float

    def __call__(self, xd: np.ndarray, yd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """xd, yd: (N,) distorted normalized coordinates -> x, y (N,) undistorted and inside (N,) bool.

        Points outside the checked disc (or NaN) come back with inside False and values to be ignored.
        """
        n = xd.shape[0]
        x = np.empty(n)
        y = np.empty(n)
        with np.errstate(invalid="ignore", over="ignore"):  # NaN / inf / far-out points: inside is False
            for s in range(0, n, _CHUNK):
                sl = slice(s, min(n, s + _CHUNK))
                x[sl], y[sl] = _solve(xd[sl], yd[sl], self.k, self.start, self.newton_steps)
            inside = xd * xd + yd * yd <= self.r2_max
        return x, y, inside


def fit_inverse(dist: np.ndarray, size_wh: tuple[int, int], K: np.ndarray) -> InverseDistortion | None:
    """Fit and check the inverse of a lens for an image of ``size_wh`` px with intrinsics K (3, 3).

    The disc reaches MARGIN times the farthest image corner, or just that corner when the lens has no
    well-behaved inverse that far out. Returns None when the model is not handled (thin prism, tilt) or
    when even on the image's own disc no start + at most _MAX_NEWTON steps reaches TOL_PX (then OpenCV's
    iteration is the better tool).
    """
    k = lens_coefficients(dist)
    if k is None:
        return None
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    w, h = size_wh
    corners = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [-0.5, h - 0.5], [w - 0.5, h - 0.5]])
    r_corner = float(np.hypot((corners[:, 0] - cx) / fx, (corners[:, 1] - cy) / fy).max())
    for margin in (MARGIN, 1.0):
        inv = _fit_on_disc(k, margin * r_corner, max(fx, fy))
        if inv is not None:
            return inv
    return None


def _fit_on_disc(k: np.ndarray, r_max: float, f_px: float) -> InverseDistortion | None:
    """The fitted inverse on the disc of distorted normalized radius r_max, or None (see fit_inverse)."""
    g = np.linspace(-r_max, r_max, _GRID)
    gx, gy = np.meshgrid(g, g)
    disc = gx * gx + gy * gy <= r_max * r_max
    xd, yd = gx[disc], gy[disc]
    # accurate inverse on the grid from the series start and many Newton steps
    with np.errstate(all="ignore"):  # a diverging Newton (no inverse here) is caught just below
        x, y = _newton(*_series_start(xd, yd, k), xd, yd, k, 8)
        _, _, J11, J12, J22 = _model(x, y, k, jacobian=True)
        folded = ~(J11 * J22 - J12 * J12 > _MIN_JACOBIAN_DET)
    if folded.any() or not _residual_px(x, y, xd, yd, k, f_px).max() < TOL_PX * 1e-2:
        return None  # no inverse on this disc: the distortion folds over (or nearly), or Newton diverges
    Bx, By = _start_basis(xd, yd)
    start, *_ = np.linalg.lstsq(np.vstack([Bx, By]), np.concatenate([x - xd, y - yd]), rcond=None)
    # check on points between the fit's grid points
    half = (g[1] - g[0]) / 2
    cx, cy = xd + half, yd + half
    keep = cx * cx + cy * cy <= r_max * r_max
    cx, cy = cx[keep], cy[keep]
    for steps in range(1, _MAX_NEWTON + 1):
        x, y = _solve(cx, cy, k, start, steps)
        worst = float(np.max(_residual_px(x, y, cx, cy, k, f_px)))
        if worst < TOL_PX:
            return InverseDistortion(k, start, r_max * r_max, steps, worst)
    return None


def _residual_px(x, y, xd, yd, k, f_px):
    ex, ey = distort(x, y, k)
    return np.hypot(ex - xd, ey - yd) * f_px


def _model(x, y, k, jacobian: bool):
    """Distorted coordinates and (optionally) the symmetric Jacobian entries J11, J12, J22."""
    k1, k2, p1, p2, k3, k4, k5, k6 = k
    x2 = x * x
    y2 = y * y
    xy = x * y
    r2 = x2 + y2
    rad = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    rational = bool(k4 or k5 or k6)
    if rational:
        den = 1 + r2 * (k4 + r2 * (k5 + r2 * k6))
        rad /= den
    xd = x * rad + 2 * p1 * xy + p2 * (r2 + 2 * x2)
    yd = y * rad + p1 * (r2 + 2 * y2) + 2 * p2 * xy
    if not jacobian:
        return xd, yd, None, None, None
    drad2 = 2 * k1 + r2 * (4 * k2 + r2 * (6 * k3))  # 2 d(numerator)/d(r2)
    if rational:
        drad2 -= rad * (2 * k4 + r2 * (4 * k5 + r2 * (6 * k6)))
        drad2 /= den
    J11 = rad + x2 * drad2 + 2 * p1 * y + 6 * p2 * x
    J12 = xy * drad2 + 2 * p1 * x + 2 * p2 * y
    J22 = rad + y2 * drad2 + 6 * p1 * y + 2 * p2 * x
    return xd, yd, J11, J12, J22


def _newton(x, y, xd, yd, k, steps: int):
    """Newton steps on distort(x, y) = (xd, yd)."""
    for _ in range(steps):
        fx, fy, J11, J12, J22 = _model(x, y, k, jacobian=True)
        fx -= xd
        fy -= yd
        inv_det = 1.0 / (J11 * J22 - J12 * J12)
        x = x - (J22 * fx - J12 * fy) * inv_det
        y = y - (J11 * fy - J12 * fx) * inv_det
    return x, y


def _series_start(xd, yd, k):
    """A start for the fit's reference solve: tangential terms removed at the distorted point, then the
    series inverse of the radial polynomial to r^6 (rational terms ignored)."""
    k1, k2, p1, p2, k3 = k[:5]
    xy2 = 2 * xd * yd
    r2 = xd * xd + yd * yd
    x = xd - (p1 * xy2 + p2 * (r2 + 2 * xd * xd))
    y = yd - (p1 * (r2 + 2 * yd * yd) + p2 * xy2)
    r2 = x * x + y * y
    s = 1 + r2 * (-k1 + r2 * ((3 * k1 * k1 - k2) + r2 * (-12 * k1 ** 3 + 8 * k1 * k2 - k3)))
    return x * s, y * s


def _start_basis(xd, yd):
    """(M,) distorted points -> Bx, By (M, 8): the fields whose combination approximates undistorted minus
    distorted: radial d r^2i (i = 1..4) and the two tangential fields times 1 and r^2."""
    xx = xd * xd
    yy = yd * yd
    xy2 = 2 * xd * yd
    s = xx + yy
    bx = [xd * s, xd * s ** 2, xd * s ** 3, xd * s ** 4, xy2, xy2 * s, s + 2 * xx, (s + 2 * xx) * s]
    by = [yd * s, yd * s ** 2, yd * s ** 3, yd * s ** 4, s + 2 * yy, (s + 2 * yy) * s, xy2, xy2 * s]
    return np.stack(bx, axis=1), np.stack(by, axis=1)


def _start(xd, yd, c):
    """Evaluate the fitted start: distorted (N,) -> undistorted estimate (N,) each."""
    xx = xd * xd
    yy = yd * yd
    xy2 = 2 * xd * yd
    s = xx + yy
    radial = s * (c[0] + s * (c[1] + s * (c[2] + s * c[3])))
    t1 = c[4] + c[5] * s
    t2 = c[6] + c[7] * s
    x = xd * radial
    x += xd
    x += xy2 * t1
    x += (s + 2 * xx) * t2
    y = yd * radial
    y += yd
    y += (s + 2 * yy) * t1
    y += xy2 * t2
    return x, y


def _solve(xd, yd, k, start, steps):
    return _newton(*_start(xd, yd, start), xd, yd, k, steps)
