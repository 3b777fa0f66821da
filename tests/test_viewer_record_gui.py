"""The live viewer's Record button on a running pipeline (capture3d live): it pauses and resumes the recording
when there is a recorder (--record SESSION) and is disabled, with a hint, when there is none. Runs under
Xvfb (pytest-xvfb) like tests/test_viewer_gui.py."""
from __future__ import annotations

import pytest

from capture3d.cli.live import record_controls
from capture3d.config import RecordingConfig
from capture3d.runtime.pipeline import Pipeline
from capture3d.io.recording import SessionWriter, read_session
from capture3d.body.keypoint_sets import BODY_25
from capture3d.sources.synthetic import SyntheticSource
from capture3d.viewer import LiveControls, has_display

pytestmark = [pytest.mark.gui, pytest.mark.skipif(not has_display(), reason="needs a display (run under Xvfb)")]


@pytest.fixture(scope="module")
def app():
    from capture3d.viewer.app import ensure_app

    return ensure_app()


def _live_window(qtbot, pipe, rig):
    from capture3d.viewer.app import build_live, wait_painted

    controls = LiveControls(start=pipe.resume, stop=pipe.pause, stopped=pipe.end_reason, **record_controls(pipe))
    window, ctl = build_live(pipe.poll, rig, BODY_25, controls)
    qtbot.addWidget(window)
    window.resize(900, 600)
    window.show()
    wait_painted(window)
    return window, ctl


def _click(qtbot, button):
    from PyQt6 import QtCore

    qtbot.mouseClick(button, QtCore.Qt.MouseButton.LeftButton)


def test_record_button_pauses_and_resumes_the_recording(app, qtbot, tmp_path):
    src = SyntheticSource(2, 30.0, (96, 72), seed=3, live=True)
    writer = SessionWriter(tmp_path / "S", ["cam1", "cam2"], 30.0, RecordingConfig(min_free_mb=0.0))
    pipe = Pipeline(src, None, None, mode="live", recorder=writer, thumbnail_width=32)
    pipe.start()
    try:
        window, ctl = _live_window(qtbot, pipe, src.rig)
        btn = ctl.btn_rec
        assert btn.isEnabled() and btn.isChecked() and btn.text() == "Stop recording"  # recording from the start
        assert str(tmp_path / "S") in btn.toolTip()
        qtbot.waitUntil(lambda: writer.sets_written >= 5, timeout=5000)
        _click(qtbot, btn)  # pause
        assert not pipe.recording and not btn.isChecked() and btn.text() == "Record"
        skipped = pipe.record_paused_sets
        qtbot.wait(400)  # about 12 frame sets at 30 fps
        assert not btn.isChecked() and not pipe.recording  # newer snapshots keep the button in step
        assert pipe.record_paused_sets - skipped >= 5
        recorded = writer.sets_written
        _click(qtbot, btn)  # resume
        assert pipe.recording and btn.isChecked() and btn.text() == "Stop recording"
        assert str(tmp_path / "S") in window.statusBar().currentMessage()
        qtbot.waitUntil(lambda: writer.sets_written >= recorded + 5, timeout=5000)
        assert btn.isChecked()
    finally:
        pipe.stop()
    st = pipe.stats()
    assert st.sets == writer.sets_written + pipe.record_paused_sets and pipe.record_paused_sets >= 5
    assert read_session(tmp_path / "S").n_sets == writer.sets_written


def test_record_button_is_disabled_without_a_recorder(app, qtbot):
    src = SyntheticSource(2, 30.0, (96, 72), seed=3, live=True)
    pipe = Pipeline(src, None, None, mode="live", thumbnail_width=32)
    pipe.start()
    try:
        window, ctl = _live_window(qtbot, pipe, src.rig)
        qtbot.waitUntil(lambda: ctl.snapshots >= 3, timeout=5000)
        btn = ctl.btn_rec
        assert not btn.isEnabled() and not btn.isChecked()
        assert "--record SESSION" in btn.toolTip()
        _click(qtbot, btn)
        assert not btn.isChecked() and not pipe.recording and pipe.stats().recording is None
    finally:
        pipe.stop()
