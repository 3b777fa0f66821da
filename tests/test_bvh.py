"""BVH writer/reader: round trips through forward kinematics, rest pose, gaps, bad input, conventions."""
import numpy as np
import pytest

from capture3d.body.bones import bone_lengths
from capture3d.errors import ExportError
from capture3d.export import FORMATS, read_keypoints3d, write_keypoints3d
from capture3d.export.bvh import parse_bvh, read_bvh, write_bvh
from capture3d.export.bvh_read import forward_kinematics
from capture3d.export.bvh_skeleton import default_include
from capture3d.export.bvh_write import keypoint_bone_lengths
from capture3d.body.keypoint_sets import BODY_25
from capture3d.synth import walking_motion
from capture3d.types import Keypoints3D


def _kp(motion, xyz=None):
    return Keypoints3D.from_positions(motion.xyz_world if xyz is None else xyz, motion.fps, motion.keypoint_set)


@pytest.fixture(scope="module")
def walk60():
    return walking_motion(400, 60.0)


@pytest.fixture(scope="module")
def walk_hands():
    return walking_motion(300, 60.0, whole_body=True)


def _err_mm(a, b):
    return 1e3 * np.linalg.norm(a - b, axis=-1)


@pytest.mark.parametrize("opts", [
    {},
    {"units": "m", "axes": "z-up", "channel_order": "XYZ", "rest_pose": "a"},
    {"channel_order": "YZX", "axes": "z-up"},
    {"channel_order": "ZYX", "units": "m"},
])
def test_roundtrip_every_joint_within_1mm(tmp_path, walk60, opts):
    kp = _kp(walk60)
    back = read_bvh(write_bvh(tmp_path / "w.bvh", kp, **opts))
    assert back.keypoint_set is BODY_25 and back.n_frames == kp.n_frames and back.fps == 60.0
    assert back.valid.all()
    err = _err_mm(back.xyz_world, kp.xyz_world)
    assert err.max() < 1.0, f"max FK error {err.max():.3f} mm"
    assert back.metadata["units"] == opts.get("units", "cm") and back.metadata["axes"] == opts.get("axes", "y-up")


def test_roundtrip_with_hands(tmp_path, walk_hands):
    kp = _kp(walk_hands)
    path = write_bvh(tmp_path / "h.bvh", kp)
    data = parse_bvh(path.read_text())
    # 65 keypoints + bone joints: 3 at MidHip, 3 at Neck, 2 at Nose, 2 per ankle, 5 per wrist
    assert len(data.names) == 65 + 3 + 3 + 2 + 2 * 2 + 2 * 5
    back = read_bvh(path)
    assert back.keypoint_set.name == "WHOLEBODY_135"
    assert back.valid[:, :65].all() and not back.valid[:, 65:].any()  # face is not in the skeleton
    err = _err_mm(back.xyz_world[:, :65], kp.xyz_world[:, :65])
    assert err.max() < 1.0
    body_only = read_bvh(write_bvh(tmp_path / "b.bvh", kp, hands=False))
    assert body_only.valid[:, :25].all() and not body_only.valid[:, 25:].any()


def test_noisy_input_error_bounded_by_bone_length_adjustment(tmp_path, walk60):
    rng = np.random.default_rng(3)
    xyz = walk60.xyz_world + rng.normal(0.0, 0.008, walk60.xyz_world.shape)
    kp = _kp(walk60, xyz)
    back = read_bvh(write_bvh(tmp_path / "n.bvh", kp))
    L = keypoint_bone_lengths(xyz, BODY_25)
    # accumulated |measured - rest| bone length along the path from the root, per frame and joint
    dev = np.zeros(xyz.shape[:2])
    depth = [0] * 25
    for k in range(25):
        q = k
        while BODY_25.parents[q] >= 0:
            q, depth[k] = BODY_25.parents[q], depth[k] + 1
    for k in sorted(range(25), key=depth.__getitem__):
        p = BODY_25.parents[k]
        if p >= 0:
            dev[:, k] = dev[:, p] + np.abs(np.linalg.norm(xyz[:, k] - xyz[:, p], axis=-1) - L[k])
    err = np.linalg.norm(back.xyz_world - xyz, axis=-1)
    assert np.nanmax(err - dev) < 1e-5, "FK error exceeds the bone-length adjustment"
    assert 1e3 * np.max(err) > 1.0  # the noise does change bone lengths: the bound is not trivial


