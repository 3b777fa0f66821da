"""Intrinsic calibration: accuracy, view selection, bad-view rejection, coverage warnings, models."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from capture3d.calib import board_from_dict, calibrate_intrinsics, select_views
from capture3d.calib.detect import ViewDetection
from capture3d.calib.intrinsics import coverage
from capture3d.calib.synth import intrinsic_views
from capture3d.geometry.camera import Camera
from capture3d.errors import CalibrationError
from capture3d.synth import make_rig

BOARD = board_from_dict({"type": "charuco", "squares": [12, 9], "square_size": 0.07, "marker_size": 0.05,
                         "dictionary": "DICT_4X4_100"})


@pytest.fixture(scope="module")
def rig():
    return make_rig(4, seed=5)  # 1920 x 1080


def test_intrinsics_accuracy_1080p(rig):
    rng = np.random.default_rng(11)
    for cam in rig.cameras[:2]:
        views = intrinsic_views(cam, BOARD, 120, 0.5, rng, fill=(0.4, 0.8))
        res = calibrate_intrinsics(views, BOARD, cam.size_wh, cam.name, max_views=120)
        K = res.camera.K
        assert abs(K[0, 0] / cam.K[0, 0] - 1) < 0.002
        assert abs(K[1, 1] / cam.K[1, 1] - 1) < 0.002
        assert np.linalg.norm(K[:2, 2] - cam.K[:2, 2]) < 1.5
        assert 0.6 < res.rms_px < 0.8  # 0.5 px per axis -> 0.71 px RMS norm
        assert not res.rejected and not res.warnings
        assert len(res.view_rms_px) == 120


def test_bad_views_are_rejected_and_named(rig):
    cam = rig[0]
    rng = np.random.default_rng(12)
    views = intrinsic_views(cam, BOARD, 40, 0.5, rng, fill=(0.4, 0.8))
    for k in (3, 17):  # a bent board / wrong detection: corners displaced by several px
        v = views[k]
        views[k] = replace(v, label=f"bad{k}", xy_px=v.xy_px + rng.normal(0, 6.0, v.xy_px.shape))
    res = calibrate_intrinsics(views, BOARD, cam.size_wh, cam.name)
    assert set(res.rejected) == {"bad3", "bad17"}
    assert "RMS" in res.rejected["bad3"]
    assert res.rms_px < 0.8
    assert abs(res.camera.focal_px / cam.focal_px - 1) < 0.003


def test_view_selection_spreads_over_image_and_tilts(rig):
    cam = rig[1]
    rng = np.random.default_rng(13)
    views = intrinsic_views(cam, BOARD, 300, 0.5, rng, fill=(0.3, 0.6))
    # a long video lingers: most views repeat the centre of the image
    center = [v for v in views if np.linalg.norm(v.xy_px.mean(0) / cam.size_wh - 0.5) < 0.15]
    pool = center * 4 + views
    chosen = select_views(pool, BOARD, cam.size_wh, 30)
    assert len(chosen) == 30
    first30 = pool[:30]
    cov_sel, empty_sel = coverage(chosen, cam.size_wh)
    cov_naive, _ = coverage(first30, cam.size_wh)
    assert cov_sel > cov_naive + 0.15
    assert empty_sel == []


def test_poor_corner_coverage_warns(rig):
    cam = rig[2]
    rng = np.random.default_rng(14)
    views = intrinsic_views(cam, BOARD, 200, 0.5, rng, fill=(0.25, 0.3))
    central = [v for v in views if np.all(np.abs(v.xy_px / cam.size_wh - 0.5) < 0.32)]
    assert len(central) >= 6
    res = calibrate_intrinsics(central, BOARD, cam.size_wh, cam.name)
    assert res.empty_corners == ["top-left", "top-right", "bottom-left", "bottom-right"]
    assert any("image corner" in w and "add views" in w for w in res.warnings)


def test_too_few_views_is_an_error(rig):
    cam = rig[0]
    views = intrinsic_views(cam, BOARD, 3, 0.5, np.random.default_rng(1))
    with pytest.raises(CalibrationError, match="need at least 4"):
        calibrate_intrinsics(views, BOARD, cam.size_wh, cam.name)


def test_unknown_model_is_an_error(rig):
    with pytest.raises(CalibrationError, match="unknown camera model"):
        calibrate_intrinsics([], BOARD, rig[0].size_wh, "x", model="pinhole9")


def test_degenerate_views_give_a_clear_error(rig):
    cam = rig[0]
    # every view is the same fronto-parallel board: the focal length is not observable
    v = intrinsic_views(cam, BOARD, 1, 0.0, np.random.default_rng(2))[0]
    flat = ViewDetection(0, "same", v.corner_ids, v.xy_px)
    views = [replace(flat, frame=i, label=f"same{i}") for i in range(6)]
    views = [replace(w, xy_px=w.xy_px + np.random.default_rng(i).normal(0, 30, w.xy_px.shape))
             for i, w in enumerate(views)]
    try:
        res = calibrate_intrinsics(views, BOARD, cam.size_wh, cam.name)
    except CalibrationError as exc:
        assert "camera" in str(exc)
    else:  # if OpenCV returns something, it must be flagged
        assert res.warnings and res.rms_px > 2.0


@pytest.mark.parametrize("model", ["rational", "fisheye"])
def test_other_lens_models(rig, model):
    rng = np.random.default_rng(15)
    base = rig[3]
    if model == "fisheye":
        cam = Camera("fe", base.size_wh, base.K * [[0.6, 1, 1], [1, 0.6, 1], [1, 1, 1]], [0.05, -0.02, 0.01, -0.002],
                     fisheye=True)
    else:
        cam = Camera("ra", base.size_wh, base.K, [-0.3, 0.1, 1e-4, -2e-4, 0.0, 0.05, 0.02, 0.01])
    views = intrinsic_views(cam, BOARD, 60, 0.3, rng, fill=(0.4, 0.8))
    res = calibrate_intrinsics(views, BOARD, cam.size_wh, cam.name, model=model)
    assert res.camera.fisheye == (model == "fisheye")
    assert res.camera.dist.size == (4 if model == "fisheye" else 8)
    if model == "fisheye":  # (the rational model trades focal length against its k4..k6: check projections)
        assert abs(res.camera.focal_px / cam.focal_px - 1) < 0.003
    # the lens model reproduces the true projection over the image to a fraction of a pixel
    grid = np.stack(np.meshgrid(np.linspace(-0.5, 0.5, 9), np.linspace(-0.3, 0.3, 7)), -1).reshape(-1, 2)
    xyz = np.column_stack([grid, np.ones(len(grid))])
    assert np.nanmax(np.linalg.norm(res.camera.project(xyz) - cam.project(xyz), axis=1)) < 1.0
