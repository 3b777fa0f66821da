"""capture3d batch: many sessions, byte-identical to process run on each alone, resumable (a second run
does nothing, a 3D-only config change redoes only the 3D task), failure-isolated, Ctrl-C resumes."""
from __future__ import annotations

import csv
import json
import shutil
import signal
import sys
from pathlib import Path

import pytest

from capture3d.batch import find_sessions
from capture3d.batch.engines import RAY_MISSING, import_ray
from capture3d.cli import main
from capture3d.errors import ConfigError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch_helpers import make_recording  # noqa: E402

OUTPUTS = ("keypoints3d.csv", "keypoints3d.json", "keypoints3d.trc", "config.toml", "rig.toml")
FRAMES = 16


@pytest.fixture(scope="module")
def sessions(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sessions")
    for i in range(3):
        make_recording(root / "day1" / f"rec{i}", seed=10 + i, frames=FRAMES)
    return root


@pytest.fixture(scope="module")
def alone(sessions, tmp_path_factory) -> Path:
    """process run on each session alone."""
    out = tmp_path_factory.mktemp("alone")
    for s in sorted((sessions / "day1").iterdir()):
        assert main(["process", str(s), "-o", str(out / s.name)]) == 0
    return out


def _same(a: Path, b: Path, names=OUTPUTS, moved: tuple[Path, Path] | None = None) -> None:
    """a/n and b/n are the same bytes; moved = (old, new): b's session was read at new instead of old
    (the JSON's "source" names the input path, the only difference allowed)."""
    for n in names:
        got = (b / n).read_bytes()
        if moved is not None:
            got = got.replace(str(moved[1]).encode(), str(moved[0]).encode())
        assert (a / n).read_bytes() == got, f"{a / n} != {b / n}"


def _summary(out: Path) -> dict[str, dict]:
    with open(out / "batch_summary.csv", newline="") as fh:
        return {r["session"]: r for r in csv.DictReader(fh)}


def test_local_is_process_byte_for_byte_and_a_second_run_does_nothing(sessions, alone, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["batch", str(sessions), "-o", str(out), "--workers", "2", "--no-progress"]) == 0
    for i in range(3):
        _same(alone / f"rec{i}", out / f"rec{i}")
    rows = _summary(out)
    assert sorted(rows) == ["rec0", "rec1", "rec2"]
    for r in rows.values():
        assert (r["status"], r["steps"], int(r["frames"])) == ("done", "2d+3d", FRAMES)
        assert r["people"] == "1 of 1"  # one subject followed, among the one person found
        assert 90.0 < float(r["reconstructed_pct"]) <= 100.0
        assert 0.3 < float(r["reprojection_px"]) < 5.0
    manifest = json.loads((out / "batch_manifest.json").read_text())
    assert len(manifest["tasks"]) == 6  # a 2D and a 3D task per session
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("keypoints3d.*")}
    capsys.readouterr()
    assert main(["batch", str(sessions), "-o", str(out), "--no-progress"]) == 0
    assert "3 sessions done already" in capsys.readouterr().out
    assert {r["status"] for r in _summary(out).values()} == {"skipped"}
    assert {r["frames"] for r in _summary(out).values()} == {str(FRAMES)}  # the summary keeps the numbers
    assert {p: p.stat().st_mtime_ns for p in out.rglob("keypoints3d.*")} == stamps


