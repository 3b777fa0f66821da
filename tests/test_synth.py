import numpy as np

from capture3d.body.bones import bone_lengths, estimate_bone_lengths, tree_bones
from capture3d.synth import ErrorModel, make_rig, observe, walking_motion


def test_motion_has_constant_bones_and_plausible_size():
    m = walking_motion(300, 30.0, whole_body=True)
    assert m.xyz_world.shape == (300, 135, 3) and np.isfinite(m.xyz_world).all()
    L = bone_lengths(m.xyz_world, tree_bones(m.keypoint_set))
    body = L[:, :24]
    assert np.abs(body - body[0]).max() < 1e-9  # exactly rigid segments
    height = m.xyz_world[:, 0, 2].max() - m.xyz_world[:, :, 2].min()
    assert 1.5 < height < 1.8
    speed = np.linalg.norm(np.diff(m.xyz_world[:, 8, :2], axis=0), axis=1) * 30
    assert 0.3 < speed.mean() < 1.5  # walking pace, m/s


def test_rig_cameras_look_at_the_volume():
    rig = make_rig(8, seed=3)
    m = walking_motion(100, 30.0)
    xy = rig.project(m.xyz_world)
    inside = np.stack([c.in_image(x) for c, x in zip(rig.cameras, xy)])
    assert inside.mean() > 0.95
    centres = np.array([c.center_world for c in rig.cameras])
    assert np.all(np.linalg.norm(centres[:, :2], axis=1) > 3.5)


def test_error_model_rates_and_scores_track_error():
    rig = make_rig(4, seed=0)
    m = walking_motion(400, 30.0)
    o = observe(rig, m.xyz_world, ErrorModel(noise_px=2.0, missing=0.1, outliers=0.05, swaps=0.0), 5, m.keypoint_set)
    det = np.isfinite(o.keypoints_px[..., 0])
    assert abs(1 - det.sum() / o.visible.sum() - 0.10) < 0.01
    assert abs(o.outlier.sum() / det.sum() - 0.05) < 0.01
    err = np.linalg.norm(o.keypoints_px[..., :2] - o.true_px, axis=-1)
    assert 2.2 < np.median(err[o.inlier]) < 2.5  # Rayleigh median of sigma 2 = 2.35
    # 50-200 px, a few less where the displaced point was clipped back into the image
    assert np.percentile(err[o.outlier], 2) > 45 and 110 < np.median(err[o.outlier]) < 140
    assert o.keypoints_px[..., 2][o.inlier].mean() > o.keypoints_px[..., 2][o.outlier].mean() + 0.3


def test_swaps_exchange_left_and_right(rig4, walk):
    o = observe(rig4, walk.xyz_world, ErrorModel(noise_px=0.0, missing=0.0, outliers=0.0, swaps=0.5), 1,
                walk.keypoint_set)
    v, t = np.argwhere(o.swapped)[0]
    lw, rw = walk.keypoint_set.index("LWrist"), walk.keypoint_set.index("RWrist")
    assert np.allclose(o.keypoints_px[v, t, lw, :2], o.true_px[v, t, rw])


def test_seeded_reproducible(rig4, walk):
    a = observe(rig4, walk.xyz_world, ErrorModel(), 11, walk.keypoint_set).keypoints_px
    b = observe(rig4, walk.xyz_world, ErrorModel(), 11, walk.keypoint_set).keypoints_px
    assert np.array_equal(a, b, equal_nan=True)


def test_bone_length_estimate_is_robust(rng, walk):
    bones = tree_bones(walk.keypoint_set)
    noisy = walk.xyz_world + rng.normal(0, 0.005, walk.xyz_world.shape)
    noisy[::10, 4] += 0.3  # gross outliers on a wrist
    est = estimate_bone_lengths(noisy, bones)
    assert np.abs(est - bone_lengths(walk.xyz_world[:1], bones)[0]).max() < 0.004
