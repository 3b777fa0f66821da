"""The one lens model (OpenCV conventions, pure numpy): distortion, projection to pixels with the skew, the
removal of the intrinsics, and a fast inverse of the pinhole distortion for large batches.

Every path that maps between camera-frame points and pixels goes through here: ``Camera.project`` and
``Camera.undistort``, the triangulation's undistortion (``Rig.undistort``), calibration and bundle
adjustment (``capture3d.calib``). OpenCV is used only for what the numpy model does not cover (thin-prism
and tilt coefficients) and as the iteration for small batches of undistortion.

Lens models (``model`` names used by calib/):

- "standard": 5 coefficients k1, k2, p1, p2, k3 (OpenCV's default; 4 values are accepted, k3 = 0).
- "rational": 8 coefficients k1, k2, p1, p2, k3, k4, k5, k6 (CALIB_RATIONAL_MODEL).
- "fisheye": 4 coefficients k1..k4 of OpenCV's equidistant fisheye model.

Pinhole model on normalized coordinates (x/z, y/z):
  r2 = x^2 + y^2, radial = (1 + k1 r2 + k2 r2^2 + k3 r2^3) / (1 + k4 r2 + k5 r2^2 + k6 r2^3)
  xd = x radial + 2 p1 x y + p2 (r2 + 2 x^2),   yd = y radial + p1 (r2 + 2 y^2) + 2 p2 x y
Fisheye: theta = atan(r), theta_d = theta (1 + k1 theta^2 + k2 theta^4 + k3 theta^6 + k4 theta^8),
  (xd, yd) = (x, y) theta_d / r.
Pixels (both): u = fx xd + skew yd + cx, v = fy yd + cy with K = [[fx, skew, cx], [0, fy, cy], [0, 0, 1]].

The fast inverse: OpenCV's ``undistortPoints`` runs a fixed-point iteration per point (about 10 ms per 100k
points for 8 iterations, ~3e-4 px left at the corners of a 1080p image with k1 = -0.14). Here a per-camera
fitted inverse gives a start within a fraction of a pixel and Newton steps on the 2x2 Jacobian finish it:
3-4 ms per 100k points, residual < ``TOL_PX``. The number of Newton steps is chosen once per camera on a
dense check of the disc the fit covers (the image plus a margin); points outside that disc are reported so
the caller can use OpenCV for them, and a lens whose inverse cannot be fitted there (e.g. a distortion that
folds over inside the image) gets ``None`` from ``fit_inverse``.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

TOL_PX = 1e-4           # largest residual |distort(undistort(p)) - p| allowed on the checked disc, px
MARGIN = 1.2            # the disc reaches this factor times the distance from the principal point to the
                        # farthest image corner (detections slightly outside the image are common)
_MAX_NEWTON = 3         # more steps than this: leave the lens to OpenCV
_CHUNK = 16384          # points per pass (keeps the temporaries in cache)
_GRID = 161             # check/fit grid points per side of the disc's bounding square
_MIN_JACOBIAN_DET = 0.05  # below this the distortion is about to fold over: no inverse there
_SMALL_BATCH = 512      # projections of fewer points use OpenCV's C implementation of the same model
_ZERO3 = np.zeros(3)


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


def lens_coefficients(dist: np.ndarray) -> np.ndarray | None:
    """OpenCV distortion (4, 5, 8, 12 or 14 values) -> (8,) k1 k2 p1 p2 k3 k4 k5 k6, or None when
    thin-prism or tilt terms are in use (not handled here)."""
    d = np.asarray(dist, float).ravel()
    if d.size > 8 and np.any(d[8:]):
        return None
    k = np.zeros(8)
    k[:min(8, d.size)] = d[:8]
    return k


def _floats(k) -> tuple[float, ...]:
    """(8,) coefficients as Python floats: arithmetic of small arrays with Python floats is several times
    cheaper than with numpy scalars (the live path projects 25 points at a time)."""
    return tuple(float(v) for v in k)


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


def distort(x: np.ndarray, y: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Undistorted normalized (N,) x, y -> distorted normalized xd, yd: the pinhole model of the module
    docstring with k = (8,) k1 k2 p1 p2 k3 k4 k5 k6 (``lens_coefficients``)."""
    xd, yd, *_ = _model(x, y, k, jacobian=False)
    return xd, yd


