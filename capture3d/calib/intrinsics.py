"""Intrinsic calibration of one camera from board views.

Steps: choose a well-spread subset of views (image position, board size and tilt) when there are
many (long videos); solve with OpenCV (standard 5-coefficient, rational 8-coefficient or fisheye
model); reject bad views iteratively (per-view RMS far above the median); for the standard model choose
the distortion terms by held-out views (k3 stays 0 with few views, see lens_terms); report the standard
deviation of every intrinsic and warn when one is poorly determined; check image coverage and warn when
the image corners hold no board corners (distortion is then extrapolated there).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

from capture3d.geometry.camera import Camera
from capture3d.errors import CalibrationError
from capture3d.calib.boards import Board
from capture3d.calib.detect import ViewDetection
from capture3d.calib.lens_terms import TERMS, choose_terms, default_terms, std_by_name, uncertainty_warnings
from capture3d.geometry.lens import MODELS, project_cam
from capture3d.geometry.rotations import rodrigues

log = logging.getLogger(__name__)

MIN_VIEWS = 4
#: Views kept for the solve when more are available (calibrateCamera stays well under a second).
DEFAULT_MAX_VIEWS = 80
COVERAGE_GRID = (8, 6)
CORNER_REGION_FRAC = 0.2


@dataclass
class IntrinsicsResult:
    """Result of ``calibrate_intrinsics``.

    camera: calibrated Camera (identity pose). rms_px: RMS reprojection error over the used views.
    view_rms_px: {label: RMS px} for every used view. used / rejected: view labels (rejected with the
    reason). coverage: fraction of the COVERAGE_GRID cells holding at least one corner.
    empty_corners: image corners (e.g. 'top-left') without any board corner. warnings: human-readable.
    std: standard deviation of each solved intrinsic ({"fx", "fy", "cx", "cy": px, "k1", ...: unitless};
    empty for fisheye). terms: distortion terms solved ("k1", "k1k2", "k1k2p1p2", "k1k2p1p2k3"; the model name
    for rational / fisheye). held_out_rms_px: {term set: held-out-view RMS px} when the terms were chosen.
    """

    camera: Camera
    rms_px: float
    view_rms_px: dict[str, float]
    used: list[str]
    rejected: dict[str, str] = field(default_factory=dict)
    coverage: float = 0.0
    empty_corners: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    std: dict[str, float] = field(default_factory=dict)
    terms: str = ""
    held_out_rms_px: dict[str, float] = field(default_factory=dict)


def _rough_tilt(view: ViewDetection, board: Board, size_wh: tuple[int, int]) -> np.ndarray:
    """(2,) x, y components of the board normal in a rough pinhole camera (f = image width)."""
    w, h = size_wh
    K = np.array([[w, 0, w / 2], [0, w, h / 2], [0, 0, 1.0]])
    obj = board.corners_board[view.corner_ids, :2]
    H, _ = cv2.findHomography(obj, view.xy_px)
    if H is None:
        return np.zeros(2)
    M = np.linalg.inv(K) @ H
    r1 = M[:, 0] / np.linalg.norm(M[:, 0])
    r2 = M[:, 1] / np.linalg.norm(M[:, 1])
    n = np.cross(r1, r2)
    n /= np.linalg.norm(n)
    return n[:2] * np.sign(n[2] if n[2] != 0 else 1.0)


def view_features(views: list[ViewDetection], board: Board, size_wh: tuple[int, int]) -> np.ndarray:
    """(n, 5) features used to spread the selection: centre x, y, log area, tilt x, tilt y (scaled)."""
    w, h = size_wh
    feats = []
    for v in views:
        c = v.xy_px.mean(axis=0)
        hull = cv2.convexHull(v.xy_px.astype(np.float32))
        area = max(cv2.contourArea(hull), 1.0) / (w * h)
        tilt = _rough_tilt(v, board, size_wh)
        feats.append([c[0] / w, c[1] / h, 0.25 * np.log(area), 0.8 * tilt[0], 0.8 * tilt[1]])
    return np.asarray(feats)


def select_views(views: list[ViewDetection], board: Board, size_wh: tuple[int, int],
                 max_views: int = DEFAULT_MAX_VIEWS) -> list[ViewDetection]:
    """A well-spread subset of at most ``max_views`` views (farthest-point sampling of view features).

    Starts from the view covering the largest image area, then repeatedly adds the view farthest (in
    position, size and tilt) from those chosen, which favours image corners and strong tilts.
    """
    if len(views) <= max_views:
        return list(views)
    f = view_features(views, board, size_wh)
    chosen = [int(np.argmax(f[:, 2]))]
    d = np.linalg.norm(f - f[chosen[0]], axis=1)
    while len(chosen) < max_views:
        i = int(np.argmax(d))
        chosen.append(i)
        d = np.minimum(d, np.linalg.norm(f - f[i], axis=1))
    return [views[i] for i in sorted(chosen)]


def coverage(views: list[ViewDetection], size_wh: tuple[int, int]) -> tuple[float, list[str]]:
    """(fraction of grid cells with a corner, names of image corners with no board corner)."""
    w, h = size_wh
    gx, gy = COVERAGE_GRID
    xy = np.concatenate([v.xy_px for v in views]) if views else np.zeros((0, 2))
    cells = np.zeros((gy, gx), bool)
    ix = np.clip((xy[:, 0] / w * gx).astype(int), 0, gx - 1)
    iy = np.clip((xy[:, 1] / h * gy).astype(int), 0, gy - 1)
    cells[iy, ix] = True
    fx, fy = xy[:, 0] / w, xy[:, 1] / h
    r = CORNER_REGION_FRAC
    regions = {"top-left": (fx < r) & (fy < r), "top-right": (fx > 1 - r) & (fy < r),
               "bottom-left": (fx < r) & (fy > 1 - r), "bottom-right": (fx > 1 - r) & (fy > 1 - r)}
    empty = [name for name, m in regions.items() if not m.any()]
    return float(cells.mean()), empty


def _solve(views: list[ViewDetection], board: Board, size_wh, model: str, K0: np.ndarray | None,
           terms: str = "k1k2p1p2k3"):
    """(K, dist, per-view RMS px (n,), RMS px, std (18, 1) or None for fisheye).

    terms: a key of lens_terms.TERMS for the standard model (ignored by the rational and fisheye models)."""
    obj = [board.corners_board[v.corner_ids].astype(np.float32 if model != "fisheye" else np.float64).reshape(-1, 1, 3)
           for v in views]
    img = [v.xy_px.astype(np.float32 if model != "fisheye" else np.float64).reshape(-1, 1, 2) for v in views]
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 1000, 1e-14)
    if model == "fisheye":
        flags = cv2.fisheye.CALIB_RECOMPUTE_EXTRINSIC | cv2.fisheye.CALIB_FIX_SKEW
        K = K0.copy() if K0 is not None else None
        if K is not None:
            flags |= cv2.fisheye.CALIB_USE_INTRINSIC_GUESS
        _, K, D, rvecs, tvecs = cv2.fisheye.calibrate(obj, img, tuple(size_wh), K, np.zeros(4), flags=flags,
                                                      criteria=crit)
        dist = D.ravel()
        std = None
    else:
        flags = cv2.CALIB_RATIONAL_MODEL if model == "rational" else TERMS[terms]
        K = None
        if K0 is not None:
            K = K0.copy()
            flags |= cv2.CALIB_USE_INTRINSIC_GUESS
        _, K, dist, rvecs, tvecs, std, _, _ = cv2.calibrateCameraExtended(obj, img, tuple(size_wh), K, None,
                                                                          flags=flags, criteria=crit)
        dist = dist.ravel()[:MODELS[model]]
    errs = []
    for o, i, rv, tv in zip(obj, img, rvecs, tvecs):  # the views' residuals through the one lens model
        xyz_cam = o.reshape(-1, 3).astype(float) @ rodrigues(np.ravel(rv)).T + np.ravel(tv)
        p = project_cam(xyz_cam, K, dist, model == "fisheye")
        errs.append(float(np.sqrt(np.mean(np.sum((p.reshape(-1, 2) - i.reshape(-1, 2)) ** 2, axis=1)))))
    n = np.array([len(o) for o in obj])
    rms = float(np.sqrt(np.sum(np.square(errs) * n) / n.sum()))
    return K, dist, np.asarray(errs), rms, std


def _check_result(name: str, K: np.ndarray, dist: np.ndarray, rms: float, size_wh) -> None:
    w, h = size_wh
    if not (np.all(np.isfinite(K)) and np.all(np.isfinite(dist)) and np.isfinite(rms)):
        raise CalibrationError(f"camera {name}: intrinsic calibration diverged (non-finite values: K={K.tolist()}, "
                               f"dist={dist.tolist()}); check the board definition and use more, varied views")
    f = 0.5 * (K[0, 0] + K[1, 1])
    if not 0.05 * max(w, h) < f < 20 * max(w, h):
        raise CalibrationError(f"camera {name}: implausible focal length {f:.1f} px for a {w}x{h} image "
                               f"(expected {0.05 * max(w, h):.0f}-{20 * max(w, h):.0f}); the views do not constrain "
                               f"the camera: tilt the board more and cover the whole image")
    if not (-0.25 * w < K[0, 2] < 1.25 * w and -0.25 * h < K[1, 2] < 1.25 * h):
        raise CalibrationError(f"camera {name}: principal point ({K[0, 2]:.1f}, {K[1, 2]:.1f}) is far outside the "
                               f"{w}x{h} image; use more views covering the whole image")


def calibrate_intrinsics(views: list[ViewDetection], board: Board, size_wh: tuple[int, int], name: str = "camera",
                         model: str = "standard", max_views: int = DEFAULT_MAX_VIEWS, reject_factor: float = 3.0,
                         reject_min_px: float = 1.0, max_rms_px: float = 2.0, terms: str = "auto") -> IntrinsicsResult:
    """Calibrate K and distortion of one camera.

    views: board detections (see detect.detect_camera). model: "standard", "rational" or "fisheye".
    Views whose RMS exceeds max(reject_factor x median, reject_min_px) are dropped and the solve is
    repeated (up to 5 rounds, at most 10% of the views per round). terms (standard model): "auto" chooses
    k1k2 / k1k2p1p2 / k1k2p1p2k3 by held-out views (below lens_terms.FEW_VIEWS views k1 / k1k2 / k1k2p1p2:
    k3 stays 0), or one of those names (lens_terms.TERMS). Raises CalibrationError on too few views or a degenerate result; adds a warning when the
    RMS exceeds max_rms_px, coverage is poor, or a value is poorly determined (see lens_terms).
    """
    if model not in MODELS:
        raise CalibrationError(f"unknown camera model {model!r}; expected one of {list(MODELS)}")
    if terms != "auto" and terms not in TERMS:
        raise CalibrationError(f"unknown distortion terms {terms!r}; expected 'auto' or one of {list(TERMS)}")
    if max_views < MIN_VIEWS:
        raise CalibrationError(f"camera {name}: max_views must be at least {MIN_VIEWS} (the fewest views that "
                               f"constrain a lens), found {max_views}")
    min_pts = 6 if board.kind == "charuco" else board.n_corners
    usable = [v for v in views if len(v.corner_ids) >= min_pts]
    if len(usable) < MIN_VIEWS:
        raise CalibrationError(f"camera {name}: {len(usable)} usable board view(s), need at least {MIN_VIEWS} "
                               f"(better 15-40, spread over the whole image with tilts up to 45 degrees)")
    chosen = select_views(usable, board, size_wh, max_views)
    log.info("camera %s: using %d of %d views", name, len(chosen), len(usable))
    used_terms = (terms if terms != "auto" else default_terms(len(chosen))) if model == "standard" else model
    chosen, rejected = _reject(chosen, board, size_wh, model, used_terms, name, reject_factor, reject_min_px)
    held_out: dict[str, float] = {}
    if model == "standard" and terms == "auto":
        used_terms, held_out = choose_terms(chosen, board, size_wh,
                                            lambda vs, n: select_views(vs, board, size_wh, n))
        log.info("camera %s: distortion terms %s (held-out RMS px %s)", name, used_terms,
                 {k: round(v, 4) for k, v in held_out.items()})
    K, dist, errs, rms, std = _solve(chosen, board, size_wh, model, None, used_terms)
    _check_result(name, K, dist, rms, size_wh)
    std_named = {} if std is None else std_by_name(std, used_terms)
    cam = Camera(name, size_wh, K, dist, fisheye=(model == "fisheye"))
    cov, empty = coverage(chosen, size_wh)
    warnings = uncertainty_warnings(name, std_named, K, dist, check_coeffs=(model == "standard"))
    if empty:
        warnings.append(f"camera {name}: no board corners near the {', '.join(empty)} image corner(s): lens "
                        f"distortion there is extrapolated; add views with the board in those corners")
    if cov < 0.5:
        warnings.append(f"camera {name}: board corners cover only {100 * cov:.0f}% of the image; move the board "
                        f"over the whole image")
    if rms > max_rms_px:
        warnings.append(f"camera {name}: RMS reprojection error {rms:.2f} px is high (expected < {max_rms_px} px): "
                        f"check for motion blur, a bent board or a wrong square size")
    for wmsg in warnings:
        log.info(wmsg)
    return IntrinsicsResult(cam, rms, {v.label: float(e) for v, e in zip(chosen, errs)},
                            [v.label for v in chosen], rejected, cov, empty, warnings, std_named, used_terms, held_out)


def _reject(chosen, board, size_wh, model, terms, name, reject_factor, reject_min_px):
    """Iteratively drop views far above the median RMS. Returns (kept views, {label: reason})."""
    rejected: dict[str, str] = {}
    for _round in range(6):
        K, dist, errs, rms, _ = _solve(chosen, board, size_wh, model, None, terms)
        _check_result(name, K, dist, rms, size_wh)
        thresh = max(reject_factor * float(np.median(errs)), reject_min_px)
        bad = np.flatnonzero(errs > thresh)
        if bad.size == 0 or _round == 5 or len(chosen) - bad.size < MIN_VIEWS:
            break
        bad = bad[np.argsort(-errs[bad])][:max(1, len(chosen) // 10)]
        for i in bad:
            rejected[chosen[i].label] = f"RMS {errs[i]:.2f} px > {thresh:.2f} px"
        keep = np.setdiff1d(np.arange(len(chosen)), bad)
        chosen = [chosen[i] for i in keep]
    return chosen, rejected
