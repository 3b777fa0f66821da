"""The spinnaker backend against the simulated PySpin: configuration, hardware/software sync, faults."""
import builtins

import numpy as np
import pytest

from capture3d.errors import CameraError
from capture3d.runtime.pipeline import Pipeline
from capture3d.sources.spinnaker import INSTALL_HINT, SpinnakerSource, list_spinnaker_cameras, load_pyspin
from capture3d.testing.spinnaker_sim import SimDevice, SimulatedPySpin

FPS = 50.0


def _sim(n=3, **faults):
    devs = [SimDevice(f"1700{i}", seed=i, **faults.get(f"1700{i}", {})) for i in range(n)]
    return SimulatedPySpin(devs)


def _run_sets(pipe, n_sets, sets=None):
    """Run the pipeline until n_sets frame sets are assembled (counted, not timed); sets collects them."""
    sets = [] if sets is None else sets

    def watch(fs):
        sets.append(fs)
        if len(sets) >= n_sets:
            pipe.request_stop("enough frame sets")

    pipe.on_frame_set = watch
    pipe.run(duration_s=60)
    assert pipe.stop_reason == "enough frame sets", pipe.stop_reason
    return sets


def _source(sim, **kw):
    serials = list(sim.cameras)
    return SpinnakerSource(serials, fps=FPS, pyspin=sim, exposure_us=4000, gain_db=2.0, pixel_format="Mono8",
                           roi=(0, 0, 160, 120), **kw)


