"""Lens models, camera-graph initialization and robust bundle adjustment on synthetic corner observations."""
from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from capture3d.calib import board_from_dict, bundle_adjust, rig_errors
from capture3d.calib.extrinsics import board_poses_per_view, initial_camera_poses
from capture3d.geometry.lens import project_cam
from capture3d.geometry.rotations import rodrigues, rotation_angle_deg
from capture3d.calib.synth import random_board_poses, rig_board_observations
from capture3d.geometry.camera import Rig
from capture3d.errors import CalibrationError
from capture3d.synth import make_rig

BOARD = board_from_dict({"type": "checkerboard", "inner_corners": [9, 6], "square_size": 0.08})


def _perturb(rig, rng, deg=2.0, m=0.05, intrinsics=False):
    out = []
    for i, c in enumerate(rig.cameras):
        if i > 0:
            ax = rng.normal(size=3)
            R = rodrigues(ax / np.linalg.norm(ax) * np.radians(deg)) @ c.R
            d = rng.normal(size=3)
            C = c.center_world + m * d / np.linalg.norm(d)
            c = c.with_pose(cv2.Rodrigues(R)[0].ravel(), -R @ C)
        if intrinsics:
            c = replace(c, K=c.K * [[1.01, 1, 1], [1, 1.01, 1], [1, 1, 1]] + [[0, 0, 6], [0, 0, -6], [0, 0, 0]],
                        dist=c.dist * 0.7)
        out.append(c)
    return out


def _perturb_boards(poses, rng):
    R = np.stack([rodrigues(rng.normal(0, np.radians(1.5), 3)) @ r for r in poses.R])
    return R, poses.t + rng.normal(0, 0.03, poses.t.shape)


@pytest.fixture(scope="module")
def scene():
    rig = make_rig(4, seed=2)
    rng = np.random.default_rng(0)
    poses = random_board_poses(rig, BOARD, 120, rng)
    obs = rig_board_observations(rig, BOARD, poses, 0.5, rng)
    return rig, poses, obs


def test_numpy_lens_models_match_opencv():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) * [1, 0.6, 0.3] + [0, 0, 4]
    K = np.array([[1000, 0, 640], [0, 990, 360], [0, 0, 1.0]])
    zero = np.zeros(3)
    for d in ([-0.2, 0.05, 1e-3, -1e-3, 0.01], [-0.2, 0.05, 1e-3, -1e-3, 0.01, 0.1, 0.02, 0.01]):
        ref = cv2.projectPoints(X, zero, zero, K, np.array(d))[0].reshape(-1, 2)
        assert np.abs(project_cam(X, K, np.array(d)) - ref).max() < 1e-9
    d = np.array([0.1, -0.05, 0.01, 0.001])
    ref = cv2.fisheye.projectPoints(X.reshape(-1, 1, 3), zero.reshape(3, 1), zero.reshape(3, 1), K, d)[0]
    assert np.abs(project_cam(X, K, d, fisheye=True) - ref.reshape(-1, 2)).max() < 1e-9


def test_bundle_adjustment_recovers_rig_from_perturbed_start(scene):
    rig, poses, obs = scene
    rng = np.random.default_rng(1)
    Rb, tb = _perturb_boards(poses, rng)
    res = bundle_adjust(_perturb(rig, rng, intrinsics=True), Rb, tb, obs, BOARD.corners_board,
                        refine_intrinsics=True)
    assert 0.6 < res.rms_px < 0.8  # converged to the noise level (0.5 px per axis)
    assert np.all((res.cam_rms_px > 0.6) & (res.cam_rms_px < 0.8))
    err = rig_errors(Rig(tuple(res.cameras)), rig)
    assert err.center_mm.max() < 8.0
    assert np.abs(err.focal_pct).max() < 0.3
    assert abs(err.scale - 1) < 1e-3  # the board fixes the scale
    # camera 1 is the gauge: its pose is untouched
    np.testing.assert_allclose(res.cameras[0].rvec, rig[0].rvec, atol=1e-12)


def test_bundle_adjustment_with_known_intrinsics_is_accurate(scene):
    rig, poses, obs = scene
    rng = np.random.default_rng(2)
    Rb, tb = _perturb_boards(poses, rng)
    res = bundle_adjust(_perturb(rig, rng), Rb, tb, obs, BOARD.corners_board, refine_intrinsics=False)
    err = rig_errors(Rig(tuple(res.cameras)), rig)
    assert err.center_mm.max() < 3.0
    assert err.rotation_deg.max() < 0.03