def _residual_px(x, y, xd, yd, k, f_px):
    ex, ey = distort(x, y, k)
    return np.hypot(ex - xd, ey - yd) * f_px


def _model(x, y, k, jacobian: bool):
    """Distorted coordinates and (optionally) the symmetric Jacobian entries J11, J12, J22."""
    k1, k2, p1, p2, k3, k4, k5, k6 = _floats(k) if isinstance(k, np.ndarray) else k
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


# ------------------------------------------------------------------------------ model names
MODELS = {"standard": 5, "rational": 8, "fisheye": 4}


def model_of(dist: np.ndarray, fisheye: bool) -> str:
    """Lens model name of a distortion vector (4 or 5 -> standard, 8 -> rational); ValueError for the
    thin-prism / tilted models (12 or 14 values), which only OpenCV handles."""
    if fisheye:
        return "fisheye"
    n = np.asarray(dist).size
    if n in (4, 5):
        return "standard"
    if n == 8:
        return "rational"
    raise ValueError(f"distortion with {n} coefficients (thin-prism / tilted models) is not supported by the "
                     f"numpy lens model; expected 4, 5 (standard), 8 (rational) or 4 fisheye")


def pad_dist(dist: np.ndarray, model: str) -> np.ndarray:
    """Distortion vector with exactly MODELS[model] values (4 -> 5 with k3 = 0)."""
    d = np.asarray(dist, float).ravel()
    n = MODELS[model]
    out = np.zeros(n)
    out[:min(n, d.size)] = d[:n]
    return out


def supports(dist: np.ndarray, fisheye: bool) -> bool:
    """Whether the numpy model covers this lens (everything but non-zero thin-prism / tilt terms)."""
    return fisheye or lens_coefficients(dist) is not None


# ------------------------------------------------------------------------------ forward model
@dataclass(frozen=True)
class Lens:
    """One camera's distortion, ready to apply: ``Lens.of(dist, fisheye)``; ``distort(xy_norm)``.

    coefficients: the (n,) OpenCV vector; k: the pinhole model's 8 coefficients as Python floats (None for
    fisheye). Made once per camera (the live path projects 25 points at a time, where the set-up would cost
    as much as the arithmetic).
    """

    coefficients: tuple[float, ...]
    fisheye: bool
    k: tuple[float, ...] | None

    @classmethod
    def of(cls, dist: np.ndarray, fisheye: bool = False) -> "Lens":
        """ValueError for thin-prism / tilt terms (only OpenCV handles them: see ``supports``)."""
        d = np.asarray(dist, float).ravel()
        if fisheye:
            if d.size < 4:
                raise ValueError(f"a fisheye lens needs 4 coefficients k1..k4, found {d.size}")
            return cls(tuple(float(v) for v in d[:4]), True, None)
        k = lens_coefficients(d)
        if k is None:
            model_of(d, False)  # raises
        return cls(tuple(float(v) for v in d), False, _floats(k))

    def distort(self, xy_norm: np.ndarray) -> np.ndarray:
        """(M, 2) undistorted normalized coordinates -> (M, 2) distorted normalized."""
        x = xy_norm[:, 0]
        y = xy_norm[:, 1]
        r2 = x * x + y * y
        if self.fisheye:
            k1, k2, k3, k4 = self.coefficients
            r = np.sqrt(r2)
            th = np.arctan(r)
            t2 = th * th
            thd = th * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))
            with np.errstate(invalid="ignore", divide="ignore"):
                s = np.where(r > 1e-12, thd / np.where(r > 1e-12, r, 1.0), 1.0)
            return xy_norm * s[:, None]
        k1, k2, p1, p2, k3, k4, k5, k6 = self.k
        rad = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        if k4 or k5 or k6:
            rad /= 1 + r2 * (k4 + r2 * (k5 + r2 * k6))
        out = xy_norm * rad[:, None]
        if p1 or p2:
            xy2 = 2 * x * y
            out[:, 0] += p1 * xy2 + p2 * (r2 + 2 * x * x)
            out[:, 1] += p1 * (r2 + 2 * y * y) + p2 * xy2
        return out

    def project_cam(self, xyz_cam: np.ndarray, K: np.ndarray) -> np.ndarray:
        """(M, 3) camera-frame points (z > 0) -> (M, 2) px with K (3, 3), its skew included.

        Batches under _SMALL_BATCH points are evaluated by OpenCV's projectPoints (the same model, in C: a
        live frame set's 25 joints cost 8 us there against 25 us of numpy calls), the skew then added by
        ``add_skew``; larger ones by ``distort`` (numpy is faster there)."""
        if xyz_cam.shape[0] >= _SMALL_BATCH:
            return to_pixels(self.distort(xyz_cam[:, :2] / xyz_cam[:, 2:3]), K)
        K0 = K if not K[0, 1] else np.array([[K[0, 0], 0.0, K[0, 2]], [0.0, K[1, 1], K[1, 2]], [0.0, 0.0, 1.0]])
        obj = np.ascontiguousarray(xyz_cam, dtype=float).reshape(-1, 1, 3)
        if self.fisheye:
            img, _ = cv2.fisheye.projectPoints(obj, _ZERO3, _ZERO3, K0, np.array(self.coefficients))
        else:
            img, _ = cv2.projectPoints(obj, _ZERO3, _ZERO3, K0, np.array(self.coefficients))
        return add_skew(img.reshape(-1, 2), K)


