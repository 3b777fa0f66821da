"""Whole body through ``process``: a synthetic whole-body session (hands and face in the truth) gives hands
and face in every export, with the hands' accuracy against the truth; the demo reports MPJPE per part."""
import dataclasses
import json

import numpy as np
import pytest

from capture3d.body.keypoint_sets import WHOLEBODY_135
from capture3d.cli import main
from capture3d.config import AppConfig, RecordingConfig, load_config
from capture3d.demo import accuracy_by_part_mm
from capture3d.export import read_keypoints3d
from capture3d.io.recording import SessionWriter
from capture3d.runtime.pipeline import Pipeline
from capture3d.sources.synthetic import SyntheticSource

CONFIG = """
[source]
kind = "synthetic"
[synthetic]
cameras = 4
frames = 40
fps = 30.0
width = 640
height = 480
noise_px = 0.5
missing = 0.0
outliers = 0.0
swaps = 0.0
whole_body = true
[pipeline]
detector = "synthetic"
keypoint_set = "WHOLEBODY_135"
[export]
formats = ["csv", "json", "trc", "bvh", "c3d"]
"""

HAND = [i for i, n in enumerate(WHOLEBODY_135.names) if n.startswith(("LHand_", "RHand_"))]
FACE = [i for i, n in enumerate(WHOLEBODY_135.names) if n.startswith("Face_")]


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    """(OUT folder, truth xyz (T, 135, 3) m) of a 40-set whole-body session recorded offline and processed."""
    tmp = tmp_path_factory.mktemp("wholebody")
    (tmp / "cfg.toml").write_text(CONFIG)
    cfg = load_config(tmp / "cfg.toml")
    src = SyntheticSource.from_config(cfg.synthetic, live=False, max_frames=40)
    writer = SessionWriter(tmp / "S", [s.info.name for s in src.streams], src.fps, RecordingConfig(),
                           app_config=cfg, rig=src.rig, source_kind="synthetic")
    Pipeline(src, None, None, mode="offline", recorder=writer).run(60)
    assert main(["process", str(tmp / "S"), "-o", str(tmp / "OUT")]) == 0
    return tmp / "OUT", src.motion.xyz_world[:40]


def test_the_synthetic_source_films_a_whole_body_subject_when_asked():
    cfg = AppConfig()
    body = SyntheticSource.from_config(cfg.synthetic, live=False)
    whole = SyntheticSource.from_config(dataclasses.replace(cfg.synthetic, whole_body=True), live=False)
    assert body.motion.xyz_world.shape[1] == 25 and whole.motion.xyz_world.shape[1] == 135
    np.testing.assert_allclose(whole.motion.xyz_world[:, :25], body.motion.xyz_world, atol=1e-9)


@pytest.mark.parametrize("fmt", ["csv", "json", "trc", "c3d"])
def test_every_point_export_carries_the_hands_and_the_face(processed, fmt):
    out, truth = processed
    kp = read_keypoints3d(out / f"keypoints3d.{fmt}")
    assert kp.keypoint_set.n_joints == 135 and kp.n_frames == 40
    assert list(kp.keypoint_set.names) == list(WHOLEBODY_135.names)
    hands_ok = np.isfinite(kp.xyz_world[:, HAND, 0]).mean()
    face_ok = np.isfinite(kp.xyz_world[:, FACE, 0]).mean()
    assert hands_ok > 0.95 and face_ok > 0.95, (hands_ok, face_ok)
    # the files are in the rig's world frame, metres (TRC/C3D carry their units; the reader converts)
    err_mm = np.linalg.norm(kp.xyz_world[:, HAND] - truth[:, HAND], axis=-1) * 1000
    assert np.nanmedian(err_mm) < 5.0, np.nanmedian(err_mm)


def test_the_bvh_export_has_finger_joints(processed):
    out, _ = processed
    text = (out / "keypoints3d.bvh").read_text()
    fingers = [ln for ln in text.splitlines() if ln.strip().startswith("JOINT") and "Hand_" in ln]
    assert len(fingers) >= 30, len(fingers)  # 15 finger joints per hand at least


def test_hand_accuracy_against_the_truth(processed):
    out, truth = processed
    kp = read_keypoints3d(out / "keypoints3d.json")
    parts = accuracy_by_part_mm(kp.xyz_world, truth, kp.keypoint_set.names)
    assert set(parts) == {"body", "hands", "face"}
    # 0.5 px of 2D noise over 4 cameras: a few millimetres on every part
    for name, acc in parts.items():
        assert acc["median"] < 5.0 and acc["p95"] < 15.0, (name, acc)


def test_accuracy_by_part_reports_a_lost_part_as_nan():
    truth = np.zeros((3, 135, 3))
    est = truth + 0.001
    est[:, HAND] = np.nan
    parts = accuracy_by_part_mm(est, truth, WHOLEBODY_135.names)
    assert np.isnan(parts["hands"]["median"])
    assert parts["body"]["median"] == pytest.approx(np.sqrt(3), rel=1e-9)


def test_demo_report_gives_mpjpe_per_part(tmp_path, capsys):
    assert main(["demo", "--whole-body", "--frames", "60", "--no-viewer", "--out", str(tmp_path / "D")]) == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "D" / "report.json").read_text())
    parts = report["mpjpe_mm_by_part"]
    assert set(parts) == {"body", "hands", "face"}
    assert parts["hands"]["median"] < 10.0
    assert "MPJPE by part:" in out and "hands median" in out


def test_whole_body_set_on_a_body_only_synthetic_subject_says_what_to_set(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.replace("whole_body = true", ""))
    assert main(["live", "--config", str(cfg), "--no-viewer", "--duration", "0.5"]) != 0
    assert "[synthetic] whole_body = true" in capsys.readouterr().err