def test_pyspin_missing_says_how_to_install(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *a, **k):
        if name == "PySpin":
            raise ImportError("No module named 'PySpin'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(CameraError, match="not on PyPI") as info:
        load_pyspin()
    assert "spinnaker_python" in str(info.value) and "unrelated" in str(info.value) and str(info.value) == INSTALL_HINT


def test_unknown_serial_lists_the_cameras_found():
    sim = _sim(2)
    with pytest.raises(CameraError, match="serial\\(s\\) 999 not found; cameras found: 17000, 17001"):
        SpinnakerSource(["17000", "999"], pyspin=sim)
    assert sim._system.released


def test_configuration_and_listing():
    sim = _sim(3)
    src = _source(sim, primary="17001")
    n0 = sim.cameras["17000"].nodes.nodes
    n1 = sim.cameras["17001"].nodes.nodes
    assert n0["ExposureAuto"].value == "Off" and n0["ExposureTime"].value == 4000 and n0["Gain"].value == 2.0
    assert n0["TriggerMode"].value == "On" and n0["TriggerSource"].value == "Line3"
    assert n1["TriggerMode"].value == "Off" and n1["LineMode"].value == "Output"
    assert n1["AcquisitionFrameRate"].value == FPS
    assert n0["ChunkModeActive"].value and n0["Width"].value == 160
    assert sim.cameras["17000"].stream_nodes.nodes["StreamBufferHandlingMode"].value == "NewestOnly"
    assert src.streams[0].info.size_wh == (160, 120)
    src.stop()
    rec = _source(_sim(2), lossless=True)
    assert rec.ps.cameras["17000"].stream_nodes.nodes["StreamBufferHandlingMode"].value == "OldestFirst"
    rec.stop()
    cams = list_spinnaker_cameras(_sim(2))
    assert [c["serial"] for c in cams] == ["17000", "17001"] and cams[0]["width"] == 320
    assert "Mono8" in cams[0]["pixel_formats"]


def test_hardware_sync_secondaries_start_first_and_sets_are_exact():
    sim = _sim(3, **{"17002": {"drift_ppm": 300.0, "clock_offset_s": 5000.0}})
    src = _source(sim, lossless=True)  # oldest-first buffers: robust to a busy test machine
    pipe = Pipeline(src, None, None, mode="live", max_delay_frames=10)
    _run_sets(pipe, 75)  # 1.5 s of device time at 50 fps
    st = pipe.stats()
    assert st.sets >= 75
    assert st.incomplete_sets <= 1 and st.mismatched == 0 and st.late == 0
    per = st.per_camera
    assert all(per[s]["frames"] >= st.sets - 1 for s in per)
    # the 300 ppm clock is detected; the 5000 s clock offset is mapped to the host clock
    assert per["17002"]["drift_ppm"] == pytest.approx(300.0, abs=60.0)
    assert per["17000"]["drift_ppm"] == pytest.approx(0.0, abs=60.0)
    assert sim._system.released and not any(c.streaming for c in sim.cameras.values())


def test_faults_are_counted_and_never_mispaired():
    sim = _sim(3, **{"17001": {"drop": 0.1, "incomplete": 0.1}, "17002": {"unplug_after": 20}})
    src = _source(sim, lossless=True)  # gaps in frame ids are then exactly the injected drops
    sets = []
    pipe = Pipeline(src, None, None, mode="live", max_delay_frames=10)
    _run_sets(pipe, 75, sets)
    st = pipe.stats()
    per = st.per_camera
    assert st.cameras_failed == ("17002",) and per["17002"]["frames"] == 20
    assert per["17001"]["device_drops"] >= 2 and per["17001"]["incomplete"] >= 2
    assert per["17001"]["missing"] >= per["17001"]["device_drops"] - 1
    assert st.incomplete_images == per["17001"]["incomplete"]
    # every set holds frames of a single trigger: equal frame ids and exposure times within 1 ms
    for fs in sets:
        present = [f for f in fs.frames if f is not None]
        assert len({f.frame_id for f in present}) == 1
        times = [f.time_s for f in present]
        assert max(times) - min(times) < 1e-3
    assert any(fs.frames[1] is not None and fs.frames[1].incomplete and fs.frames[1].image is None for fs in sets)


def test_secondaries_started_after_the_primary_are_caught_as_mismatched(monkeypatch):
    """If the start order were wrong, frame ids would be offset; the timestamp check refuses the pairs."""
    sim = _sim(2)
    src = _source(sim)
    monkeypatch.setattr(SpinnakerSource, "start", _wrong_order_start)
    sets = []
    pipe = Pipeline(src, None, None, mode="live", max_delay_frames=10)
    _run_sets(pipe, 50, sets)
    st = pipe.stats()
    per = st.per_camera
    # the secondary's frame ids lag by the pulses it missed: one frame of each id pair is refused (the
    # one that arrives second), no set holds frames of different instants
    refused = sum(per[c]["mismatched"] + per[c]["late"] for c in per)
    assert refused >= 0.8 * per["17001"]["grabbed"] and refused >= 20
    assert st.sets - st.incomplete_sets == 0
    assert all(sum(f is not None for f in fs.frames) == 1 for fs in sets)


def _wrong_order_start(self):
    for st in self._streams:
        st.sync_clock()
    order = sorted(self._streams, key=lambda st: st.serial != self.primary)  # primary FIRST (wrong)
    for st in order:
        st.cam.BeginAcquisition()
        self.ps.advance(0.1)  # the secondary starts ~6 pulses late (the simulated world moves on at once)
        self._acquiring.append(st)


def test_software_trigger_fallback_pairs_by_timestamp():
    sim = _sim(2)
    src = _source(sim, sync="software", lossless=True)
    assert src.sync == "timestamp"
    assert sim.cameras["17000"].nodes.nodes["TriggerSource"].value == "Software"
    pipe = Pipeline(src, None, None, mode="live", max_delay_frames=10)
    sets = _run_sets(pipe, 50)
    st = pipe.stats()
    assert st.sets >= 50 and st.incomplete_sets <= 2 and st.mismatched == 0
    # the software trigger fires at the frame rate: complete sets are one frame period apart in exposure time
    complete = [fs for fs in sets if fs.complete]
    steps = np.diff([fs.time_s for fs in complete]) / np.diff([fs.frame_id for fs in complete])
    assert np.median(steps) == pytest.approx(1 / FPS, rel=0.05)


def test_live_newest_only_buffers_skip_stale_frames_and_count_them():
    sim = _sim(2)
    src = _source(sim)  # live: NewestOnly
    src.start()
    try:
        stream = src.streams[1]
        ids = []
        for _ in range(6):
            f = stream.grab(1.0)
            ids.append(f.frame_id)
            sim.advance(3.5 / FPS)  # a consumer 3.5 frame periods late
        gaps = np.diff(ids)
        assert np.all(gaps >= 3)  # always the newest frame: stale ones were dropped ...
        assert stream.stats()["device_drops"] == int(np.sum(gaps - 1))  # ... and counted
    finally:
        src.stop()