def distort_many(x: np.ndarray, y: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Several pinhole cameras at once: undistorted normalized x, y (V, M) with coefficients k (V, 8)
    (``lens_coefficients`` of each camera) -> distorted xd, yd (V, M). The model of ``distort``."""
    k1, k2, p1, p2, k3, k4, k5, k6 = (k[:, i:i + 1] for i in range(8))
    x2, y2, xy = x * x, y * y, x * y
    r2 = x2 + y2
    rad = (1 + r2 * (k1 + r2 * (k2 + r2 * k3))) / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
    return x * rad + 2 * p1 * xy + p2 * (r2 + 2 * x2), y * rad + p1 * (r2 + 2 * y2) + 2 * p2 * xy


def to_pixels(xy_distorted: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(M, 2) distorted normalized -> (M, 2) px with K (3, 3): u = fx xd + skew yd + cx, v = fy yd + cy."""
    return xy_distorted @ K[:2, :2].T + K[:2, 2]


def from_pixels(xy_px: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(..., 2) px -> (..., 2) distorted normalized coordinates: K (3, 3), its skew included, taken out."""
    yd = (xy_px[..., 1] - K[1, 2]) / K[1, 1]
    u = xy_px[..., 0] - K[0, 2]
    if K[0, 1]:  # no 0 * inf (a warning, and NaN for an infinite point) without skew
        u = u - K[0, 1] * yd
    xd = u / K[0, 0]
    return np.stack([xd, yd], axis=-1)


def project_cam(xyz_cam: np.ndarray, K: np.ndarray, dist: np.ndarray, fisheye: bool = False) -> np.ndarray:
    """(M, 3) camera-frame points -> (M, 2) px through the lens (K (3, 3) with skew, distortion)."""
    return Lens.of(dist, fisheye).project_cam(xyz_cam, K)


def add_skew(xy_px_no_skew: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Inverse of ``drop_skew``: px of OpenCV's skew-less model -> px with K's skew (u += skew yd)."""
    if not K[0, 1]:
        return xy_px_no_skew
    out = np.array(xy_px_no_skew, dtype=float)
    out[..., 0] += K[0, 1] * (out[..., 1] - K[1, 2]) / K[1, 1]
    return out


def drop_skew(xy_px: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(..., 2) px -> the px OpenCV's skew-less model would see for the same point (for OpenCV's
    undistortion): u' = u - skew yd, where yd = (v - cy) / fy."""
    if not K[0, 1]:
        return xy_px
    out = np.array(xy_px, dtype=float)
    out[..., 0] -= K[0, 1] * (out[..., 1] - K[1, 2]) / K[1, 1]
    return out
