"""Rig calibration on real footage: Caliscope's 4-webcam ChArUco session (../shared/data/caliscope).

The board file is Caliscope's own charuco.toml (inverted board), frames pair through its timestamps.csv,
and the result is compared with Caliscope's optimized camera_array.toml. Every 3rd sync index keeps the
test short (about 7 s per calibration). Full-quality numbers: docs/rig-calibration.md.
"""
from __future__ import annotations

import json

import pytest

from calib_helpers import run_calibrate
from capture3d.io.rig_files import load_rig

pytestmark = pytest.mark.realdata


_run = run_calibrate


@pytest.fixture(scope="module")
def caliscope(shared_data):
    root = shared_data / "caliscope" / "charuco_calibration"
    if not (root / "calibration" / "extrinsic" / "timestamps.csv").is_file():
        pytest.skip(f"Caliscope's sample session not found in {root}")
    return root


def _calibrate(caliscope, out, *extra):
    assert _run(["calibrate", "rig", "--board", str(caliscope / "charuco.toml"),
                 str(caliscope / "calibration" / "extrinsic"), "-o", str(out / "rig.toml"), "--stride", "3",
                 "--reference", str(caliscope / "camera_array.toml"), "--no-progress", *extra]) == 0
    return load_rig(out / "rig.toml"), json.loads((out / "rig_report" / "report.json").read_text())


def test_caliscope_session_with_its_intrinsics(caliscope, tmp_path):
    """Caliscope's intrinsics held fixed: the poses alone, against Caliscope's optimized rig."""
    rig, rep = _calibrate(caliscope, tmp_path, "--intrinsics", str(caliscope / "camera_array.toml"),
                          "--fix-intrinsics")
    assert rig.names == ["cam_0", "cam_1", "cam_2", "cam_3"]
    assert all(c["views_used"] >= 4 for c in rep["cameras"])
    assert max(c["rms_px"] for c in rep["cameras"]) < 1.5  # measured 0.71-1.31 px (stride 3; unrefined markers 0.72-0.95)
    assert abs(rep["square_check"]["error_pct"]) < 1.0 and rep["square_check"]["pairs"] > 150
    ref = rep["reference"]
    assert max(c["center_mm"] for c in ref["cameras"]) < 20  # measured 4.7-7.6 mm
    assert max(c["rotation_deg"] for c in ref["cameras"]) < 1.0  # measured 0.2-0.6 deg
    assert 0.98 < ref["scale"] < 1.02
    # bootstrap (5 resamples): measured 2.7-5.5 mm, 0.65-0.94 deg here (0.8-1.7 mm, 0.27-0.29 deg, all frames)
    assert all(c["center_uncertainty_mm"] < 10 and c["rotation_uncertainty_deg"] < 2 for c in rep["cameras"])


def test_caliscope_session_from_scratch(caliscope, tmp_path):
    """Intrinsics from the session views alone (8-27% of each image covered): every camera calibrated and the
    scale right, but the lenses are poorly constrained (the report says so), so the poses differ from
    Caliscope's (which calibrated its intrinsics on separate close-up videos)."""
    rig, rep = _calibrate(caliscope, tmp_path, "--uncertainty", "0")
    assert len(rig) == 4 and all(c["views_used"] >= 4 for c in rep["cameras"])
    assert max(c["rms_px"] for c in rep["cameras"]) < 1.3  # measured 0.59-1.05 px (stride 3)
    assert abs(rep["square_check"]["error_pct"]) < 1.0
    assert sum("constrain this lens poorly" in w for w in rep["warnings"]) >= 3
    assert max(c["center_mm"] for c in rep["reference"]["cameras"]) < 50  # measured 19-34 mm


def _subset_session(caliscope, tmp_path, cams: list[int], old_layout: bool = False):
    """A session of some of Caliscope's cameras (links to its videos) with its timestamps.csv, optionally
    rewritten in Caliscope's older layout (sync_index, cam_id, frame_time; a camera's rows in frame order)."""
    import csv
    src = caliscope / "calibration" / "extrinsic"
    s = tmp_path / "session"
    s.mkdir(parents=True)
    for c in cams:
        (s / f"cam_{c}.mp4").symlink_to(src / f"cam_{c}.mp4")
    rows = list(csv.DictReader(open(src / "timestamps.csv", newline="")))
    if old_layout:
        rows.sort(key=lambda r: (int(r["frame_index"]), int(r["cam_id"])))
        lines = ["sync_index,cam_id,frame_time"] + [f"{r['sync_index']},{r['cam_id']},{r['frame_time']}" for r in rows]
    else:
        lines = ["sync_index,cam_id,frame_index,frame_time"] + [
            f"{r['sync_index']},{r['cam_id']},{r['frame_index']},{r['frame_time']}" for r in rows]
    (s / "timestamps.csv").write_text("\n".join(lines) + "\n")
    return s


def test_both_timestamps_layouts_pair_the_same_frames(caliscope, tmp_path):
    """Caliscope's older timestamps.csv (no frame_index) pairs the same video frames as the current one."""
    from capture3d.calib.session import session_inputs
    from capture3d.calib.sync_table import read_sync_table

    new = _subset_session(caliscope, tmp_path / "new", [0, 1, 2, 3])
    old = _subset_session(caliscope, tmp_path / "old", [0, 1, 2, 3], old_layout=True)
    t_new = read_sync_table(new / "timestamps.csv", session_inputs(new))
    t_old = read_sync_table(old / "timestamps.csv", session_inputs(old))
    assert t_old.sync_indices == t_new.sync_indices and len(t_new.sync_indices) > 100
    assert t_old.frames == t_new.frames


def test_three_cameras_of_the_session(caliscope, tmp_path):
    """Three of the four webcams (older timestamps layout), Caliscope's intrinsics fixed: against its rig."""
    session = _subset_session(caliscope, tmp_path, [0, 1, 2], old_layout=True)
    assert _run(["calibrate", "rig", "--board", str(caliscope / "charuco.toml"), str(session), "-o",
                 str(tmp_path / "rig.toml"), "--stride", "3", "--reference", str(caliscope / "camera_array.toml"),
                 "--intrinsics", str(caliscope / "camera_array.toml"), "--fix-intrinsics", "--no-progress",
                 "--uncertainty", "2"]) == 0
    rep = json.loads((tmp_path / "rig_report" / "report.json").read_text())
    assert [c["name"] for c in rep["cameras"]] == ["cam_0", "cam_1", "cam_2"]
    assert max(c["rms_px"] for c in rep["cameras"]) < 1.5
    assert len(rep["pairs"]) == 3 and all(p["epipolar_points"] > 0 for p in rep["pairs"])
    assert max(c["rotation_deg"] for c in rep["reference"]["cameras"]) < 1.0
    assert max(c["center_mm"] for c in rep["reference"]["cameras"]) < 20
    assert len(rep["uncertainty"]["cameras"]) == 3
