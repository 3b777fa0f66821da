import numpy as np
import pytest

from capture3d.geometry.camera import Camera, Rig


def _cam(fisheye=False):
    K = [[1400.0, 0, 955.0], [0, 1398.0, 545.0], [0, 0, 1]]
    dist = [0.05, -0.01, 0.002, -0.001] if fisheye else [-0.22, 0.07, 0.0008, -0.0006, 0.01]
    return Camera("c", (1920, 1080), K, dist, [0.1, -0.2, 0.05], [0.2, -0.1, 4.0], fisheye)


@pytest.mark.parametrize("fisheye", [False, True])
def test_project_undistort_roundtrip(fisheye, rng):
    cam = _cam(fisheye)
    X = rng.uniform(-1.0, 1.0, (2000, 3))
    xy = cam.project(X)
    xc = cam.world_to_cam(X)
    expected = xc[:, :2] / xc[:, 2:]
    err_px = np.abs(cam.undistort(xy) - expected).max() * cam.focal_px
    assert err_px < 2e-3


def test_pinhole_matches_projection_matrix_without_distortion(rng):
    cam = Camera("p", (640, 480), [[500, 0, 320], [0, 500, 240], [0, 0, 1]], np.zeros(5), [0.3, 0.1, -0.2], [0, 0, 3])
    X = rng.uniform(-0.5, 0.5, (100, 3))
    h = np.c_[X, np.ones(100)] @ cam.P_px.T
    assert np.abs(cam.project(X) - h[:, :2] / h[:, 2:]).max() < 1e-9
    # camera centre projects to nothing: it is the origin of the camera frame
    assert np.allclose(cam.world_to_cam(cam.center_world), 0, atol=1e-12)


def test_behind_camera_and_nan_give_nan():
    cam = _cam()
    pts = np.array([[0, 0, -10.0], [np.nan, 0, 0], [0.0, 0.0, 0.0]])
    xy = cam.project(pts)
    assert np.isnan(xy[0]).all() and np.isnan(xy[1]).all() and np.isfinite(xy[2]).all()
    assert np.isnan(cam.undistort(np.array([[np.nan, 1.0]]))).all()


def test_in_image_uses_pixel_centre_convention():
    cam = _cam()
    inside = cam.in_image(np.array([[-0.5, -0.5], [1919.5, 1079.5], [-0.6, 10], [10, 1079.6]]))
    assert inside.tolist() == [True, True, False, False]


def test_rig_requires_unique_names_and_projects_all_views(rig4, walk):
    xy = rig4.project(walk.xyz_world[:3])
    assert xy.shape == (4, 3, 25, 2)
    with pytest.raises(ValueError, match="unique"):
        Rig((rig4[0], rig4[0]))
    with pytest.raises(KeyError, match="cam1"):
        rig4.camera("nope")


@pytest.mark.parametrize("dist,fisheye", [([-0.2, 0.05, 0.001, 0, 0.01], False), (np.zeros(5), False),
                                          ([0.05, 0.01, 0, 0], True)])
def test_half_missing_points_come_out_fully_missing(dist, fisheye):
    cam = Camera("a", (1000, 800), [[900, 0, 500], [0, 900, 400], [0, 0, 1]], dist, fisheye=fisheye)
    out = cam.undistort(np.array([[np.nan, 5.0], [5.0, np.nan], [10.0, 10.0]]))
    assert np.isnan(out[:2]).all() and np.isfinite(out[2]).all()


@pytest.mark.parametrize("dist,fisheye", [(np.zeros(5), False), ([-0.2, 0.05, 0.001, -0.001, 0.0], False),
                                          ([0.05, -0.01, 0.002, -0.001], True)])
def test_skew_is_applied_the_same_way_by_project_and_undistort(dist, fisheye, rng):
    K = [[1400.0, 12.0, 955.0], [0, 1398.0, 545.0], [0, 0, 1]]
    cam = Camera("s", (1920, 1080), K, dist, [0.1, -0.2, 0.05], [0.2, -0.1, 4.0], fisheye)
    X = rng.uniform(-1.0, 1.0, (5000, 3))  # over the _NEWTON_MIN_POINTS batch size: both undistortion paths
    xc = cam.world_to_cam(X)
    truth = xc[:, :2] / xc[:, 2:]
    xy = cam.project(X)
    for pts, want in ((xy, truth), (xy[:50], truth[:50])):
        assert np.abs(cam.undistort(pts) - want).max() * cam.focal_px < 2e-3
    if not np.any(dist):  # pinhole: the same as the linear projection matrix, skew included
        h = np.c_[X, np.ones(len(X))] @ cam.P_px.T
        assert np.abs(xy - h[:, :2] / h[:, 2:]).max() < 1e-9


def test_rig_project_all_matches_project_per_camera():
    from capture3d.synth import make_rig
    rig = make_rig(8, seed=2)
    X = np.random.default_rng(2).normal([0, 0, 1], [1.5, 1.5, 0.6], (5, 25, 3))
    X[0, 3] = np.nan
    X[1, 4] = rig[0].center_world - 2 * rig[0].R[2]  # behind camera 0
    a, b = rig.project(X), rig.project_all(X)
    assert b.shape == (8, 5, 25, 2)
    assert np.array_equal(np.isnan(a), np.isnan(b)) and np.isnan(b[0, 1, 4]).all()
    assert np.nanmax(np.abs(a - b)) < 1e-6  # OpenCV's projectPoints (per camera) rounds a little differently
