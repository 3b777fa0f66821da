"""Live BVH: streamed frames equal the batch file; an interrupted recording stays readable / repairable."""
import numpy as np
import pytest

from capture3d.errors import ExportError
from capture3d.export.bvh import BVHOptions, BVHStreamWriter, parse_bvh, read_bvh, repair_bvh, write_bvh
from capture3d.export.bvh_write import keypoint_bone_lengths
from capture3d.synth import walking_motion
from capture3d.types import Keypoints3D


@pytest.fixture(scope="module")
def walk():
    return walking_motion(300, 60.0, whole_body=True)


def _motion(path):
    return parse_bvh(path.read_text()).motion


def test_stream_equals_batch(tmp_path, walk):
    with BVHStreamWriter(tmp_path / "s.bvh", walk.keypoint_set, walk.fps, rest_frames=30) as w:
        for xyz in walk.xyz_world:
            w.append(xyz)
    batch = write_bvh(tmp_path / "b.bvh", Keypoints3D.from_positions(walk.xyz_world, walk.fps, walk.keypoint_set))
    ms, mb = _motion(tmp_path / "s.bvh"), _motion(batch)
    assert ms.shape == mb.shape == (300, 6 + 3 * 86)
    assert np.abs(ms - mb).max() < 2e-4  # same solver; only the last printed digit may differ
    back = read_bvh(tmp_path / "s.bvh")
    assert 1e3 * np.linalg.norm(back.xyz_world[:, :65] - walk.xyz_world[:, :65], axis=-1).max() < 1.0


def test_stream_with_given_rest_and_gaps(tmp_path, walk):
    L = keypoint_bone_lengths(walk.xyz_world, walk.keypoint_set)
    xyz = walk.xyz_world.copy()
    rw = walk.keypoint_set.index("RWrist")
    xyz[50:60, rw] = np.nan
    xyz[5, :] = np.nan
    path = tmp_path / "g.bvh"
    w = BVHStreamWriter(path, walk.keypoint_set, walk.fps, bone_lengths_m=L, options=BVHOptions(units="m"))
    assert "HIERARCHY" in path.read_text()  # header written at once with a given rest
    for x in xyz:
        w.append(x)
    w.close()
    assert "nan" not in path.read_text().lower()
    back = read_bvh(path)
    ok = np.ones(300, bool)
    ok[[5] + list(range(50, 60))] = False
    err = 1e3 * np.linalg.norm(back.xyz_world[:, :65] - walk.xyz_world[:, :65], axis=-1)
    assert err[ok].max() < 1.0
    # held wrist: same offset from the elbow as in the last frame it was seen (frame 49)
    el = walk.keypoint_set.index("RElbow")
    d49 = walk.xyz_world[49, rw] - walk.xyz_world[49, el]
    d = back.xyz_world[50:60, rw] - back.xyz_world[50:60, el]
    assert np.allclose(d, d49, atol=1e-6)


def test_interrupted_recording_is_readable_and_repairable(tmp_path, walk):
    path = tmp_path / "crash.bvh"
    w = BVHStreamWriter(path, walk.keypoint_set, walk.fps, rest_frames=20, sync_every=60, batch_frames=1)
    for xyz in walk.xyz_world[:130]:
        w.append(xyz)
    w._fh.flush()  # simulate a crash: the process dies without close()
    raw = path.read_bytes()
    cut = tmp_path / "cut.bvh"
    cut.write_bytes(raw[:-25])  # the last line half written
    # readable as is: the count was synced at 120 frames
    assert read_bvh(cut).n_frames == 120
    assert repair_bvh(cut) == 129
    back = read_bvh(cut)
    assert back.n_frames == 129
    err = 1e3 * np.linalg.norm(back.xyz_world[:, :65] - walk.xyz_world[:129, :65], axis=-1)
    assert err.max() < 1.0
    w.close()
    assert read_bvh(path).n_frames == 130


def test_stream_errors(tmp_path, walk):
    w = BVHStreamWriter(tmp_path / "e.bvh", walk.keypoint_set, walk.fps)
    with pytest.raises(ExportError, match=r"expected a \(135, 3\) frame"):
        w.append(np.zeros((25, 3)))
    with pytest.raises(ExportError, match="no frame was appended"):
        w.close()
    with pytest.raises(ExportError, match="fps must be > 0"):
        BVHStreamWriter(tmp_path / "f.bvh", walk.keypoint_set, 0.0)
    short = BVHStreamWriter(tmp_path / "short.bvh", walk.keypoint_set, walk.fps, rest_frames=30)
    for xyz in walk.xyz_world[:8]:   # closed before the rest frames were all collected
        short.append(xyz)
    short.close()
    assert read_bvh(tmp_path / "short.bvh").n_frames == 8


def test_stream_root_missing_at_start_is_not_sent_to_the_origin(tmp_path, walk):
    xyz = walk.xyz_world[:60].copy()
    root = walk.keypoint_set.index("MidHip")
    xyz[:3, root] = np.nan
    path = tmp_path / "lead.bvh"
    with BVHStreamWriter(path, walk.keypoint_set, walk.fps, rest_frames=10) as w:
        for x in xyz:
            w.append(x)
    back = read_bvh(path)
    # frames 0-2 hold the first seen root position (frame 3)
    assert np.allclose(back.xyz_world[:3, root], walk.xyz_world[3, root], atol=1e-6)
    assert 1e3 * np.linalg.norm(back.xyz_world[3:, :65] - walk.xyz_world[3:60, :65], axis=-1).max() < 1.0


def test_stream_waits_for_the_subject_before_fixing_the_rest(tmp_path, walk):
    xyz = np.concatenate([np.full((45, walk.keypoint_set.n_joints, 3), np.nan), walk.xyz_world[:100]])
    path = tmp_path / "late.bvh"
    w = BVHStreamWriter(path, walk.keypoint_set, walk.fps, rest_frames=30, batch_frames=1)
    for x in xyz[:50]:
        w.append(x)
    assert path.stat().st_size == 0          # still buffering: nobody to measure before frame 45
    for x in xyz[50:]:
        w.append(x)
    w.close()
    back = read_bvh(path)
    assert back.n_frames == 145
    err = 1e3 * np.linalg.norm(back.xyz_world[45:, :65] - walk.xyz_world[:100, :65], axis=-1)
    assert err.max() < 1.0
    # nobody at all within max_rest_frames: the error names the joints
    w = BVHStreamWriter(tmp_path / "empty.bvh", walk.keypoint_set, walk.fps, rest_frames=10, max_rest_frames=20)
    with pytest.raises(ExportError, match="root joint MidHip is never observed"):
        for _ in range(20):
            w.append(np.full((walk.keypoint_set.n_joints, 3), np.nan))
    with pytest.raises(ExportError, match="never observed"):
        w.close()
    assert w.closed
