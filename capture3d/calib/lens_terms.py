"""Which distortion terms a standard-model calibration solves for, and how well its views determine them.

``choose_terms`` picks k1 k2 / k1 k2 p1 p2 / k1 k2 p1 p2 k3 by the reprojection error of held-out views
(k-fold over the views: calibrate on the others, fit only the held-out board's pose, measure its corners).
With few views (< FEW_VIEWS) the candidates are k1 / k1 k2 / k1 k2 p1 p2: k3 is never freed (it trades
against k1, k2 and the focal length and comes out huge, |k3| >> 1, while fitting the views no better).
A term set whose fit on all views has a coefficient above MAX_ABS_COEFF in magnitude is implausible for
the standard model and is only chosen when every candidate is.

``std_by_name`` names OpenCV's standard deviations (cv2.calibrateCameraExtended) and ``uncertainty_warnings``
says in plain words which value is poorly determined and which views would fix it.
"""
from __future__ import annotations

import cv2
import numpy as np

#: below this many views k3 stays fixed at 0
FEW_VIEWS = 10
#: warn when the principal point's standard deviation exceeds this (px)
PRINCIPAL_STD_WARN_PX = 10.0
#: warn when the focal length's standard deviation exceeds this fraction of the focal length
FOCAL_STD_WARN_FRAC = 0.01
#: a distortion coefficient above this magnitude is implausible for the standard model
MAX_ABS_COEFF = 1.0
#: a term is only added when it lowers the held-out error by more than this fraction
GAIN_FRAC = 0.01
SELECT_MAX_VIEWS = 40
FOLDS = 4

TERMS = {"k1": cv2.CALIB_FIX_K2 | cv2.CALIB_FIX_K3 | cv2.CALIB_ZERO_TANGENT_DIST,
         "k1k2": cv2.CALIB_FIX_K3 | cv2.CALIB_ZERO_TANGENT_DIST,
         "k1k2p1p2": cv2.CALIB_FIX_K3,
         "k1k2p1p2k3": 0}
#: OpenCV's order of calibrateCameraExtended's stdDeviationsIntrinsics
STD_NAMES = ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6")
_FREE = {"k1": ("k1",), "k1k2": ("k1", "k2"), "k1k2p1p2": ("k1", "k2", "p1", "p2"), "k1k2p1p2k3": ("k1", "k2", "p1", "p2", "k3"),
         "rational": ("k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6")}


def candidate_terms(n_views: int) -> list[str]:
    """Term sets worth trying with n_views views, simplest first."""
    return ["k1", "k1k2", "k1k2p1p2"] if n_views < FEW_VIEWS else ["k1k2", "k1k2p1p2", "k1k2p1p2k3"]


def default_terms(n_views: int) -> str:
    """Term set used before the selection (for rejecting bad views): the richest candidate."""
    return candidate_terms(n_views)[-1]


def _arrays(views, board):
    obj = [board.corners_board[v.corner_ids].astype(np.float32).reshape(-1, 1, 3) for v in views]
    img = [v.xy_px.astype(np.float32).reshape(-1, 1, 2) for v in views]
    return obj, img


def held_out_rms(views, board, size_wh, flags: int, folds: int = FOLDS) -> float:
    """RMS px of held-out views' corners (k-fold): calibrate on the other views, fit each held-out view's
    pose alone (solvePnP with the calibrated lens), compare. views: ViewDetection list (>= 2 folds' worth)."""
    obj, img = _arrays(views, board)
    n = len(views)
    fold = np.arange(n) % folds
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-10)
    sq = []
    for f in range(folds):
        train = np.flatnonzero(fold != f)
        test = np.flatnonzero(fold == f)
        if len(train) < 3 or not len(test):
            continue
        _, K, dist, _, _ = cv2.calibrateCamera([obj[i] for i in train], [img[i] for i in train], tuple(size_wh),
                                               None, None, flags=flags, criteria=crit)
        for i in test:
            o, p = obj[i].reshape(-1, 3).astype(float), img[i].reshape(-1, 2).astype(float)
            ok, rv, tv = cv2.solvePnP(o, p, K, dist)
            if not ok:
                continue
            rv, tv = cv2.solvePnPRefineLM(o, p, K, dist, rv, tv)
            q = cv2.projectPoints(o, rv, tv, K, dist)[0].reshape(-1, 2)
            sq.append(np.sum((q - p) ** 2, axis=1))
    return float(np.sqrt(np.mean(np.concatenate(sq)))) if sq else float("inf")


def max_abs_coeff(views, board, size_wh, flags: int) -> float:
    """Largest |distortion coefficient| of a calibration of all views with these flags."""
    obj, img = _arrays(views, board)
    _, _, dist, _, _ = cv2.calibrateCamera(obj, img, tuple(size_wh), None, None, flags=flags)
    return float(np.abs(dist).max())


