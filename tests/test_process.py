"""CLI: live (headless), cameras, process (bad input and config/rig overrides)."""
import dataclasses
import shutil

import numpy as np
import pytest

from capture3d.cli import main
from capture3d.config import RecordingConfig
from capture3d.export import read_keypoints3d
from capture3d.runtime.pipeline import Pipeline
from capture3d.io.recording import SessionWriter
from capture3d.geometry.camera import Rig
from capture3d.io.rig_files import load_rig, save_rig
from capture3d.sources.synthetic import SyntheticSource

CONFIG = """
[source]
kind = "synthetic"
[synthetic]
cameras = 3
frames = 60
fps = 30.0
width = 320
height = 240
noise_px = 0.5
[pipeline]
detector = "synthetic"
"""


@pytest.fixture()
def session(tmp_path):
    """A 30-set synthetic session recorded offline with its config and rig."""
    from capture3d.config import load_config
    cfg_path = tmp_path / "cfg.toml"
    cfg_path.write_text(CONFIG)
    cfg = load_config(cfg_path)
    src = SyntheticSource.from_config(cfg.synthetic, live=False, max_frames=30)
    writer = SessionWriter(tmp_path / "S", [s.info.name for s in src.streams], src.fps, RecordingConfig(),
                           app_config=cfg, rig=src.rig, source_kind="synthetic")
    Pipeline(src, None, None, mode="offline", recorder=writer).run(60)
    return tmp_path / "S", src


def test_live_headless_prints_stats_every_second(tmp_path, capsys):
    cfg = tmp_path / "live.toml"
    cfg.write_text(CONFIG)
    assert main(["live", "--config", str(cfg), "--no-viewer", "--duration", "1.5"]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln.startswith("t=")]
    assert lines and "latency p50" in lines[0] and "drops" in lines[0]
    assert "mis-paired 0" in out and "cam3:" in out


def test_stats_printer_prints_once_per_interval_of_its_clock(capsys):
    from capture3d.cli.live import StatsPrinter
    from capture3d.types import LiveStats

    class Pipe:
        reconstructor = object()

        def stats(self, brief=False):
            return LiveStats(elapsed_s=now[0], fps_3d=30.0, drops=2)

    now = [0.0]
    printer = StatsPrinter(1.0, clock=lambda: now[0])
    for step in range(1, 31):  # 3 s of 0.1 s ticks
        now[0] = 0.1 * step + 1e-9
        printer(Pipe())
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("t=  1.0s") and "3D 30.0/s" in lines[0] and "drops 2" in lines[0]


