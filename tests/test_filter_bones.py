"""Bone-length estimation and stabilization (capture3d.body.bones additions used by the filters)."""
import numpy as np
import pytest

from capture3d.body.bones import (RunningBoneLengths, bone_lengths, estimate_bone_lengths, relative_scale,
                             reprojection_information, stabilize_bone_lengths, tree_bones)
from capture3d.synth import walking_motion


def _noisy_walk(rng, n=120, sigma=0.01):
    m = walking_motion(n, 30.0)
    bones = tree_bones(m.keypoint_set)
    true_len = bone_lengths(m.xyz_world[:1], bones)[0]
    return m, bones, true_len, m.xyz_world + rng.normal(0, sigma, m.xyz_world.shape)


def test_stabilized_bones_have_the_target_lengths_and_poses_get_closer(rng):
    m, bones, true_len, noisy = _noisy_walk(rng)
    noisy[5, 4] = np.nan  # a missing wrist stays missing, its bones are skipped
    lengths = estimate_bone_lengths(noisy, bones)
    assert np.abs(lengths - true_len).max() < 0.01  # robust estimate within 1 cm of the truth
    out = stabilize_bone_lengths(noisy, bones, lengths, None, 10)
    dev = np.abs(bone_lengths(out, bones) - lengths)
    assert np.nanmax(dev) < 1e-3
    assert np.isnan(out[5, 4]).all() and np.isfinite(out[5, 3]).all()
    before = np.nanmean(np.linalg.norm(noisy - m.xyz_world, axis=-1))
    after = np.nanmean(np.linalg.norm(out - m.xyz_world, axis=-1))
    assert after < 0.9 * before


def test_information_metric_moves_joints_along_their_weak_direction():
    # two joints, a bone of 1.0 m along x, measured 1.1 m; joint 0 is well seen, joint 1 poorly along x
    xyz = np.array([[0.0, 0.0, 0.0], [1.1, 0.0, 0.0]])
    H = np.stack([np.eye(3) * 1e6, np.diag([1.0, 1e6, 1e6])])
    bones = np.array([[0, 1]])
    out = stabilize_bone_lengths(xyz, bones, np.array([1.0]), H, 20)
    assert abs(np.linalg.norm(out[1] - out[0]) - 1.0) < 1e-3
    # Euclidean: both ends share the 10 cm; with the metric the stiff joint 0 barely moves
    eu = stabilize_bone_lengths(xyz, bones, np.array([1.0]), None, 20)
    assert np.linalg.norm(eu[0] - xyz[0]) > 0.04
    assert np.linalg.norm(out[0] - xyz[0]) < 1e-3


def test_reprojection_information_predicts_the_error_growth(rig4):
    X = np.array([[0.1, 0.2, 1.0]])
    P, f = rig4.cams_from_world(), rig4.focal_px()
    H = reprojection_information(X, P, f, np.ones((len(rig4), 1)))[0]
    d = np.array([0.003, -0.002, 0.004])
    proj0, proj1 = rig4.project(X)[:, 0], rig4.project(X + d)[:, 0]
    # distortion-free model vs the distorted projection: agree within 15%
    actual = (np.linalg.norm(proj1 - proj0, axis=-1) ** 2).sum()
    assert abs(d @ H @ d - actual) < 0.15 * actual


def test_running_bone_lengths_and_relative_scale(rng):
    m, bones, true_len, noisy = _noisy_walk(rng, n=90, sigma=0.005)
    run = RunningBoneLengths(bones, window=60, min_frames=15, update_every=15)
    assert np.isnan(run.lengths).all()
    for x in noisy:
        run.add(x)
    assert np.abs(run.lengths - true_len).max() < 0.01
    bigger = walking_motion(1, 30.0, body_scale=1.1).xyz_world[0]
    assert abs(relative_scale(bigger, bones, true_len) - 0.1) < 1e-6
    assert abs(relative_scale(noisy[10], bones, true_len)) < 0.02


def test_stabilize_with_a_tolerance_band_moves_only_bones_outside_it():
    from capture3d.body.bones import stabilize_bone_lengths
    bones = np.array([[0, 1], [0, 2]])
    xyz = np.array([[[0.0, 0, 0], [1.05, 0, 0], [0, 1.01, 0]]])            # bone 0 at +5%, bone 1 at +1%
    out = stabilize_bone_lengths(xyz, bones, np.array([1.0, 1.0]), iterations=30, tolerance=0.02)
    L = np.linalg.norm(out[0, bones[:, 1]] - out[0, bones[:, 0]], axis=-1)
    assert 1.0 < L[0] <= 1.02 + 1e-6 and 1.0 < L[1] <= 1.02 + 1e-6       # both in the band, neither forced to 1
    assert np.abs(out[0, 2] - xyz[0, 2]).max() < 1e-9                       # the bone inside it was not moved
    exact = stabilize_bone_lengths(xyz, bones, np.array([1.0, 1.0]), iterations=30)
    assert np.allclose(np.linalg.norm(exact[0, bones[:, 1]] - exact[0, bones[:, 0]], axis=-1), 1.0, atol=1e-4)