def test_robust_loss_resists_outliers(scene):
    rig, poses, obs = scene
    rng = np.random.default_rng(3)
    bad = obs.subset(np.ones(len(obs), bool))
    k = rng.choice(len(bad), len(bad) // 50, replace=False)  # 2% gross outliers of 20-60 px
    bad.xy_px[k] += rng.uniform(20, 60, (len(k), 1)) * rng.choice([-1, 1], (len(k), 2))
    Rb, tb = _perturb_boards(poses, rng)
    start = _perturb(rig, rng)
    robust = bundle_adjust(start, Rb, tb, bad, BOARD.corners_board, refine_intrinsics=False, loss="huber")
    plain = bundle_adjust(start, Rb, tb, bad, BOARD.corners_board, refine_intrinsics=False, loss="linear")
    e_robust = rig_errors(Rig(tuple(robust.cameras)), rig).center_mm.max()
    e_plain = rig_errors(Rig(tuple(plain.cameras)), rig).center_mm.max()
    assert e_robust < 4.0
    assert e_plain > 1.5 * e_robust


def test_camera_graph_links_cameras_that_never_see_the_board_together():
    rig = make_rig(6, seed=3)
    rng = np.random.default_rng(4)
    poses = random_board_poses(rig, BOARD, 150, rng)
    obs = rig_board_observations(rig, BOARD, poses, 0.5, rng)
    shared = obs.shared_frames()
    assert shared[0, 3] == 0  # opposite cameras: no common view
    views = board_poses_per_view(obs, list(rig.cameras), BOARD.corners_board)
    R, t = initial_camera_poses(obs, views)
    # compare relative to camera 1 (the initial world frame)
    for c in range(6):
        R_true = rig[c].R @ rig[0].R.T
        t_true = rig[c].tvec - R_true @ rig[0].tvec
        assert rotation_angle_deg(R[c], R_true) < 1.5  # a starting point for the bundle adjustment
        assert np.linalg.norm(t[c] - t_true) < 0.15


def test_camera_without_shared_views_is_an_error(scene):
    rig, poses, obs = scene
    seen = {}
    for c, f in obs.views():
        seen.setdefault(f, set()).add(c)
    # drop camera 3's views in every frame another camera also sees
    keep = np.array([not (c == 2 and len(seen[f]) > 1) for c, f in zip(obs.cam, obs.frame)])
    sub = obs.subset(keep)
    views = board_poses_per_view(sub, list(rig.cameras), BOARD.corners_board)
    with pytest.raises(CalibrationError, match="cam3 share no board views"):
        initial_camera_poses(sub, views)
    with pytest.raises(CalibrationError, match=r"groups with no board view in common .*\['cam3'\]"):
        bundle_adjust(list(rig.cameras), poses.R, poses.t, sub, BOARD.corners_board)


def test_bundle_adjustment_of_a_fisheye_rig():
    base = make_rig(4, seed=2)
    cams = [replace(c, K=c.K * [[0.55, 1, 1], [1, 0.55, 1], [1, 1, 1]], dist=np.array([0.04, -0.01, 0.004, -0.001]),
                    fisheye=True) for c in base.cameras]
    rig = Rig(tuple(cams))
    rng = np.random.default_rng(5)
    poses = random_board_poses(rig, BOARD, 80, rng)
    obs = rig_board_observations(rig, BOARD, poses, 0.5, rng)
    Rb, tb = _perturb_boards(poses, rng)
    assert len(obs.camera_components()) == 1
    start = _perturb(rig, rng)
    held = bundle_adjust(start, Rb, tb, obs, BOARD.corners_board, refine_intrinsics=False)
    assert rig_errors(Rig(tuple(held.cameras)), rig).center_mm.max() < 4.0
    # refining the fisheye lens too (from a wrong start) converges to the noise level
    start = [replace(c, dist=c.dist * 0.5, K=c.K * [[1.01, 1, 1], [1, 1.01, 1], [1, 1, 1]]) for c in start]
    res = bundle_adjust(start, Rb, tb, obs, BOARD.corners_board, refine_intrinsics=True)
    assert all(c.fisheye and c.dist.size == 4 for c in res.cameras)
    assert 0.6 < res.rms_px < 0.8