def test_a_3d_setting_redoes_only_3d_and_a_2d_setting_redoes_both(sessions, tmp_path):
    out = tmp_path / "out"
    base = (sessions / "day1" / "rec0" / "config.toml").read_text()
    cfg3d = tmp_path / "filter_off.toml"
    cfg3d.write_text(base.replace("[filter]\nenabled = true", "[filter]\nenabled = false"))
    assert cfg3d.read_text() != base
    assert main(["batch", str(sessions), "-o", str(out), "--workers", "2", "--no-progress"]) == 0
    assert main(["batch", str(sessions), "-o", str(out), "--workers", "2", "--no-progress",
                 "--config", str(cfg3d)]) == 0
    assert {r["steps"] for r in _summary(out).values()} == {"3d"}  # detections replayed from the cache
    for i in range(3):  # and the replay gives process's bytes with that config
        alone = tmp_path / f"alone{i}"
        assert main(["process", str(sessions / "day1" / f"rec{i}"), "--config", str(cfg3d), "-o", str(alone)]) == 0
        _same(alone, out / f"rec{i}")
    cfg2d = tmp_path / "noisier.toml"
    cfg2d.write_text("\n".join("noise_px = 3.5" if ln.startswith("noise_px") else ln
                                for ln in cfg3d.read_text().splitlines()) + "\n")
    assert "noise_px = 3.5" in cfg2d.read_text()
    assert main(["batch", str(sessions), "-o", str(out), "--workers", "2", "--no-progress",
                 "--config", str(cfg2d)]) == 0
    assert {r["steps"] for r in _summary(out).values()} == {"2d+3d"}


