"""C3D through the ``c3d`` package: points, labels, units and rate survive a write/read."""
import numpy as np
import pytest

from capture3d.errors import ExportError
from capture3d.export import read_keypoints3d, write_keypoints3d
from capture3d.body.keypoint_sets import BODY_25
from capture3d.synth import walking_motion
from capture3d.types import Keypoints3D

pytestmark = pytest.mark.filterwarnings("ignore:No analog data found")

c3d = pytest.importorskip("c3d", reason="the c3d package (capture3d[export]) is not installed")


@pytest.fixture(scope="module")
def kp():
    m = walking_motion(240, 59.94, whole_body=True)
    xyz = m.xyz_world.copy()
    rng = np.random.default_rng(5)
    xyz[rng.random(xyz.shape[:2]) < 0.05] = np.nan
    return Keypoints3D.from_positions(xyz, m.fps, m.keypoint_set)


def test_roundtrip_points_labels_rate_missing(tmp_path, kp):
    back = read_keypoints3d(write_keypoints3d(tmp_path / "a.c3d", kp))
    assert back.keypoint_set is kp.keypoint_set
    assert abs(back.fps - 59.94) < 1e-4            # stored as float32
    assert back.n_frames == kp.n_frames
    assert np.array_equal(back.valid, kp.valid)
    err_mm = 1e3 * np.nanmax(np.abs(back.xyz_world - kp.xyz_world))
    assert err_mm < 1e-3                            # float32 millimetres


def test_library_sees_labels_units_rate_and_points(tmp_path, kp):
    path = write_keypoints3d(tmp_path / "b.c3d", kp)
    with open(path, "rb") as fh:
        r = c3d.Reader(fh)
        labels = [s.strip() for s in r.point_labels]
        assert labels == list(kp.keypoint_set.names)  # same marker names as TRC / CSV
        assert r.get("POINT:UNITS").string_value.strip() == "mm"
        assert abs(r.point_rate - 59.94) < 1e-4
        assert r.point_used == kp.keypoint_set.n_joints
        frames = [(i, p.copy()) for i, p, _ in r.read_frames()]
    assert len(frames) == kp.n_frames
    i, pts = frames[17]
    ok = kp.valid[17]
    assert np.allclose(pts[ok, :3], 1000 * kp.xyz_world[17, ok], atol=1e-3)
    assert (pts[~ok, 3] == -1).all() and (pts[ok, 3] >= 0).all()


def test_unknown_labels_and_garbage(tmp_path):
    m = walking_motion(20, 30.0)
    w = c3d.Writer(point_rate=30.0, point_scale=-1.0)
    pts = np.zeros((3, 5), np.float32)
    w.add_frames([(pts, np.zeros((0, 0), np.float32)) for _ in range(4)])
    w.set_point_labels(["A", "B", "C"])
    with open(tmp_path / "other.c3d", "wb") as fh:
        w.write(fh)
    with pytest.raises(ExportError, match="match no known keypoint set"):
        read_keypoints3d(tmp_path / "other.c3d")
    (tmp_path / "bad.c3d").write_bytes(b"not a c3d file at all" * 30)
    with pytest.raises(ExportError, match=r"bad\.c3d: not a C3D file \(expected the key byte 0x50"):
        read_keypoints3d(tmp_path / "bad.c3d")
    assert m.keypoint_set is BODY_25
