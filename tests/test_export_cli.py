"""``capture3d export`` and BVH/C3D through the config's [export] formats (demo)."""
import json

import numpy as np
import pytest

from capture3d.cli import main
from capture3d.config import ExportConfig
from capture3d.errors import ConfigError
from capture3d.export import read_keypoints3d, write_keypoints3d
from capture3d.export.bvh import parse_bvh
from capture3d.synth import walking_motion
from capture3d.types import Keypoints3D

pytestmark = pytest.mark.filterwarnings("ignore:No analog data found")


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    m = walking_motion(150, 30.0)
    path = tmp_path_factory.mktemp("in") / "keypoints3d.csv"
    write_keypoints3d(path, Keypoints3D.from_positions(m.xyz_world, m.fps, m.keypoint_set))
    return path, m


@pytest.mark.parametrize("fmt", ["bvh", "c3d", "trc", "json", "csv"])
def test_export_each_format(tmp_path, csv_file, fmt, capsys):
    src, m = csv_file
    out = tmp_path / f"out.{fmt}"
    assert main(["export", str(src), "--to", fmt, "-o", str(out)]) == 0
    assert "150 frames" in capsys.readouterr().out
    back = read_keypoints3d(out)
    assert back.n_frames == 150 and abs(back.fps - 30.0) < 1e-4
    assert 1e3 * np.nanmax(np.linalg.norm(back.xyz_world - m.xyz_world, axis=-1)) < 1.0


def test_bvh_options_and_folder_input(tmp_path, csv_file):
    src, m = csv_file
    out = tmp_path / "o.bvh"
    assert main(["export", str(src.parent), "-o", str(out), "--units", "m", "--axes", "z-up",
                 "--channel-order", "XZY", "--rest-pose", "a", "--gaps", "hold"]) == 0
    text = out.read_text()
    assert "CHANNELS 6 Xposition Yposition Zposition Xrotation Zrotation Yrotation" in text
    data = parse_bvh(text)
    neck = data.offsets[data.names.index("Neck")]
    assert neck[2] > 0.3 and abs(neck[1]) < 1e-9        # metres, Z up
    elbow = data.offsets[data.names.index("RElbow")]
    assert np.allclose(elbow / np.linalg.norm(elbow), [-np.sqrt(0.5), 0, -np.sqrt(0.5)])  # A-pose, Z up
    back = read_keypoints3d(out)
    assert back.metadata["units"] == "m" and back.metadata["axes"] == "z-up"
    assert 1e3 * np.max(np.linalg.norm(back.xyz_world - m.xyz_world, axis=-1)) < 1.0


def test_errors_are_reported(tmp_path, csv_file, capsys):
    src, _ = csv_file
    assert main(["export", str(src), "--to", "fbx", "-o", str(tmp_path / "x.fbx")]) == 1
    assert "csv, json, trc, bvh, c3d" in capsys.readouterr().err
    assert main(["export", str(src), "-o", str(tmp_path / "x.bvh"), "--units", "inch"]) == 1
    assert "cm, m" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "x.bvh")]) == 1


def test_repair_option(tmp_path, csv_file, capsys):
    src, _ = csv_file
    out = tmp_path / "r.bvh"
    assert main(["export", str(src), "-o", str(out)]) == 0
    text = out.read_text()
    out.write_text(text.replace("Frames: 150", "Frames: 999")[:-40])
    assert main(["export", str(out), "--repair"]) == 0
    assert "149 complete frames" in capsys.readouterr().out
    assert read_keypoints3d(out).n_frames == 149


def test_config_accepts_bvh_c3d_and_lists_formats():
    ExportConfig(("csv", "bvh", "c3d")).validate()
    with pytest.raises(ConfigError, match="'fbx'.*csv, json, trc, bvh, c3d"):
        ExportConfig(("bvh", "fbx")).validate()


def test_demo_writes_bvh_and_c3d(tmp_path):
    cfg = tmp_path / "demo.toml"
    cfg.write_text('[export]\nformats = ["bvh", "c3d"]\n')
    out = tmp_path / "demo"
    assert main(["demo", "--config", str(cfg), "--frames", "60", "--out", str(out), "--no-viewer"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert {"keypoints3d.bvh", "keypoints3d.c3d"} <= set(report["outputs"])
    bvh = read_keypoints3d(out / "keypoints3d.bvh")
    c3d = read_keypoints3d(out / "keypoints3d.c3d")
    assert bvh.n_frames == c3d.n_frames == 60
    # the BVH reproduces the reconstructed (noisy) positions up to the bone-length adjustment
    d = np.linalg.norm(bvh.xyz_world - c3d.xyz_world, axis=-1)
    assert np.nanmedian(d) * 1e3 < 5.0
