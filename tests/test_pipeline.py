"""The threaded pipeline: offline completeness, live latency slots, failing cameras, error propagation."""
import numpy as np
import pytest

from capture3d.config import FilterConfig
from capture3d.detect import create_detector
from capture3d.errors import DetectorError
from capture3d.runtime.handoff import LatestSlot
from capture3d.runtime.meters import LatencyMeter
from capture3d.runtime.pipeline import Pipeline
from capture3d.reconstruct.reconstructor import Reconstructor
from capture3d.body.keypoint_sets import BODY_25
from capture3d.sources.synthetic import SyntheticSource
from capture3d.synth import ErrorModel

EXACT = ErrorModel(0.0, 0.0, 0.0, swaps=0.0)


def _detector(src):
    return create_detector("synthetic", rig=src.rig, motion=src.motion, error_model=EXACT)


def test_latest_slot_drops_old_and_latency_percentiles():
    slot = LatestSlot()
    for i in range(5):
        slot.put(i)
    assert slot.get(0.01) == 4 and slot.drops == 4 and slot.get(0.01) is None
    m = LatencyMeter(100)
    for ms in range(1, 101):
        m.add(ms / 1000)
    p50, p95 = m.percentiles()
    assert p50 == pytest.approx(50.5) and p95 == pytest.approx(95.05)


def test_offline_processes_every_frame_set_with_exact_3d():
    src = SyntheticSource(4, 30.0, (320, 240), n_frames=40, seed=3, live=False, max_frames=40)
    recon = Reconstructor(src.rig, BODY_25, filtering=FilterConfig(enabled=False))
    pipe = Pipeline(src, _detector(src), recon, mode="offline", collect=True, queue_size=4)
    pipe.run(duration_s=60)
    st = pipe.stats()
    assert st.sets == 40 and st.processed == 40 and len(pipe.results) == 40
    assert st.drops == 0 and st.mispaired == 0 and st.incomplete_sets == 0
    assert [i for i, _ in pipe.results] == list(range(40))
    err_mm = [1000 * np.nanmax(np.linalg.norm(p.xyz_world - src.motion.xyz_world[i], axis=-1)) for i, p in pipe.results]
    assert np.max(err_mm) < 1.0  # exact 2D -> exact 3D: every set paired right


def test_live_run_with_drops_and_an_unplugged_camera_goes_on():
    src = SyntheticSource(3, 50.0, (160, 120), seed=4, live=True, drop=0.05, fail_at={2: 10})
    snaps = []
    pipe = Pipeline(src, _detector(src), Reconstructor(src.rig, BODY_25), mode="live", collect=True,
                    on_result=snaps.append, thumbnail_width=40)
    pipe.run(duration_s=1.5)
    st = pipe.stats()
    assert st.cameras_failed == ("cam3",) and "simulated unplug" in pipe.failed_cameras["cam3"]
    assert st.sets >= 50 and st.mispaired == 0 and st.mismatched == 0
    per = st.per_camera
    assert per["cam3"]["frames"] == 10 and per["cam3"]["missing"] == st.sets - 10
    assert per["cam1"]["missing"] >= 1  # 5 % drops are counted
    late_results = [p for i, p in pipe.results if i > 15]
    assert late_results and all(p.n_views.max() <= 2 for p in late_results)
    assert np.isfinite(late_results[-1].xyz_world).all(axis=1).mean() > 0.5  # 2 views still give 3D
    snap = pipe.latest()
    assert snap is snaps[-1] and snap.keypoints2d.shape == (3, 25, 3) and len(snap.thumbnails) == 3
    assert snap.thumbnails[0].shape == (30, 40, 3)
    assert 0 < st.latency_ms_p50 < 200


class _Exploding:
    name = "exploding"

    def detect(self, images, frame_index=None):
        if frame_index >= 3:
            raise DetectorError("boom at frame 3")
        return type("D", (), {"pose": np.zeros((len(images), 1, 25, 3))})()

    def close(self):
        pass


def test_worker_exception_is_reraised_in_main_thread_with_traceback():
    src = SyntheticSource(2, 100.0, (64, 48), live=True)
    pipe = Pipeline(src, _Exploding(), None, mode="live")
    with pytest.raises(DetectorError, match="boom at frame 3") as info:
        pipe.run(duration_s=10)
    assert any("process" in n for n in info.value.__notes__)
    assert "_Exploding" in "".join(str(e.name) for e in info.traceback) or any(
        e.name == "detect" for e in info.traceback)
    assert not any(t.is_alive() for t in pipe._threads)


def test_stop_request_ends_a_live_run_quickly():
    import threading
    import time
    src = SyntheticSource(2, 30.0, (64, 48), live=True)
    pipe = Pipeline(src, None, None)
    threading.Timer(0.3, pipe.request_stop, args=("test",)).start()
    t0 = time.monotonic()
    pipe.run(duration_s=30)
    assert time.monotonic() - t0 < 3 and pipe.stop_reason == "test"
    assert not any(t.is_alive() for t in pipe._threads)


def test_pause_skips_processing_but_not_capture_and_end_reason():
    src = SyntheticSource(2, 50.0, (64, 48), live=False, max_frames=60)
    pipe = Pipeline(src, _detector(src), Reconstructor(src.rig, BODY_25), mode="offline", thumbnail_width=0)
    seen = []

    def on_frame_set(fs):  # sets 20..39 are completed while processing is paused
        seen.append(fs.index)
        if fs.index == 20:
            pipe.pause()
        elif fs.index == 40:
            pipe.resume()

    pipe.on_frame_set = on_frame_set
    assert pipe.end_reason() == ""
    pipe.run()
    st = pipe.stats()
    assert seen == list(range(60)) and st.sets == 60
    assert pipe.paused_sets == st.paused_sets == 20 and st.processed == 40 and st.drops == 0
    assert pipe.end_reason() == "input ended"


@pytest.mark.gui
def test_viewer_closes_when_the_pipeline_stops_and_pauses_it(qtbot):
    import threading

    from capture3d.viewer import LiveControls, has_display
    if not has_display():
        pytest.skip("needs a display (run under Xvfb)")
    from capture3d.viewer.app import build_live, ensure_app
    ensure_app()
    src = SyntheticSource(2, 30.0, (64, 48), live=True)
    pipe = Pipeline(src, _detector(src), Reconstructor(src.rig, BODY_25), thumbnail_width=32)
    window, ctl = build_live(pipe.poll, src.rig, BODY_25,
                             LiveControls(start=pipe.resume, stop=pipe.pause, stopped=pipe.end_reason))
    ctl.close_delay_ms = 200
    qtbot.addWidget(window)
    window.show()
    pipe.start()
    try:
        qtbot.waitUntil(lambda: ctl.snapshots >= 5, timeout=5000)
        qtbot.mouseClick(ctl.btn_live, _left_button())
        assert pipe.paused and ctl.btn_live.text() == "Start live"
        qtbot.mouseClick(ctl.btn_live, _left_button())
        assert not pipe.paused
        threading.Timer(0.2, pipe.request_stop, args=("SIGTERM",)).start()  # as the signal handler does
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
        assert ctl.stop_reason == "SIGTERM" and not ctl.btn_live.isEnabled()
    finally:
        pipe.stop()


def _left_button():
    from PyQt6 import QtCore
    return QtCore.Qt.MouseButton.LeftButton