def test_rest_pose_offsets_are_bone_lengths_in_a_clean_pose(tmp_path, walk60):
    kp = _kp(walk60)
    L = keypoint_bone_lengths(walk60.xyz_world, BODY_25)
    for pose, arm in (("t", np.array([-1.0, 0.0, 0.0])), ("a", np.array([-1.0, -1.0, 0.0]) / np.sqrt(2))):
        data = parse_bvh(write_bvh(tmp_path / f"{pose}.bvh", kp, rest_pose=pose).read_text())
        off = dict(zip(data.names, data.offsets))
        for name in ("Neck", "RKnee", "RAnkle", "RElbow", "LWrist", "REar"):
            assert abs(np.linalg.norm(off[name]) - 100 * L[BODY_25.index(name)]) < 1e-4  # cm, 6 decimals
        assert np.allclose(off["RElbow"] / np.linalg.norm(off["RElbow"]), arm, atol=1e-6)
        assert np.allclose(off["RKnee"] / np.linalg.norm(off["RKnee"]), [0, -1, 0], atol=1e-6)
        assert np.allclose(off["MidHip_RHip"], 0) and np.allclose(off["Neck"][[0, 2]], 0)
        # rest skeleton stands on y = 0
        rest = np.zeros((len(data.names), 3))
        for j in range(1, len(data.names)):
            rest[j] = rest[data.parents[j]] + data.offsets[j]
        rest += data.offsets[0]
        assert abs(rest[:, 1].min()) < 1e-6 and rest[:, 1].max() > 150


def test_gaps_never_nan_and_interpolated(tmp_path, walk60):
    xyz = walk60.xyz_world.copy()
    rw = BODY_25.index("RWrist")
    xyz[100:130, rw] = np.nan          # a wrist gap
    xyz[200:205] = np.nan              # whole frames lost
    xyz[:10, BODY_25.index("LEar")] = np.nan  # a joint missing at the start
    kp = _kp(walk60, xyz)
    for gaps in ("interpolate", "hold"):
        path = write_bvh(tmp_path / f"g_{gaps}.bvh", kp, gaps=gaps)
        assert "nan" not in path.read_text().lower()
        back = read_bvh(path)
        assert back.valid.all()
        ok = np.broadcast_to(np.isfinite(xyz).all(axis=(1, 2))[:, None], xyz.shape[:2]).copy()  # no gap
        ok[100:130] = False
        ok[:10] = False
        assert _err_mm(back.xyz_world, walk60.xyz_world)[ok].max() < 1.0
        # inside the wrist gap: the wrist follows the filled position (direction from the elbow)
        if gaps == "interpolate":
            fill = np.linspace(0, 1, 32)[1:-1, None] * (xyz[130, rw] - xyz[99, rw]) + xyz[99, rw]
        else:
            fill = np.broadcast_to(xyz[99, rw], (30, 3))
        elbow = back.xyz_world[100:130, BODY_25.index("RElbow")]
        d_file = back.xyz_world[100:130, rw] - elbow
        d_fill = fill - elbow
        cos = np.sum(d_file * d_fill, axis=1) / np.linalg.norm(d_file, axis=1) / np.linalg.norm(d_fill, axis=1)
        assert cos.min() > 1 - 1e-8


def test_optional_joints_never_seen_are_left_out(tmp_path, walk60, caplog):
    xyz = walk60.xyz_world.copy()
    for n in ("LSmallToe", "RSmallToe"):  # what MediaPipe cannot supply
        xyz[:, BODY_25.index(n)] = np.nan
    with caplog.at_level("WARNING"):
        path = write_bvh(tmp_path / "mp.bvh", _kp(walk60, xyz))
    assert "LSmallToe, RSmallToe" in caplog.text
    names = parse_bvh(path.read_text()).names
    assert "RSmallToe" not in names and "RBigToe" in names
    back = read_bvh(path)
    assert np.isnan(back.xyz_world[:, BODY_25.index("RSmallToe")]).all()
    assert _err_mm(back.xyz_world, walk60.xyz_world)[:, np.isfinite(xyz[0]).all(axis=1)].max() < 1.0


def test_too_many_missing_joints_says_which(tmp_path, walk60):
    xyz = walk60.xyz_world.copy()
    xyz[:, BODY_25.index("RKnee")] = np.nan
    xyz[3:, BODY_25.index("LElbow")] = np.nan  # seen in 3 frames only: fewer than 5
    with pytest.raises(ExportError, match="RKnee, .*LElbow|LElbow.*RKnee") as exc:
        write_bvh(tmp_path / "bad.bvh", _kp(walk60, xyz))
    assert "RHip" not in str(exc.value)
    assert not (tmp_path / "bad.bvh").exists()


def test_inconsistent_frame_rate_and_bad_options(tmp_path, walk60):
    kp = Keypoints3D.from_positions(walk60.xyz_world, 30.0, BODY_25, times_s=np.arange(walk60.n_frames) / 60.0)
    with pytest.raises(ExportError, match=r"fps says 30 Hz but the timestamps step 16\.667 ms"):
        write_bvh(tmp_path / "r.bvh", kp)
    with pytest.raises(ExportError, match="permutation of XYZ"):
        write_bvh(tmp_path / "o.bvh", _kp(walk60), channel_order="ZXX")
    with pytest.raises(ExportError, match="cm, m"):
        write_bvh(tmp_path / "u.bvh", _kp(walk60), units="inch")
    with pytest.raises(ExportError, match="csv, json, trc, bvh, c3d"):
        write_keypoints3d(tmp_path / "x.fbx", _kp(walk60), "fbx")
    assert {"bvh", "c3d"} <= set(FORMATS)