def test_invalid_config_key_lists_the_valid_ones(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[pipeline]\nmod = 'live'\n")
    assert main(["live", "--config", str(cfg), "--no-viewer", "--duration", "1"]) == 1
    err = capsys.readouterr().err
    assert "unknown key(s) 'mod'" in err and "allowed keys: mode, detector, detector_options, keypoint_set, rig" in err


def test_cameras_command_reports_missing_pyspin(capsys):
    assert main(["cameras", "--max-index", "1"]) == 0
    out = capsys.readouterr().out
    assert "Spinnaker (PySpin): unavailable" in out and "spinnaker_python" in out
    assert "OpenCV:" in out


def test_process_with_rig_override_and_missing_rig(session, tmp_path, capsys):
    folder, src = session
    rig_copy = tmp_path / "rig_elsewhere.toml"
    save_rig(rig_copy, src.rig)
    (folder / "rig.toml").unlink()
    assert main(["process", str(folder), "-o", str(tmp_path / "O1")]) == 1
    assert "no rig.toml: give the rig with --rig" in capsys.readouterr().err
    assert main(["process", str(folder), "--rig", str(rig_copy), "-o", str(tmp_path / "O2")]) == 0
    kp = read_keypoints3d(tmp_path / "O2" / "keypoints3d.json")
    assert kp.n_frames == 30
    err_mm = 1000 * np.linalg.norm(kp.xyz_world - src.motion.xyz_world[:30], axis=-1)
    assert np.nanmedian(err_mm) < 15.0 and np.isfinite(err_mm).mean() > 0.9
    assert (tmp_path / "O2" / "rig.toml").is_file() and (tmp_path / "O2" / "config.toml").is_file()


def test_process_names_a_live_refined_rig_and_uses_it_only_when_given(session, tmp_path, capsys):
    folder, src = session
    moved = src.rig.cameras[1]
    bumped = dataclasses.replace(moved, tvec=moved.tvec + np.array([0.05, 0.0, 0.0]))
    save_rig(folder / "rig_refined.toml", Rig((src.rig.cameras[0], bumped) + tuple(src.rig.cameras[2:])))
    assert main(["process", str(folder), "-o", str(tmp_path / "board")]) == 0
    out = capsys.readouterr().out
    assert f"pass --rig {folder / 'rig_refined.toml'}" in out
    assert load_rig(tmp_path / "board" / "rig.toml").cameras[1].tvec == pytest.approx(moved.tvec)
    assert main(["process", str(folder), "--rig", str(folder / "rig_refined.toml"), "-o", str(tmp_path / "ref")]) == 0
    assert "rig_refined.toml holds" not in capsys.readouterr().out
    used = load_rig(tmp_path / "ref" / "rig.toml").cameras[1].tvec
    assert used - moved.tvec == pytest.approx([0.05, 0.0, 0.0], abs=1e-9)


def test_process_bad_sessions(tmp_path, capsys, session):
    assert main(["process", str(tmp_path / "nothing"), "-o", str(tmp_path / "O")]) == 1
    assert "not a recorded session" in capsys.readouterr().err
    folder, _ = session
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    (broken / "cam2.avi").unlink()
    assert main(["process", str(broken), "-o", str(tmp_path / "O")]) == 1
    assert "video of camera cam2 not found" in capsys.readouterr().err


def test_viewer_hook_runs_headless_without_a_display(monkeypatch):
    from capture3d.cli.live import open_viewer
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    src = SyntheticSource(2, 30.0, (64, 48), live=True)
    pipe = Pipeline(src, None, None)
    assert open_viewer(pipe, src.rig, 1.0) is False  # the caller then runs headless


NOISY = """
[source]
kind = "synthetic"
[synthetic]
cameras = 3
frames = 90
fps = 30.0
width = 640
height = 480
noise_px = 3.0
missing = 0.1
outliers = 0.05
seed = 11
[pipeline]
detector = "synthetic"
[filter]
causal = {causal}
[export]
formats = ["csv", "bvh", "c3d"]
"""


def test_process_offline_chain_beats_causal_and_writes_bvh_c3d(tmp_path, capsys):
    """Same session, same 2D: the zero-lag offline chain has a lower MPJPE than the live chain; causal = true
    reproduces the live Reconstructor frame by frame; BVH and C3D hold every frame set."""
    from capture3d.runtime.app import build_detector
    from capture3d.config import load_config
    from capture3d.reconstruct.reconstructor import Reconstructor
    from capture3d.body.keypoint_sets import BODY_25
    from capture3d.sources.session import SessionSource

    cfgs = {}
    for causal in ("false", "true"):
        cfgs[causal] = tmp_path / f"cfg_{causal}.toml"
        cfgs[causal].write_text(NOISY.format(causal=causal))
    cfg = load_config(cfgs["false"])
    src = SyntheticSource.from_config(cfg.synthetic, live=False, max_frames=90)
    writer = SessionWriter(tmp_path / "S", [s.info.name for s in src.streams], src.fps, RecordingConfig(),
                           app_config=cfg, rig=src.rig, source_kind="synthetic")
    Pipeline(src, None, None, mode="offline", recorder=writer).run(60)
    truth = src.motion.xyz_world[:90]
    mpjpe, results = {}, {}
    for causal, path in cfgs.items():
        out = tmp_path / f"O_{causal}"
        assert main(["process", str(tmp_path / "S"), "--config", str(path), "-o", str(out)]) == 0
        printed = capsys.readouterr().out
        assert ("offline, zero-lag" if causal == "false" else "live chain") in printed
        kp = read_keypoints3d(out / "keypoints3d.csv")
        assert kp.n_frames == 90
        results[causal] = kp
        mpjpe[causal] = 1000 * np.nanmean(np.linalg.norm(kp.xyz_world - truth, axis=-1))
        for fmt in ("bvh", "c3d"):
            back = read_keypoints3d(out / f"keypoints3d.{fmt}")
            assert back.n_frames == 90, fmt
            assert back.fps == pytest.approx(30.0)
    assert mpjpe["false"] < 0.85 * mpjpe["true"], mpjpe
    assert mpjpe["false"] < 30.0, mpjpe  # 19.8 mm offline vs 46.1 mm causal when written
    # causal = true: exactly what the live Reconstructor gives, frame by frame, on the same 2D
    causal_cfg = load_config(cfgs["true"])
    session = SessionSource(tmp_path / "S")
    det = build_detector(causal_cfg, session, session.rig)
    recon = Reconstructor(session.rig, BODY_25, causal_cfg.triangulation, tracking=causal_cfg.tracking,
                          filtering=causal_cfg.filter)
    live = np.stack([recon.process(det.detect(None, frame_index=i).pose, results["true"].times_s[i]).xyz_world
                     for i in range(90)])
    diff = np.abs(live - results["true"].xyz_world)
    assert np.array_equal(np.isnan(live), np.isnan(results["true"].xyz_world))
    assert np.nanmax(diff) < 2e-5  # CSV rounding of positions and times (Kalman steps by dt): < 0.02 mm
