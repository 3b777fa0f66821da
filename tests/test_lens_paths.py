"""The lens formula exists once (capture3d.geometry.lens): every public path that maps between world points
and pixels gives the same pixels, skew and full distortion included."""
import cv2
import numpy as np
import pytest

from capture3d.calib.bundle import board_residuals_px, bundle_adjust
from capture3d.calib.observations import BoardObservations
from capture3d.geometry import lens
from capture3d.geometry.camera import Camera, Rig

K_SKEW = np.array([[1400.0, 12.0, 960.0], [0.0, 1390.0, 540.0], [0.0, 0.0, 1.0]])
RATIONAL = np.array([-0.21, 0.07, 8e-4, -6e-4, 0.01, 0.05, 0.01, 0.004])


def _camera(fisheye=False):
    dist = np.array([0.08, -0.02, 0.004, -0.001]) if fisheye else RATIONAL
    return Camera("c", (1920, 1080), K_SKEW, dist, np.array([0.1, -0.2, 0.05]), np.array([0.2, -0.1, 3.0]),
                  fisheye)


def _points(cam, n, seed=0):
    """World points that land inside the image."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-0.45, 0.45, (n, 2)) * [1.0, 0.55]
    z = rng.uniform(2.0, 6.0, n)
    X_cam = np.column_stack([xy * z[:, None], z])
    return (X_cam - cam.tvec) @ cam.R  # camera -> world


@pytest.mark.parametrize("fisheye", [False, True])
@pytest.mark.parametrize("n", [25, 5000])  # OpenCV's projection for small batches, numpy for large ones
def test_every_projection_path_gives_the_same_pixels(fisheye, n):
    cam = _camera(fisheye)
    X = _points(cam, n)
    px = cam.project(X)
    X_cam = cam.world_to_cam(X)
    # the lens module directly, both evaluations
    assert np.abs(lens.project_cam(X_cam, cam.K, cam.dist, fisheye) - px).max() < 1e-6
    xd = lens.Lens.of(cam.dist, fisheye).distort(X_cam[:, :2] / X_cam[:, 2:])
    assert np.abs(lens.to_pixels(xd, cam.K) - px).max() < 1e-6
    # OpenCV (skew-less) + the skew term u += skew * yd, as the reference
    obj = X.reshape(-1, 1, 3)
    if fisheye:
        ref, _ = cv2.fisheye.projectPoints(obj, cam.rvec.reshape(3, 1), cam.tvec.reshape(3, 1), cam.K, cam.dist)
    else:
        ref, _ = cv2.projectPoints(obj, cam.rvec, cam.tvec, cam.K, cam.dist)
    ref = ref.reshape(-1, 2)
    ref[:, 0] += K_SKEW[0, 1] * (ref[:, 1] - K_SKEW[1, 2]) / K_SKEW[1, 1]
    assert np.abs(ref - px).max() < 1e-6
    # bundle adjustment's residual: board pose = identity, the "board" is the points themselves
    obs = BoardObservations(np.zeros(n, np.int64), np.zeros(n, np.int64), np.arange(n), px.copy(), ["c"],
                            [(1920, 1080)], ["0"])
    res = board_residuals_px([cam], np.eye(3)[None], np.zeros((1, 3)), obs, X)
    assert np.abs(res).max() < 1e-6


@pytest.mark.parametrize("fisheye", [False, True])
@pytest.mark.parametrize("n", [100, 6000])  # OpenCV's iteration, and the fitted inverse + Newton (>= 4096)
def test_undistortion_inverts_the_projection(fisheye, n):
    cam = _camera(fisheye)
    X_cam = cam.world_to_cam(_points(cam, n, seed=1))
    xy_true = X_cam[:, :2] / X_cam[:, 2:]
    back = cam.undistort(cam.project((X_cam - cam.tvec) @ cam.R))
    assert np.abs(back - xy_true).max() < 1e-6
    both = Rig((cam,)).undistort(cam.project((X_cam - cam.tvec) @ cam.R)[None])[0]
    assert np.abs(both - xy_true).max() < 1e-6


@pytest.mark.parametrize("refine_intrinsics", [False, True])
def test_bundle_adjustment_keeps_the_skew(refine_intrinsics):
    cam = _camera()
    X = _points(cam, 400, seed=2)
    obs = BoardObservations(np.zeros(400, np.int64), np.zeros(400, np.int64), np.arange(400), cam.project(X),
                            ["c"], [(1920, 1080)], ["0"])
    res = bundle_adjust([cam], np.eye(3)[None], np.zeros((1, 3)), obs, X, refine_intrinsics=refine_intrinsics,
                        refine_poses=False, max_iter=5)
    assert res.cameras[0].K[0, 1] == 12.0  # held, not zeroed
    assert res.rms_px < 1e-6  # and the model with skew fits the observations it made exactly