def test_registry_roundtrip_and_frame_time(tmp_path, walk60):
    kp = _kp(walk60)
    path = write_keypoints3d(tmp_path / "reg.bvh", kp)
    text = path.read_text()
    assert f"Frames: {kp.n_frames}\nFrame Time: 0.01666667\n" in text
    back = read_keypoints3d(path)
    assert back.fps == 60.0 and np.allclose(back.times_s, kp.times_s, atol=1e-6)
    assert _err_mm(back.xyz_world, kp.xyz_world).max() < 1.0


def test_reader_follows_bvh_conventions():
    """Hand-computed answer: root position channels replace the OFFSET; channels compose in the
    listed order (Zrotation Xrotation Yrotation: R = Rz Rx Ry)."""
    text = """HIERARCHY
ROOT Hips
{
  OFFSET 100 100 100
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Arm
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.5
1 2 3 0 0 0 0 0 0
1 2 3 90 90 0 0 0 0
"""
    data = parse_bvh(text)
    pos, ends = forward_kinematics(data, end_sites=True)
    assert np.allclose(pos[0], [[1, 2, 3], [1, 12, 3]])
    assert np.allclose(ends[0, 1], [1, 17, 3])
    # frame 1: R = Rz(90) Rx(90); Rx(90) (0,1,0) = (0,0,1); Rz(90) (0,0,1) = (0,0,1)
    # (Rx Rz instead would give Rx(90) Rz(90) (0,1,0) = Rx(90) (-1,0,0) = (-1,0,0))
    assert np.allclose(pos[1, 1], [1, 2, 13])
    assert data.frame_time == 0.5


def test_include_selects_body_and_hands():
    from capture3d.body.keypoint_sets import WHOLEBODY_135
    assert default_include(BODY_25, True).all()
    inc = default_include(WHOLEBODY_135, True)
    assert inc[:65].all() and not inc[65:].any()
    assert default_include(WHOLEBODY_135, False).sum() == 25


def test_bone_lengths_helper_matches_bones_module(walk60):
    L = keypoint_bone_lengths(walk60.xyz_world, BODY_25)
    direct = bone_lengths(walk60.xyz_world[:1], np.array([[BODY_25.index("RHip"), BODY_25.index("RKnee")]]))[0, 0]
    assert abs(L[BODY_25.index("RKnee")] - direct) < 1e-12
    assert np.isnan(L[BODY_25.index("MidHip")])


def test_knee_is_a_clean_hinge_and_thorax_twist_is_seen(tmp_path, walk60):
    """Twist from the hip line: walking knee flexion is a rotation about the thigh's X axis (the hip
    line), the other two angles stay small; the shoulders' counter-rotation appears as thorax twist."""
    data = parse_bvh(write_bvh(tmp_path / "k.bvh", _kp(walk60), channel_order="XYZ").read_text())

    def angles(name):
        j = data.names.index(name)
        return data.motion[:, data.channel_start[j]:data.channel_start[j] + 3]

    for knee in ("RKnee", "LKnee"):
        a = angles(knee)
        assert a[:, 0].max() - a[:, 0].min() > 25.0       # flexion range of the synthetic gait
        assert np.abs(a[:, 1:]).max() < 3.0
    twist = angles("Neck")[:, 1]                          # thorax vs spine, about the spine (Y)
    assert 20.0 < twist.max() - twist.min() < 30.0  # synth: shoulders -0.12 sin, pelvis +0.1 sin: +-12.6 deg


def test_angles_are_continuous_over_time(tmp_path):
    """Euler angles are unwrapped: no 360-degree jumps between frames. The figure-eight sweeps about
    285 degrees of heading; turned by 0 and 180 degrees, one of the two crosses +-180 degrees, where
    raw Euler angles would jump."""
    m = walking_motion(600, 30.0)
    beyond = 0.0
    for turn in (1.0, -1.0):
        xyz = m.xyz_world * np.array([turn, turn, 1.0])    # 180-degree turn about world Z
        data = parse_bvh(write_bvh(tmp_path / "c.bvh", _kp(m, xyz)).read_text())
        ang = data.motion[:, 3:]
        assert np.abs(np.diff(ang, axis=0)).max() < 45.0
        beyond = max(beyond, np.abs(ang).max())
    assert beyond > 180.0  # unwrapping did act: values outside the principal range
