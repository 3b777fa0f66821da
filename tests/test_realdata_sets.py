"""Keypoint sets on real footage: MediaPipe detections of Pose2Sim's Demo_Batch/Trial_1, written as
the sets other tools exchange (as OpenPose-format JSON without a set record, like those tools write),
read back by name, triangulated and exported."""
import json
import logging

import numpy as np
import pytest

from capture3d.body.convert import convert_keypoints
from capture3d.body.keypoint_sets import BODY_25, get_keypoint_set
from capture3d.cli import main
from capture3d.config import FilterConfig, TrackingConfig
from capture3d.io.openpose_json import read_openpose_folder, write_openpose_folder
from capture3d.io.rig_files import load_rig
from capture3d.reconstruct.folders import triangulate_folders

pytestmark = pytest.mark.realdata
RAW = dict(tracking=TrackingConfig(enabled=False), filtering=FilterConfig(enabled=False))


@pytest.fixture(scope="module")
def qca(shared_data):
    return shared_data / "pose2sim" / "Demo_Batch" / "calibration" / "Calib.qca.txt"


@pytest.fixture(scope="module")
def body25_folders(trial1_mediapipe):
    return [trial1_mediapipe / f"cam0{i}" for i in range(1, 5)]


def _as_set(folders, name, root):
    """The detections rewritten in set ``name`` (no keypoint_set record, as OpenPose / Pose2Sim write)."""
    kps = get_keypoint_set(name)
    out = []
    for f in folders:
        write_openpose_folder(root / name / f.name, convert_keypoints(read_openpose_folder(f).keypoints, BODY_25, kps))
        out.append(root / name / f.name)
    return out


def _shared_joint_error_mm(a, b):
    """mm distances over the joints both Keypoints3D have, by name."""
    shared = [n for n in a.keypoint_set.names if n in b.keypoint_set.names]
    pa = a.xyz_world[:, [a.keypoint_set.index(n) for n in shared]]
    pb = b.xyz_world[:, [b.keypoint_set.index(n) for n in shared]]
    return 1000 * np.linalg.norm(pa - pb, axis=-1)


@pytest.mark.parametrize("name", ["BODY_25B", "HALPE_26", "COCO_17", "MEDIAPIPE_33"])
def test_each_set_triangulates_the_same_joints(name, body25_folders, qca, tmp_path):
    rig = load_rig(qca)
    ref = triangulate_folders(rig, body25_folders, 60.0, **RAW)
    folders = _as_set(body25_folders, name, tmp_path)
    out = triangulate_folders(rig, folders, 60.0, keypoint_set=name, **RAW)
    assert out.keypoint_set.name == name and out.metadata["keypoint_set"] == name
    d = _shared_joint_error_mm(out, ref)
    assert np.isfinite(d).mean() > 0.85 and np.nanmax(d) < 1e-6  # the same joints, to the nanometre
    # the whole chain (tracking, left/right repair, filters) runs on each set's own tree and pairs
    full = triangulate_folders(rig, folders, 60.0, keypoint_set=name)
    seen = out.valid.any(axis=0)  # the joints MediaPipe supplies in this set
    assert full.valid[:, seen].mean() > out.valid[:, seen].mean() - 0.03
    assert np.nanmedian(full.reproj_err_px) < 8.0


def test_body25b_read_as_body25_is_caught(body25_folders, qca, tmp_path, caplog):
    """The bug report: BODY_25B JSON silently read as BODY_25 gave ~1 m errors. Now the data names it."""
    rig = load_rig(qca)
    ref = triangulate_folders(rig, body25_folders, 60.0, **RAW)
    folders = _as_set(body25_folders, "BODY_25B", tmp_path)
    with caplog.at_level(logging.WARNING):
        wrong = triangulate_folders(rig, folders, 60.0, keypoint_set="BODY_25", **RAW)
    assert "look like BODY_25B" in caplog.text and "--keypoint-set BODY_25B" in caplog.text
    assert np.nanpercentile(_shared_joint_error_mm(wrong, ref), 95) > 300  # what the user got before
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        unnamed = triangulate_folders(rig, folders, 60.0, **RAW)  # 25 joints, no record: the geometry decides
    assert unnamed.keypoint_set.name == "BODY_25B" and "look like" not in caplog.text
    assert np.nanmax(_shared_joint_error_mm(unnamed, ref)) < 1e-6


def test_triangulate_cli_records_the_set_in_every_output(body25_folders, qca, tmp_path, capsys):
    folders = _as_set(body25_folders, "HALPE_26", tmp_path)
    outs = {fmt: tmp_path / f"pose.{fmt}" for fmt in ("csv", "json", "trc", "c3d", "bvh")}
    for path in outs.values():
        assert main(["triangulate", "--rig", str(qca), "--keypoints2d", *map(str, folders), "--fps", "60",
                     "-o", str(path)]) == 0
    assert "(HALPE_26)" in capsys.readouterr().out  # 26 joints: only HALPE_26 has that many
    from capture3d.export import read_keypoints3d
    for fmt in ("csv", "json", "trc", "c3d"):
        back = read_keypoints3d(outs[fmt])
        assert back.keypoint_set.name == "HALPE_26", fmt
    assert json.loads(outs["csv"].with_name("pose.csv.meta.json").read_text())["keypoint_set"] == "HALPE_26"
    from capture3d.export.bvh_read import read_bvh
    bvh = read_bvh(outs["bvh"])
    csv3d = read_keypoints3d(outs["csv"])
    k = csv3d.keypoint_set.index("LKnee")
    err = np.linalg.norm(bvh.xyz_world[:, bvh.keypoint_set.index("LKnee")] - csv3d.xyz_world[:, k], axis=-1)
    assert np.nanmedian(err) < 0.02  # metres: the BVH skeleton follows the knee


def test_detect_writes_the_named_set(shared_data, tmp_path):
    videos = sorted((shared_data / "pose2sim" / "Demo_Batch" / "Trial_2" / "videos").glob("cam0[12].mp4"))
    out = tmp_path / "halpe"
    assert main(["detect", *map(str, videos), "--frames", "3", "--keypoint-set", "HALPE_26", "-o", str(out)]) == 0
    files = sorted((out / "cam01").glob("*.json"))
    assert len(files) == 3
    doc = json.loads(files[0].read_text())
    assert doc["keypoint_set"] == "HALPE_26" and len(doc["people"][0]["pose_keypoints_2d"]) == 26 * 3
    kp = read_openpose_folder(out / "cam01")
    assert kp.keypoint_set == "HALPE_26"
    head_top = kp.keypoints[:, 0, get_keypoint_set("HALPE_26").index("HeadTop")]
    assert (head_top[:, 2] == 0).all()  # MediaPipe has no head top: written missing, never invented
    assert json.loads((out / "detect_config.json").read_text())["keypoint_set"] == "HALPE_26"