def test_a_corrupt_video_fails_only_its_session(sessions, alone, tmp_path, capsys):
    root = tmp_path / "in"
    shutil.copytree(sessions, root)
    video = next((root / "day1" / "rec1").glob("cam2.*"))
    video.write_bytes(video.read_bytes()[:300])
    out = tmp_path / "out"
    assert main(["batch", str(root), "-o", str(out), "--workers", "2", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "1 session(s) failed: rec1" in err
    rows = _summary(out)
    assert [rows[k]["status"] for k in ("rec0", "rec1", "rec2")] == ["done", "failed", "done"]
    assert rows["rec1"]["error"] and int(rows["rec1"]["frames"]) == 0
    _same(alone / "rec0", out / "rec0", moved=(sessions, root))
    _same(alone / "rec2", out / "rec2", moved=(sessions, root))
    manifest = json.loads((out / "batch_manifest.json").read_text())
    assert "rec1/3d" not in manifest["tasks"]
    shutil.copy(next((sessions / "day1" / "rec1").glob("cam2.*")), video)  # repaired: the next run redoes it
    assert main(["batch", str(root), "-o", str(out), "--no-progress"]) == 0
    rows = _summary(out)
    assert [rows[k]["status"] for k in ("rec0", "rec1", "rec2")] == ["skipped", "done", "skipped"]
    _same(alone / "rec1", out / "rec1", moved=(sessions, root))


def test_ctrl_c_stops_and_the_next_run_resumes(tmp_path):
    from test_interrupts import Watch
    root = tmp_path / "in"
    for i in range(3):
        make_recording(root / f"long{i}", seed=20 + i, frames=150)
    out = tmp_path / "out"
    w = Watch(["batch", str(root), "-o", str(out), "--workers", "1", "--no-progress"], cwd=tmp_path)
    w.until(r"long0 done", timeout_s=120)
    w.proc.send_signal(signal.SIGINT)
    rc, _, err = w.finish()
    assert rc == 130, err
    assert "run the same command again to resume" in err
    done = json.loads((out / "batch_manifest.json").read_text())["tasks"]
    assert "long0/3d" in done and len(done) < 6
    assert main(["batch", str(root), "-o", str(out), "--workers", "2", "--no-progress"]) == 0
    rows = _summary(out)
    assert rows["long0"]["status"] == "skipped"
    assert {int(r["frames"]) for r in rows.values()} == {150}
    assert {r["status"] for k, r in rows.items() if k != "long0"} <= {"done", "skipped"}


def test_ray_engine_is_process_byte_for_byte(sessions, alone, tmp_path):
    pytest.importorskip("ray", reason="the ray engine needs capture3d[ray]")
    out = tmp_path / "out"
    assert main(["batch", str(sessions), "-o", str(out), "--engine", "ray", "--workers", "2", "--no-progress"]) == 0
    for i in range(3):
        _same(alone / f"rec{i}", out / f"rec{i}")
    assert {r["status"] for r in _summary(out).values()} == {"done"}


def test_ray_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ConfigError, match=r"pip install 'capture3d\[ray\]'"):
        import_ray()
    assert "--engine local" in RAY_MISSING


def test_discovery_of_a_pose2sim_batch_layout(tmp_path):
    root = tmp_path / "Demo_Batch"
    (root / "calibration").mkdir(parents=True)
    (root / "calibration" / "Calib.qca.txt").write_text("x")
    for t in ("Trial_2", "Trial_10", "Trial_1"):
        (root / t / "videos").mkdir(parents=True)
        for c in range(1, 5):
            (root / t / "videos" / f"cam0{c}.mp4").write_bytes(b"")
    found = find_sessions([root])
    assert [s.name for s in found] == ["Trial_1", "Trial_10", "Trial_2"]
    assert {s.rig for s in found} == {root / "calibration" / "Calib.qca.txt"}
    assert {s.kind for s in found} == {"videos"}
    (root / "other" / "Trial_1" / "videos").mkdir(parents=True)
    for c in range(1, 3):
        (root / "other" / "Trial_1" / "videos" / f"cam{c}.mp4").write_bytes(b"")
    with pytest.raises(ConfigError, match="two sessions are named 'Trial_1'"):
        find_sessions([root])
    lone = tmp_path / "lone"
    (lone / "videos").mkdir(parents=True)
    for c in range(1, 3):
        (lone / "videos" / f"cam{c}.mp4").write_bytes(b"")
    with pytest.raises(ConfigError, match="no calibration"):
        find_sessions([lone])


@pytest.mark.realdata
@pytest.mark.slow
def test_demo_batch_real_sessions(shared_data, tmp_path, fast_mediapipe_config):
    demo = shared_data / "pose2sim" / "Demo_Batch"
    if not (demo / "Trial_1" / "videos").is_dir():
        pytest.skip(f"{demo} not found")
    out = tmp_path / "out"
    cfg = ["--config", str(fast_mediapipe_config)]
    assert main(["batch", str(demo), "-o", str(out), "--workers", "2", "--no-progress", *cfg]) == 0
    rows = _summary(out)
    assert sorted(rows) == ["Trial_1", "Trial_2"]
    for name, r in rows.items():
        assert int(r["frames"]) == 100
        assert float(r["reconstructed_pct"]) > 50.0
        assert float(r["reprojection_px"]) < 15.0
        alone = tmp_path / name
        assert main(["process", str(demo / name), "--rig", str(demo / "calibration" / "Calib.qca.txt"), *cfg,
                     "-o", str(alone)]) == 0
        _same(alone, out / name)


def test_path_map_rewrites_the_workers_paths_and_keeps_the_outputs(sessions, alone, tmp_path):
    from capture3d.batch.work import map_path
    assert map_path("/mnt/lab/s1/cam1.avi", [("/mnt/lab/", "/data")]) == Path("/data/s1/cam1.avi")
    assert map_path("/mnt/laboratory/s1", [("/mnt/lab", "/data")]) == Path("/mnt/laboratory/s1")
    assert map_path(None, [("/a", "/b")]) is None
    view = tmp_path / "worker_view"
    view.symlink_to(sessions, target_is_directory=True)
    shutil.rmtree(tmp_path / "nowhere", ignore_errors=True)
    out = tmp_path / "out"
    # the workers read the sessions through their own mount (here a link); a wrong map fails every session
    assert main(["batch", str(sessions), "-o", str(out), "--workers", "2", "--no-progress",
                 "--path-map", f"{sessions}={view}"]) == 0
    for i in range(3):
        _same(alone / f"rec{i}", out / f"rec{i}")
    assert main(["batch", str(sessions), "-o", str(tmp_path / "out2"), "--workers", "2", "--no-progress",
                 "--path-map", f"{sessions}={tmp_path / 'nowhere'}"]) == 1
    assert {r["status"] for r in _summary(tmp_path / "out2").values()} == {"failed"}
    assert main(["batch", str(sessions), "-o", str(tmp_path / "out3"), "--path-map", "nothing"]) == 1
