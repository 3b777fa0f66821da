"""One live path: ``capture3d live`` and tools/bench/bench_live.py assemble the same stages with the same
options from the same config (keyframes around the detector, the shared cropper, the replay gate, the
preloaded source), and the live path adapts the rig to videos a few pixels off their calibration (the
``process`` rule), so the crops engage in the CLI too."""
import argparse
import sys
from pathlib import Path

import pytest

from capture3d.config import config_to_toml
from capture3d.io.rig_files import save_rig
from capture3d.synth.rig import make_rig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "bench"))
import bench_live  # noqa: E402
from test_preload import write_videos  # noqa: E402

W_RIG, W, H = 72, 64, 48  # the videos are 8 px narrower than the calibration (an encoder crop)


def describe(app) -> dict:
    """What a live application is made of: its stages and their options."""
    pipe = app.pipeline
    det, stage = pipe.detector, pipe._stage
    crop = stage.cropper
    return {"source": type(pipe.source).__name__, "n_frames": [len(s.frames) for s in pipe.source.streams],
            "detector": type(det).__name__, "inner": type(det.inner).__name__, "detect_every": det.detect_every,
            "period_ms": det.auto.period_ms, "track_px": det.track_long_side_px,
            "cropper": (type(crop).__name__, crop.margin, crop.long_side_px), "shared_cropper": det.cropper is crop,
            "gate": pipe.gate is not None, "mode": pipe.mode, "thumbnail_width": stage.thumbnail_width,
            "rig_sizes": [c.size_wh for c in app.rig], "notes": len(app.notes)}


def test_the_cli_and_the_benchmark_assemble_the_same_live_pipeline(tmp_path, monkeypatch):
    pytest.importorskip("mediapipe")
    from capture3d.cli import live as cli_live
    from capture3d.runtime import app as app_mod
    videos = write_videos(tmp_path, n_frames=6, size_wh=(W, H))
    rig = tmp_path / "rig.toml"
    save_rig(rig, make_rig(3, (W_RIG, H), seed=2))
    cfg = bench_live.live_config(videos, str(rig), keyframes=True, preload=True, detect_every=6)
    (tmp_path / "live.toml").write_text(config_to_toml(cfg))
    built = []

    class Built(Exception):
        pass

    def capture(*a, **k):
        built.append(real(*a, **k))
        raise Built

    real = app_mod.build_live
    monkeypatch.setattr(app_mod, "build_live", capture)
    args = argparse.Namespace(config=str(tmp_path / "live.toml"), no_viewer=True, duration=1.0, rig=None, record=None,
                              bvh=False, stream=[], refine_rig=False)
    with pytest.raises(Built):
        cli_live.run(args)
    monkeypatch.setattr(app_mod, "build_live", real)
    cli_app, bench_app = built[0], bench_live.build(cfg)
    try:
        cli, bench = describe(cli_app), describe(bench_app)
    finally:
        for a in (cli_app, bench_app):
            a.close()
    assert cli == bench
    assert cli["source"] == "MemoryReplaySource" and cli["n_frames"] == [6, 6, 6]
    assert cli["detector"] == "KeyframeDetector" and cli["inner"] == "MediaPipeDetector"
    assert cli["detect_every"] == 6 and cli["period_ms"] == pytest.approx(1000 / 60)
    assert cli["shared_cropper"] and cli["gate"] and cli["mode"] == "live"
    assert cli["rig_sizes"] == [(W, H)] * 3 and cli["notes"] == 3  # the calibration fitted to the videos