def choose_terms(views, board, size_wh, select) -> tuple[str, dict[str, float]]:
    """(chosen term set, {term set: held-out RMS px}). A richer set is kept only when it lowers the held-out
    error by more than GAIN_FRAC; implausible sets (a coefficient above MAX_ABS_COEFF) only when all are.
    ``select(views, n)`` picks a spread subset (at most SELECT_MAX_VIEWS views are used, to keep the 4-fold
    solves fast)."""
    sub = select(views, SELECT_MAX_VIEWS) if len(views) > SELECT_MAX_VIEWS else list(views)
    names = candidate_terms(len(views))
    scores = {name: held_out_rms(sub, board, size_wh, TERMS[name]) for name in names}
    plausible = [n for n in names if max_abs_coeff(sub, board, size_wh, TERMS[n]) <= MAX_ABS_COEFF] or names
    best = None
    for name in plausible:  # simplest first
        if best is None or scores[name] < scores[best] * (1 - GAIN_FRAC):
            best = name
    return best, scores


def std_by_name(std: np.ndarray, terms: str) -> dict[str, float]:
    """{fx, fy, cx, cy, and each solved distortion term: standard deviation} (px for K, unitless for the
    coefficients) from calibrateCameraExtended's (18, 1) stdDeviationsIntrinsics."""
    s = np.ravel(std)
    out = {k: float(s[i]) for i, k in enumerate(STD_NAMES[:4])}
    for k in _FREE[terms]:
        out[k] = float(s[STD_NAMES.index(k)])
    return out


def uncertainty_warnings(name: str, std: dict[str, float], K: np.ndarray, dist: np.ndarray,
                         check_coeffs: bool = True) -> list[str]:
    """Plain-words warnings for poorly determined values (thresholds: principal point std >
    PRINCIPAL_STD_WARN_PX, focal std > FOCAL_STD_WARN_FRAC of f, and with check_coeffs (the standard model;
    the rational model's k4..k6 are legitimately large) any |coefficient| > MAX_ABS_COEFF).
    std: see std_by_name. K: (3, 3) px. dist: OpenCV distortion vector."""
    out = []
    pp = max(std.get("cx", 0.0), std.get("cy", 0.0))
    if pp > PRINCIPAL_STD_WARN_PX:
        out.append(f"camera {name}: principal point +-{pp:.0f} px (more than {PRINCIPAL_STD_WARN_PX:g} px): add tilted "
                   f"views near the image corners")
    f = 0.5 * (K[0, 0] + K[1, 1])
    sf = max(std.get("fx", 0.0), std.get("fy", 0.0))
    if sf > FOCAL_STD_WARN_FRAC * f:
        out.append(f"camera {name}: focal length +-{sf:.0f} px ({100 * sf / f:.1f}% of {f:.0f} px, more than "
                   f"{100 * FOCAL_STD_WARN_FRAC:g}%): add views with the board tilted 30-45 degrees, near and far")
    names = ("k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6")
    big = [f"{names[i]} = {d:.3g}" for i, d in enumerate(np.ravel(dist)[:5]) if abs(d) > MAX_ABS_COEFF]
    big = big if check_coeffs else []
    if big:
        out.append(f"camera {name}: distortion {', '.join(big)} (magnitude above {MAX_ABS_COEFF:g}) is implausible: "
                   f"the views do not determine the lens; add views covering the whole image")
    return out


def std_metadata(std_by_camera: dict[str, dict[str, float]], terms_by_camera: dict[str, str]) -> dict:
    """Flat ``[metadata]`` keys for a rig file (aniposelib and Pose2Sim skip [metadata]; no NaN is written):
    ``intrinsics_std_cameras`` (names, in rig order, of the cameras with standard deviations),
    ``intrinsics_std_px`` (one [fx, fy, cx, cy] row per such camera, px), ``distortion_std`` (one row of the
    5 standard-model coefficients' std per camera, 0 for a term held at 0; 8 for the rational model) and
    ``distortion_terms`` (the term set solved per camera). Empty when no camera has standard deviations."""
    names = [n for n, s in std_by_camera.items() if s]
    if not names:
        return {}
    dnames = ("k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6")
    rows_k = [[std_by_camera[n][k] for k in STD_NAMES[:4]] for n in names]
    rows_d = []
    for n in names:
        width = 8 if "k4" in std_by_camera[n] else 5
        rows_d.append([std_by_camera[n].get(k, 0.0) for k in dnames[:width]])
    return {"intrinsics_std_cameras": names, "intrinsics_std_px": rows_k, "distortion_std": rows_d,
            "distortion_terms": [terms_by_camera.get(n, "") for n in names]}
