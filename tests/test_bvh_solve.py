"""The BVH rotation solve (shared by the BVH exports and the VMC stream) restructured for speed gives the
numbers of the previous solve (tests/bvh_reference_solve.py) within 1e-9, gaps and degenerate poses included;
one frame at a time equals all frames at once; the VMC quaternions equal scipy's."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from bvh_reference_solve import reference_solve_rotations
from capture3d.export.bvh_write import (BVHOptions, fill_missing_frames, motion_channels, prepare, solve_plan,
                                        solve_rotations)
from capture3d.geometry import rotations as rot
from capture3d.stream.humanoid import matrices_to_quaternions
from capture3d.synth import walking_motion
from capture3d.types import Keypoints3D


def _case(whole_body: bool, options: BVHOptions, seed: int):
    """Skeleton, rest and (T, K, 3) output-axes keypoints: a walk with ~3 mm noise, gaps and degenerate frames.

    (Rounding differs between the two solves at 1e-16; a shortest arc between nearly opposite directions
    amplifies it by 1 / (1 + u.v), so noise of the size of a finger bone would make the comparison about the
    inputs' conditioning, not the solve.)"""
    m = walking_motion(240, 60.0, whole_body=whole_body)
    skel, rest, xyz = prepare(Keypoints3D.from_positions(m.xyz_world, m.fps, m.keypoint_set), options)
    rng = np.random.default_rng(seed)
    xyz = xyz + rng.normal(0.0, 0.002 * np.nanmax(np.abs(xyz)), xyz.shape)
    assert np.isfinite(xyz[:, skel.keypoint_joint >= 0]).all()
    names = m.keypoint_set.names
    k = {n: i for i, n in enumerate(names)}
    used = np.flatnonzero(skel.keypoint_joint >= 0)
    gaps = rng.random((xyz.shape[0], len(used))) < 0.04
    xyz[:, used] = np.where(gaps[..., None], np.nan, xyz[:, used])   # missing joints: fallbacks
    xyz[5, k["LHip"]] = xyz[5, k["RHip"]]                          # pelvis frame degenerate (zero aim)
    xyz[6, k["Neck"]] = xyz[6, k["MidHip"]] + 2.0 * (xyz[6, k["LHip"]] - xyz[6, k["RHip"]])  # ref parallel to aim
    xyz[7, :] = np.nan                                             # nothing seen
    folded = None
    if whole_body:  # the index finger's tip folded straight back: an aim opposite its rest direction
        a, b, c = k["LHand_Index2"], k["LHand_Index3"], k["LHand_Index4"]
        xyz[9, [a, b, c]] = xyz[8, [a, b, c]]
        xyz[9, c] = xyz[9, b] - 0.7 * (xyz[9, b] - xyz[9, a])
        folded = [j for j, jt in enumerate(skel.joints) if jt.name == "LHand_Index3"][0]
    return skel, rest, xyz, folded


@pytest.mark.parametrize("whole_body", [False, True])
@pytest.mark.parametrize("options", [BVHOptions(), BVHOptions(units="m", axes="z-up", rest_pose="a")])
def test_fast_solve_gives_the_previous_solve_numbers(whole_body, options):
    skel, rest, xyz, folded = _case(whole_body, options, seed=3 + whole_body)
    local0, G0 = reference_solve_rotations(skel, rest, xyz)
    plan = solve_plan(skel, rest)
    local, G = solve_rotations(skel, rest, xyz, plan, with_global=True)
    assert local.shape == local0.shape == (skel.n_joints, xyz.shape[0], 3, 3)
    assert np.isfinite(local).all() and np.isfinite(G).all()
    assert np.abs(local - local0).max() < 1e-9 and np.abs(G - G0).max() < 1e-9
    assert np.allclose(local[:, 7], local0[:, 7], atol=1e-12)       # the empty frame: every fallback
    if folded is not None:  # the half turn was taken (and agrees with the previous solve)
        assert rot.rotation_angle_deg(local[folded, 9], np.eye(3)) == pytest.approx(180.0, abs=1e-3)
    # the BVH file's numbers: the Euler channels from the previous solve's local rotations
    order = options.channel_order
    filled = xyz.copy()  # as write_bvh solves: gaps interpolated first
    used = skel.keypoint_joint >= 0
    filled[:, used] = fill_missing_frames(xyz[:, used], options.gaps)
    values = motion_channels(skel, rest, filled, order)
    ref_local = reference_solve_rotations(skel, rest, filled)[0]
    ref_ang = rot.matrices_to_euler_deg(ref_local.transpose(1, 0, 2, 3), order).reshape(xyz.shape[0], -1)
    ang = values[:, 3:]
    assert np.abs(((ang - ref_ang) + 180.0) % 360.0 - 180.0).max() < 1e-9


def test_one_frame_at_a_time_equals_all_frames_at_once():
    skel, rest, xyz, _ = _case(True, BVHOptions(), seed=5)
    plan = solve_plan(skel, rest)
    local_all, G_all = solve_rotations(skel, rest, xyz[:40], plan, with_global=True)
    for t in range(40):
        local, G = solve_rotations(skel, rest, xyz[t:t + 1], plan, with_global=True)
        assert np.abs(local[:, 0] - local_all[:, t]).max() < 1e-12 and np.abs(G[:, 0] - G_all[:, t]).max() < 1e-12


def test_quaternions_match_scipy_including_half_turns():
    R = Rotation.random(3000, random_state=7).as_matrix()
    R[:4] = np.diag([1.0, -1, -1]), np.diag([-1.0, 1, -1]), np.diag([-1.0, -1, 1]), np.eye(3)
    q = matrices_to_quaternions(R.reshape(30, 100, 3, 3)).reshape(-1, 4)
    ref = Rotation.from_matrix(R).as_quat()
    ref *= np.where(ref[:, 3:] < 0, -1.0, 1.0)
    assert (q[:, 3] >= 0).all() and np.abs(np.linalg.norm(q, axis=1) - 1).max() < 1e-12
    assert np.abs(q - ref).max() < 1e-12
    assert np.abs(Rotation.from_quat(q).as_matrix() - R).max() < 1e-12
