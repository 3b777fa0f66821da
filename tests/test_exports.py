import json

import numpy as np
import pytest

from capture3d.errors import ExportError
from capture3d.export import format_of, read_keypoints3d, write_keypoints3d
from capture3d.export.trc import TRC_FROM_WORLD
from capture3d.reconstruct.reconstructor import Reconstructor
from capture3d.types import Keypoints3D


@pytest.fixture(scope="module")
def kp3d(rig4, walk, noisy_obs):
    return Reconstructor(rig4, walk.keypoint_set).process_sequence(noisy_obs.keypoints_px, walk.times_s, walk.fps)


@pytest.mark.parametrize("suffix", [".csv", ".json", ".trc"])
def test_roundtrip_positions_and_missing(tmp_path, kp3d, suffix):
    assert (~kp3d.valid).sum() > 0  # the fixture has missing joints to carry through
    back = read_keypoints3d(write_keypoints3d(tmp_path / f"out{suffix}", kp3d))
    assert back.keypoint_set is kp3d.keypoint_set and back.fps == kp3d.fps
    assert np.array_equal(back.valid, kp3d.valid)
    assert np.nanmax(np.abs(back.xyz_world - kp3d.xyz_world)) < 1e-6  # 6 decimals of a metre
    assert np.abs(back.times_s - kp3d.times_s).max() < 1e-6
    if suffix != ".trc":  # TRC carries positions only
        assert np.nanmax(np.abs(back.reproj_err_px - kp3d.reproj_err_px)) < 1e-3
        assert np.array_equal(back.n_views, kp3d.n_views)
        assert np.abs(back.confidence - kp3d.confidence).max() < 1e-3


def test_csv_columns_follow_spec(tmp_path, kp3d):
    p = write_keypoints3d(tmp_path / "a.csv", kp3d)
    header = p.read_text().splitlines()[0].split(",")  # the header is the first line: no comment before it
    assert header[:7] == ["time_s", "Nose_x", "Nose_y", "Nose_z", "Nose_conf", "Nose_err_px", "Nose_views"]
    assert len(header) == 1 + 25 * 6
    meta = json.loads((tmp_path / "a.csv.meta.json").read_text())
    assert meta["keypoint_set"] == "BODY_25" and meta["fps"] == kp3d.fps and meta["units"] == "m"


def test_csv_opens_in_pandas_with_no_options_and_joints_are_whole(tmp_path, kp3d):
    pd = pytest.importorskip("pandas")
    xyz = kp3d.xyz_world.copy()
    xyz[3, 4, 0] = np.nan  # half a joint: stored as a missing joint
    kp = Keypoints3D(xyz, kp3d.confidence, kp3d.reproj_err_px, kp3d.n_views, kp3d.times_s, kp3d.fps,
                     kp3d.keypoint_set)
    assert np.isnan(kp.xyz_world[3, 4]).all()
    df = pd.read_csv(write_keypoints3d(tmp_path / "a.csv", kp))
    assert df.shape == (kp.n_frames, 1 + 25 * 6) and list(df.columns[:2]) == ["time_s", "Nose_x"]
    np.testing.assert_allclose(df["Neck_z"].to_numpy(), kp.xyz_world[:, 1, 2], atol=1e-6, equal_nan=True)
    trio = df[[f"{n}_{a}" for n in kp.keypoint_set.names for a in "xyz"]].to_numpy().reshape(kp.n_frames, 25, 3)
    nan = np.isnan(trio)
    assert (nan.all(axis=-1) == nan.any(axis=-1)).all()  # never half a joint
    assert np.isnan(trio[3, 4]).all()
    (tmp_path / "a.csv.meta.json").unlink()  # without the sidecar: set from the columns, fps from the times
    back = read_keypoints3d(tmp_path / "a.csv")
    assert back.keypoint_set.name == "BODY_25" and back.fps == pytest.approx(kp.fps, rel=1e-4)  # 6-decimal times


def test_json_is_openpose_style(tmp_path, kp3d):
    doc = json.loads(write_keypoints3d(tmp_path / "a.json", kp3d).read_text())
    person = doc["frames"][0]["people"][0]
    assert len(person["pose_keypoints_3d"]) == 25 * 4 and doc["units"] == "m"
    t, j = np.argwhere(~kp3d.valid)[0]
    flat = doc["frames"][t]["people"][0]["pose_keypoints_3d"]
    assert flat[4 * j: 4 * j + 4] == [0.0, 0.0, 0.0, 0.0]  # OpenPose's missing-joint convention


def test_trc_is_y_up_metres(tmp_path, walk):
    kp = Keypoints3D.from_positions(walk.xyz_world[:5], 30.0, walk.keypoint_set)
    lines = write_keypoints3d(tmp_path / "a.trc", kp).read_text().splitlines()
    assert lines[2].split("\t")[4] == "m"
    first = np.array([float(v) for v in lines[6].split("\t")[2:5]])
    assert np.allclose(first, TRC_FROM_WORLD @ walk.xyz_world[0, 0], atol=1e-6)
    assert first[1] == pytest.approx(walk.xyz_world[0, 0, 2], abs=1e-6)  # height is TRC's Y
    assert np.isclose(np.linalg.det(TRC_FROM_WORLD), 1.0)


def test_atomic_write_leaves_no_partial_file(tmp_path, kp3d, monkeypatch):
    target = tmp_path / "x.csv"
    target.write_text("previous")
    import capture3d.export.csvfile as mod

    def boom(*a, **k):
        raise RuntimeError("disk full")
    monkeypatch.setattr(mod, "_fmt", boom)
    with pytest.raises(RuntimeError):
        write_keypoints3d(target, kp3d)
    assert target.read_text() == "previous" and len(list(tmp_path.iterdir())) == 1


def test_bad_inputs(tmp_path):
    with pytest.raises(ExportError, match="suffix"):
        format_of("a.xyz")
    with pytest.raises(ExportError, match="formats"):
        format_of("a.csv", "fbx")
    with pytest.raises(ExportError, match="not found"):
        read_keypoints3d(tmp_path / "missing.csv")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ExportError, match="not a readable JSON"):
        read_keypoints3d(bad)
    bad = tmp_path / "bad.trc"
    bad.write_text("hello\n")
    with pytest.raises(ExportError, match="not a TRC"):
        read_keypoints3d(bad)
