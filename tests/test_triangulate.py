import numpy as np
import pytest

from capture3d.synth import ErrorModel, make_rig, observe, walking_motion
from capture3d.geometry.triangulate import triangulate, triangulate_dlt, triangulate_points


def _mpjpe_mm(est, truth):
    e = np.linalg.norm(est - truth, axis=-1) * 1000
    return np.nanmedian(e), np.nanpercentile(e, 95)


def test_exact_without_noise(rig4, walk):
    o = observe(rig4, walk.xyz_world, ErrorModel(noise_px=0, missing=0, outliers=0, swaps=0), 0)
    for robust in (False, True):
        r = triangulate(rig4, o.keypoints_px, robust=robust)
        assert np.nanmax(np.abs(r.xyz_world - walk.xyz_world)) < 1e-6
        assert np.nanmax(r.reproj_err_px) < 1e-3
        seen = o.visible.sum(axis=0)
        assert np.array_equal(r.n_views, np.where(seen >= 2, seen, 0))  # every visible view is used


def test_linear_dlt_alone_is_exact(rig4, walk):
    xy = rig4.undistort(rig4.project(walk.xyz_world).reshape(4, -1, 2))
    X = triangulate_dlt(xy, np.ones(xy.shape[:2]), rig4.cams_from_world())
    assert np.abs(X - walk.xyz_world.reshape(-1, 3)).max() < 1e-7


def test_robust_matches_oracle_and_beats_plain(rig4, walk, noisy_obs):
    kp = noisy_obs.keypoints_px
    robust = triangulate(rig4, kp, robust=True)
    plain = triangulate(rig4, kp, robust=False)
    oracle_kp = kp.copy()
    oracle_kp[~noisy_obs.inlier] = (np.nan, np.nan, 0)
    oracle = triangulate(rig4, oracle_kp, robust=False)
    med_r, p95_r = _mpjpe_mm(robust.xyz_world, walk.xyz_world)
    med_o, p95_o = _mpjpe_mm(oracle.xyz_world, walk.xyz_world)
    med_p, p95_p = _mpjpe_mm(plain.xyz_world, walk.xyz_world)
    assert med_r < 1.05 * med_o and p95_r < 1.05 * p95_o
    assert p95_p > 3 * p95_r  # outliers wreck the plain DLT's tail
    assert med_r < 8.0  # mm, 2 px noise at ~4.5 m


def test_outlier_views_are_rejected(rig4, walk, noisy_obs):
    r = triangulate(rig4, noisy_obs.keypoints_px, robust=True)
    used_outliers = (r.inliers & noisy_obs.outlier).sum()
    assert used_outliers / noisy_obs.outlier.sum() < 0.02
    assert np.nanmean(r.reproj_err_px) < 3.0


def test_missing_views_and_min_views(rig4, walk):
    o = observe(rig4, walk.xyz_world[:20], ErrorModel(noise_px=1, missing=0, outliers=0, swaps=0), 0)
    kp = o.keypoints_px.copy()
    kp[1:, 0, 0] = (np.nan, np.nan, 0)  # joint 0 of frame 0 seen by one camera only
    kp[2:, 1, 0] = (np.nan, np.nan, 0)  # seen by two
    r = triangulate(rig4, kp, min_views=3)
    assert np.isnan(r.xyz_world[0, 0]).all() and r.n_views[0, 0] == 0
    assert np.isnan(r.xyz_world[1, 0]).all()
    r2 = triangulate(rig4, kp, min_views=2)
    assert np.isfinite(r2.xyz_world[1, 0]).all() and r2.n_views[1, 0] == 2
    assert np.isnan(r2.reproj_err_px[0, 0])


@pytest.mark.parametrize("V", [8, 16])
def test_many_cameras_with_heavy_outliers(V):
    rig = make_rig(V, seed=2)
    m = walking_motion(60, 30.0)
    o = observe(rig, m.xyz_world, ErrorModel(noise_px=2, missing=0.1, outliers=0.25, swaps=0), 3)
    r = triangulate(rig, o.keypoints_px)
    med, p95 = _mpjpe_mm(r.xyz_world, m.xyz_world)
    assert med < 6 and p95 < 15
    assert np.isfinite(r.xyz_world).all(axis=-1).mean() > 0.99


def test_zero_weights_and_shapes():
    P = np.stack([np.hstack([np.eye(3), [[0], [0], [3]]]), np.hstack([np.eye(3), [[-1], [0], [3]]])])
    res = triangulate_points(np.zeros((2, 5, 2)), np.zeros((2, 5)), P, np.array([1000.0, 1000.0]))
    assert np.isnan(res.xyz_world).all() and (res.n_views == 0).all()
    with pytest.raises(ValueError, match="cams_from_world"):
        triangulate_points(np.zeros((2, 5, 2)), np.ones((2, 5)), P[:1], np.ones(1))


def test_triangulate_shape_check(rig4):
    with pytest.raises(ValueError, match="V=4"):
        triangulate(rig4, np.zeros((3, 10, 3)))


@pytest.mark.parametrize("V", [4, 8])
@pytest.mark.parametrize("refine_iterations", [0, 1])
def test_live_frame_sets_match_the_batch(V, refine_iterations):
    """Small chunks take the one-solve (eager) path, batches the hard-points-only path: same numbers."""
    rig = make_rig(V, seed=3)
    m = walking_motion(40, 30.0)
    o = observe(rig, m.xyz_world, ErrorModel(noise_px=2, missing=0.1, outliers=0.2, swaps=0.02), 5)
    batch = triangulate(rig, o.keypoints_px, refine_iterations=refine_iterations)  # 1000 points: one chunk
    per_frame = [triangulate(rig, o.keypoints_px[:, t], refine_iterations=refine_iterations) for t in range(40)]
    xyz = np.stack([r.xyz_world for r in per_frame])
    assert np.array_equal(np.isnan(xyz), np.isnan(batch.xyz_world))
    assert np.nanmax(np.abs(xyz - batch.xyz_world)) < 1e-9
    assert np.array_equal(np.stack([r.n_views for r in per_frame]), batch.n_views)
    assert np.array_equal(np.stack([r.inliers for r in per_frame], axis=1), batch.inliers)
    assert np.isfinite(batch.xyz_world).all(axis=-1).mean() > 0.9  # 20% outliers: a few points lost
