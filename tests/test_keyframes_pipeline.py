"""Keyframes + tracking in the pipeline: which mode wraps the detector ([pipeline] keyframes), and the
figures that explain it (stats line, summary, viewer figures) from a replay with known counts."""
import dataclasses

import pytest

from capture3d.cli.live import print_summary, stats_line
from capture3d.config import config_from_dict
from capture3d.detect.keyframes import KeyframeDetector
from capture3d.runtime.app import build_2d
from capture3d.runtime.pipeline import Pipeline
from capture3d.runtime.pipeline_stats import keyframes_text
from capture3d.sources.preload import MemoryReplaySource

from test_keyframes import _scene, _shift, _texture, _view


def test_keyframes_wrap_image_detectors_live_by_default_and_offline_only_when_asked():
    inner = _scene()
    cfg = config_from_dict({"pipeline": {"detect_every": 5}})
    det, crop = build_2d(cfg, inner, None, "live", 60.0)
    assert isinstance(det, KeyframeDetector) and det.inner is inner and det.detect_every == 5 and crop is None
    assert det.auto.period_ms == pytest.approx(1000 / 60)
    assert build_2d(cfg, inner, None, "offline", 60.0)[0] is inner  # process: off by default
    always = dataclasses.replace(cfg, pipeline=dataclasses.replace(cfg.pipeline, keyframes="always"))
    assert isinstance(build_2d(always, inner, None, "offline", 60.0)[0], KeyframeDetector)
    off = dataclasses.replace(cfg, pipeline=dataclasses.replace(cfg.pipeline, keyframes="off"))
    assert build_2d(off, inner, None, "live", 60.0)[0] is inner
    inner.accepts_crops = False  # a detector that replays stored keypoints is never tracked
    assert build_2d(cfg, inner, None, "live", 60.0)[0] is inner


def test_the_stats_line_summary_and_figures_count_detected_and_tracked_views(capsys):
    V, N, n_frames = 2, 4, 12
    texs = [_texture(50 + v) for v in range(V)]
    images = [[_view(texs[v], _shift(k, v)) for k in range(n_frames)] for v in range(V)]
    src = MemoryReplaySource(images, ["camA", "camB"], fps=500.0, loop=False)
    kf = KeyframeDetector(_scene(n_people=1), N, track_long_side_px=960)
    pipe = Pipeline(src, kf, None, mode="offline", thumbnail_width=0)
    pipe.run(duration_s=30)
    st = pipe.stats()
    assert st.processed == n_frames
    # view A: sets 0, 4, 8; view B: 0, then its phase (2 sets later): 6, 10
    assert (st.views_detected, st.views_tracked, st.redetections) == (6, 18, 0)
    assert st.keyframe_every == N and st.keyframe_rate == (0.25, 0.25) and st.points_dropped == 0
    line = stats_line(st, capture_only=True)
    assert "2D detected 6 tracked 18 (keyframe every 4, re-detected 0)" in line
    assert keyframes_text(st.shown()) == ("2D keyframe every 4 sets: views detected 6, tracked 18, re-detected 0; "
                                          "detected per view 25% 25%")
    print_summary(pipe, "live")
    out = capsys.readouterr().out
    assert "views detected 6, tracked 18" in out and "tracked points dropped by the checks 0" in out


def test_the_viewer_figures_panel_shows_the_keyframe_line_not_the_raw_fields():
    pytest.importorskip("PyQt6")
    from capture3d.viewer.status import format_stats
    text = format_stats({"fps_3d": 48.0, "keyframe_every": 12, "views_detected": 40, "views_tracked": 440,
                         "redetections": 3, "keyframe_rate": (0.1, 0.09), "points_dropped": 17})
    assert "2D keyframe every 12 sets: views detected 40, tracked 440, re-detected 3; detected per view 10% 9%" in text
    assert "keyframe_rate" not in text and "views_tracked:" not in text
