"""timestamps.csv (Caliscope's frame pairing): which video frame of each camera is one sync index."""
from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from capture3d.calib.sync_table import read_sync_table
from capture3d.errors import CalibrationError


def _videos(root, counts):
    out = {}
    for name, n in counts.items():
        p = root / f"{name}.avi"
        vw = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"MJPG"), 30, (32, 24))
        for _ in range(n):
            vw.write(np.zeros((24, 32, 3), np.uint8))
        vw.release()
        out[name] = p
    return out


def test_rows_map_sync_indices_to_video_frames(tmp_path):
    inputs = _videos(tmp_path, {"cam_0": 3, "cam_1": 4})
    # cam_0: one row per video frame, frame_index counted from the recording start (40..42) -> rank
    # cam_1: rows for 3 of its 4 frames, frame_index = video frame; it has no row for sync 11
    rows = ["sync_index,cam_id,frame_index,frame_time", "10,0,40,1.0", "11,0,41,1.1", "12,0,42,1.2",
            "10,1,1,1.0", "12,1,3,1.2", "13,1,2,1.3"]
    (tmp_path / "timestamps.csv").write_text("\n".join(rows) + "\n")
    table = read_sync_table(tmp_path / "timestamps.csv", inputs)
    assert table.sync_indices == [10, 11, 12, 13]
    assert table.frames == {"cam_0": {10: 0, 11: 1, 12: 2}, "cam_1": {10: 1, 13: 2, 12: 3}}


def test_bad_tables(tmp_path, caplog):
    inputs = _videos(tmp_path, {"cam_0": 2, "cam_1": 2})
    path = tmp_path / "timestamps.csv"
    path.write_text("sync,cam,frame\n1,0,0\n")
    with pytest.raises(CalibrationError, match=r"expected Caliscope's columns \['sync_index', 'cam_id', 'frame_index', "
                                               r"'frame_time'\] or the older \['sync_index', 'cam_id', 'frame_time'\], "
                                               r"found \['sync', 'cam', 'frame'\]"):
        read_sync_table(path, inputs)
    path.write_text("sync_index,cam_id,frame_index\n0,0,0\n0,5,0\n")
    with caplog.at_level(logging.WARNING):
        assert read_sync_table(path, inputs) is None
    assert "cam_id(s) [1]" in caplog.text and "paired by their order" in caplog.text
    path.write_text("sync_index,cam_id,frame_index\n0,0,0\n0,1,7\n")
    with pytest.raises(CalibrationError, match="camera cam_1 \\(cam_id 1\\) has 1 rows with frame_index up to 7 but "
                                               "its video has 2 frames"):
        read_sync_table(path, inputs)


def test_older_layout_without_frame_index_pairs_by_row_order(tmp_path, caplog):
    """Older Caliscope sessions write sync_index, cam_id, frame_time: a camera's k-th row is its video frame k
    (rows of the cameras interleaved, in frame order per camera)."""
    inputs = _videos(tmp_path, {"cam_0": 3, "cam_1": 4})
    rows = ["sync_index,cam_id,frame_time", "0,1,0.99", "0,0,1.0", "1,1,1.09", "1,0,1.1", "2,0,1.2", "2,1,1.21",
            "3,1,1.3"]
    (tmp_path / "timestamps.csv").write_text("\n".join(rows) + "\n")
    table = read_sync_table(tmp_path / "timestamps.csv", inputs)
    assert table.sync_indices == [0, 1, 2, 3]
    assert table.frames == {"cam_0": {0: 0, 1: 1, 2: 2}, "cam_1": {0: 0, 1: 1, 2: 2, 3: 3}}
    (tmp_path / "timestamps.csv").write_text("\n".join(rows[:-1]) + "\n")  # cam_1: 3 rows for 4 frames
    with caplog.at_level(logging.WARNING):
        table = read_sync_table(tmp_path / "timestamps.csv", inputs)
    assert table.frames["cam_1"] == {0: 0, 1: 1, 2: 2}
    assert "camera cam_1 (cam_id 1) has 3 rows but its video 4 frames" in caplog.text
