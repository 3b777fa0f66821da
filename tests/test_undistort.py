"""The fitted inverse + Newton undistortion (capture3d.geometry.lens) used by Camera.undistort for big batches."""
import cv2
import numpy as np
import pytest

from capture3d.geometry.camera import _NEWTON_MIN_POINTS, Camera
from capture3d.geometry.lens import MARGIN, TOL_PX, distort, fit_inverse, lens_coefficients

K = np.array([[1400.0, 0, 955.0], [0, 1398.0, 545.0], [0, 0, 1]])
LENSES = {
    "standard": [-0.22, 0.07, 0.0008, -0.0006, 0.01],
    "mild": [-0.08, 0.04, -0.0005, 0.0007],
    "rational": [0.3, -0.1, 0.001, 0.0005, 0.02, 0.45, -0.08, 0.03],
    "14 with zero extras": [-0.14, 0.013, 0.0006, -0.0004, 0.0] + [0.0] * 9,
}


@pytest.mark.parametrize("lens", list(LENSES))
def test_batch_undistortion_is_within_tolerance_of_the_truth(lens, rng):
    cam = Camera("c", (1920, 1080), K, LENSES[lens])
    n = 3 * _NEWTON_MIN_POINTS
    # exact pairs: undistorted points, distorted by the model (which matches OpenCV, see below)
    x_true = rng.uniform(-0.75, 0.75, n)
    y_true = rng.uniform(-0.42, 0.42, n)
    xdd, ydd = distort(x_true, y_true, lens_coefficients(cam.dist))
    px = np.c_[K[0, 0] * xdd + K[0, 2], K[1, 1] * ydd + K[1, 2]]
    inside = (px[:, 0] > -100) & (px[:, 0] < 2020) & (px[:, 1] > -60) & (px[:, 1] < 1140)
    px, x_true, y_true = px[inside], x_true[inside], y_true[inside]
    assert px.shape[0] >= _NEWTON_MIN_POINTS
    err_px = np.abs(cam.undistort(px) - np.c_[x_true, y_true]).max() * K[0, 0]
    assert err_px < 2 * TOL_PX
    inv = cam.inverse_distortion
    assert inv is not None and 1 <= inv.newton_steps <= 2 and inv.max_residual_px < TOL_PX


def test_model_matches_opencv_projection(rng):
    for dist in LENSES.values():
        cam = Camera("c", (1920, 1080), K, dist)
        xy = rng.uniform(-0.7, 0.7, (500, 2))
        ours = np.c_[distort(xy[:, 0], xy[:, 1], lens_coefficients(cam.dist))]
        px_ours = np.c_[K[0, 0] * ours[:, 0] + K[0, 2], K[1, 1] * ours[:, 1] + K[1, 2]]
        px_cv, _ = cv2.projectPoints(np.c_[xy, np.ones(500)], np.zeros(3), np.zeros(3), K, cam.dist)
        assert np.abs(px_ours - px_cv.reshape(-1, 2)).max() < 1e-9


def test_batch_agrees_with_small_batches(rng):
    cam = Camera("c", (1920, 1080), K, LENSES["standard"])
    xy_true = rng.uniform([-0.7, -0.39], [0.7, 0.39], (2 * _NEWTON_MIN_POINTS, 2))
    xd, yd = distort(xy_true[:, 0], xy_true[:, 1], lens_coefficients(cam.dist))
    px = np.c_[K[0, 0] * xd + K[0, 2], K[1, 1] * yd + K[1, 2]]
    big = cam.undistort(px)
    small = np.concatenate([cam.undistort(px[s:s + 100]) for s in range(0, px.shape[0], 100)])  # OpenCV path
    err_big = np.abs(big - xy_true).max() * K[0, 0]
    err_small = np.abs(small - xy_true).max() * K[0, 0]
    assert err_big < 2 * TOL_PX
    assert err_small < 5e-4  # OpenCV's 8 fixed-point iterations
    assert np.abs(big - small).max() * K[0, 0] < err_small + 2 * TOL_PX


def test_points_outside_the_fitted_disc_and_nan_use_opencv(rng):
    cam = Camera("c", (1920, 1080), K, LENSES["mild"])
    n = _NEWTON_MIN_POINTS
    px = np.c_[rng.uniform(0, 1920, n), rng.uniform(0, 1080, n)]
    px[:10] = [[-3000.0, -2000.0]] * 10             # far outside the disc: OpenCV's answer
    px[10:20, 0] = np.nan
    px[20:30, 1] = np.inf
    out = cam.undistort(px)
    cv = cv2.undistortPointsIter(np.ascontiguousarray(px[:10].reshape(-1, 1, 2)), cam.K, cam.dist, None, None,
                                 (cv2.TERM_CRITERIA_COUNT, 8, 0.0)).reshape(-1, 2)
    assert np.array_equal(out[:10], cv)
    assert np.isnan(out[10:20]).all()
    assert np.isfinite(out[30:]).all()
    r2_max = cam.inverse_distortion.r2_max
    corner = np.hypot((1919.5 - 955.0) / 1400.0, (-0.5 - 545.0) / 1398.0)  # the farthest image corner
    assert r2_max == pytest.approx((MARGIN * corner) ** 2, rel=1e-3)


def test_unsupported_or_folding_lenses_are_left_to_opencv(rng):
    thin_prism = [-0.1, 0.01, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.001, 0.0, 0.0, 0.0]
    assert fit_inverse(np.array(thin_prism), (1920, 1080), K) is None
    # k1 = -0.5 folds over inside the image: no inverse there
    assert fit_inverse(np.array([-0.5, 0.0, 0.0, 0.0, 0.0]), (1920, 1080), K) is None
    cam = Camera("c", (1920, 1080), K, thin_prism)
    px = np.c_[rng.uniform(0, 1920, _NEWTON_MIN_POINTS), rng.uniform(0, 1080, _NEWTON_MIN_POINTS)]
    cv = cv2.undistortPointsIter(px.reshape(-1, 1, 2), cam.K, cam.dist, None, None,
                                 (cv2.TERM_CRITERIA_COUNT, 8, 0.0)).reshape(-1, 2)
    assert np.array_equal(cam.undistort(px), cv)


def test_a_lens_folding_just_outside_the_image_is_fitted_on_the_image_disc():
    # k1 = -0.2 folds over at a distorted radius of 0.86: beyond this image's corners (0.79), inside the margin
    inv = fit_inverse(np.array([-0.2, 0.0, 0.0, 0.0, 0.0]), (1920, 1080), K)
    corner = np.hypot((1919.5 - 955.0) / 1400.0, (-0.5 - 545.0) / 1398.0)
    assert inv is not None and inv.r2_max == pytest.approx(corner ** 2, rel=1e-3)
    assert inv.max_residual_px < TOL_PX
