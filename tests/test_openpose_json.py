import json

import numpy as np
import pytest

from capture3d.errors import KeypointFileError
from capture3d.io.openpose_json import read_openpose_file, read_openpose_folder, write_openpose_folder


def test_folder_roundtrip_with_missing_joints_and_people(tmp_path, rng):
    kp = np.concatenate([rng.uniform(0, 1000, (4, 2, 25, 2)), rng.uniform(0.1, 1, (4, 2, 25, 1))], axis=-1)
    kp[0, 1] = (np.nan, np.nan, 0)  # second person absent in frame 0
    kp[2, 0, 7] = (np.nan, np.nan, 0)
    write_openpose_folder(tmp_path, kp)
    back = read_openpose_folder(tmp_path)
    assert back.keypoints.shape == (4, 2, 25, 3) and back.frame_ids.tolist() == [0, 1, 2, 3]
    assert np.nanmax(np.abs(back.keypoints - kp)) < 1e-4
    assert np.array_equal(np.isnan(back.keypoints[..., 0]), np.isnan(kp[..., 0]))
    frame0 = json.loads(back.files[0].read_text())
    assert len(frame0["people"]) == 1


def test_openpose_zero_means_missing(tmp_path):
    p = tmp_path / "x_000000000007_keypoints.json"
    flat = [10.0, 20.0, 0.9] + [0.0, 0.0, 0.0] * 24
    p.write_text(json.dumps({"version": 1.3, "people": [{"pose_keypoints_2d": flat}]}))
    kp = read_openpose_file(p)
    assert kp.shape == (1, 25, 3) and kp[0, 0].tolist() == [10.0, 20.0, 0.9]
    assert np.isnan(kp[0, 1, 0]) and kp[0, 1, 2] == 0
    assert read_openpose_folder(tmp_path).frame_ids.tolist() == [7]


def test_bad_files(tmp_path):
    with pytest.raises(KeypointFileError, match="not found"):
        read_openpose_folder(tmp_path / "nope")
    with pytest.raises(KeypointFileError, match="no .json"):
        read_openpose_folder(tmp_path)
    p = tmp_path / "a_000000000000_keypoints.json"
    p.write_text("{")
    with pytest.raises(KeypointFileError, match="not a readable"):
        read_openpose_file(p)
    p.write_text(json.dumps({"people": [{"pose_keypoints_2d": [1.0, 2.0]}]}))
    with pytest.raises(KeypointFileError, match="triplets"):
        read_openpose_file(p)
