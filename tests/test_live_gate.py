"""A paced replay that falls behind drops whole frame sets (capture3d.runtime.replay_gate), never builds
sets with missing views; the stats count the drops and say which stage limits the rate."""
from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from capture3d.detect.base import Detections, missing_keypoints
from capture3d.runtime.meters import BusyMeter, limiting_stage
from capture3d.runtime.pipeline import Pipeline
from capture3d.runtime.replay_gate import ReplayGate
from capture3d.sources.opencv import OpenCVSource


class _Clock:
    def __init__(self, t=100.0):
        self.t = t

    def __call__(self):
        return self.t


def test_one_decision_per_frame_index_for_every_view():
    clock = _Clock()
    gate = ReplayGate(3, clock=clock)
    # frame 0: wanted at start -> kept in every view, whatever order the views come in
    assert [gate.admit(0, 100.0) for _ in range(3)] == [True, True, True]
    # processing busy (no request): frames 1..3 dropped in every view, counted once per frame set
    for k in (1, 2, 3):
        assert [gate.admit(k, 100.0 + k / 60) for _ in range(3)] == [False] * 3
    assert (gate.kept, gate.dropped) == (1, 3)
    gate.request()  # processing is free again: the next frame the first reader reaches is kept
    clock.t = 100.2
    assert gate.admit(4, 100.0 + 4 / 60) is True
    assert gate.admit(5, 100.0 + 5 / 60) is False  # a fast reader already at 5: only one set in flight
    assert gate.admit(4, 0) is True and gate.admit(4, 0) is True  # the slower readers follow the decision
    assert gate.admit(5, 0) is False and gate.admit(5, 0) is False
    assert (gate.kept, gate.dropped) == (2, 4)
    assert gate._decided == {}  # decisions are forgotten once every view has passed


def test_lag_is_the_slowest_readers_delay_behind_the_due_time():
    clock = _Clock(10.0)
    gate = ReplayGate(2, clock=clock)
    gate.admit(0, 9.99)
    assert gate.lag_s == 0.0  # not every view there yet
    clock.t = 10.25
    gate.admit(0, 9.99)
    assert gate.lag_s == pytest.approx(0.26)
    gate.view_ended()  # one reader ended: decisions need the remaining one only
    gate.request()
    assert gate.admit(1, 10.0) is True and gate._decided == {}


def test_busy_meter_and_limiting_stage():
    m = BusyMeter(window_s=2.0)
    for i in range(20):  # busy 80 ms of every 100 ms
        m.add(10.0 + 0.1 * i, 10.0 + 0.1 * i + 0.08)
    assert m.fraction(12.0) == pytest.approx(0.8)
    assert limiting_stage(11.0, 60.0, 90.0, 2.0, 0.01) == "detect"  # 11 of 60 sets/s processed
    assert limiting_stage(11.0, 60.0, 1.0, 20.0, None) == "3D"
    assert limiting_stage(11.0, 60.0, 90.0, 2.0, 0.30) == "decode"  # readers 300 ms behind the replay clock
    assert limiting_stage(59.0, 60.0, 9.0, 2.0, 0.02) == "source"


def _videos(tmp_path, n_views=3, n_frames=40, size=(64, 48)):
    paths = []
    for v in range(n_views):
        p = tmp_path / f"cam{v + 1}.avi"
        w = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"MJPG"), 60.0, size)
        for k in range(n_frames):
            img = np.full((size[1], size[0], 3), 5 * k, np.uint8)  # the frame number in the grey level
            w.write(img)
        w.release()
        paths.append(str(p))
    return paths


class _SlowDetector:
    """Takes ``busy_s`` per frame set (a slow detector; the test counts results, not time), and records
    which frame each view showed."""

    accepts_crops = False

    def __init__(self, busy_s):
        self.busy_s, self.seen = busy_s, []
        self._never = threading.Event()

    def detect(self, images, frame_index=None):
        self._never.wait(self.busy_s)
        self.seen.append((frame_index, [None if im is None else float(im.mean()) / 5.0 for im in images]))
        return Detections(pose=missing_keypoints(len(images), 1, 25))


def _run(paths, detector, **kw):
    src = OpenCVSource(paths, realtime=True)
    pipe = Pipeline(src, detector, None, mode=kw.pop("mode", "live"), thumbnail_width=0, **kw)
    pipe.run()
    return pipe, pipe.stats()


def test_a_busy_replay_drops_whole_sets_and_builds_none_with_a_missing_view(tmp_path):
    paths = _videos(tmp_path, n_views=3, n_frames=40)
    det = _SlowDetector(0.05)  # 50 ms per set; the replay brings a set every 16.7 ms
    pipe, st = _run(paths, det)
    assert pipe.gate is not None
    assert st.incomplete_sets == 0 and st.missing_views == 0 and st.late == 0 and st.drops == 0
    assert st.processed + st.dropped_sets == 40  # every frame index: processed whole or skipped whole
    assert st.dropped_sets >= 20 and st.processed >= 3
    for frame_index, shown in det.seen:  # every view of a processed set shows its own frame
        assert all(s is not None and abs(s - frame_index) < 0.5 for s in shown)
    assert st.limited_by == "detect"  # 20 of 60 sets/s at most


def test_offline_and_ungated_runs_process_every_set(tmp_path):
    paths = _videos(tmp_path, n_views=2, n_frames=20)
    pipe, st = _run(paths, _SlowDetector(0.0), mode="offline")
    assert pipe.gate is None and st.processed == 20 and st.dropped_sets == 0
    pipe, st = _run(paths, _SlowDetector(0.0), replay_gate=False)  # the older live path: no gate
    assert pipe.gate is None and st.dropped_sets == 0
