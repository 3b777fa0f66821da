"""The streams' worker (capture3d.stream.StreamHub): one thread feeds every sink from a latest-value slot, so
offering never waits for a sink (a slow one only makes frames be skipped, counted), the cheapest sinks are
sent to first, a receiver that is gone is counted and a sink that fails stops alone and is re-raised."""
import threading

import numpy as np
import pytest

from capture3d.body.keypoint_sets import BODY_25
from capture3d.stream import StreamFrame
from capture3d.stream.hub import StreamHub

J = BODY_25.n_joints


def _frame(i: int) -> StreamFrame:
    return StreamFrame(i, i / 60.0, np.zeros((J, 3)), np.ones(J), np.zeros(J), np.full(J, 3))


class _Sink:
    """Records what it is sent (and in which order, in ``log``); ``fail`` raises on the given frame index."""

    def __init__(self, label: str, log: list, fail: BaseException | None = None, fail_at: int = -1) -> None:
        self.label, self.log, self.fail, self.fail_at = label, log, fail, fail_at
        self.got: list[int] = []
        self.opened = self.closed = False
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.done = {i: threading.Event() for i in range(10)}  # done[i]: frame i was sent

    def open(self) -> None:
        self.opened = True

    def send(self, frame: StreamFrame) -> None:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        if frame.index == self.fail_at:
            raise self.fail
        self.got.append(frame.index)
        self.log.append((self.label, frame.index))
        self.done[frame.index].set()

    def close(self) -> None:
        self.closed = True


def test_a_slow_sink_never_blocks_offer_and_skipped_frames_are_counted():
    log: list = []
    slow, fast = _Sink("ws://slow", log), _Sink("osc://fast", log)
    slow.gate = threading.Event()
    hub = StreamHub([slow, fast], BODY_25)
    hub.start()
    hub.offer_frame(_frame(0))
    assert slow.entered.wait(10)          # the worker is inside the slow sink's send with frame 0
    for i in range(1, 10):                # these return at once; each replaces the unsent one before it
        hub.offer_frame(_frame(i))
    assert hub.stats()["ws://slow"]["drops"] == 8
    slow.gate.set()
    assert slow.done[9].wait(10)
    hub.close()
    assert slow.got == fast.got == [0, 9]  # the newest frame went out after the slow send
    assert [lbl for lbl, _ in log[:2]] == ["osc://fast", "ws://slow"]  # OSC before WebSocket
    st = hub.stats()
    assert st["ws://slow"]["sent"] == st["osc://fast"]["sent"] == 2 and slow.closed and fast.closed
    assert list(st) == ["ws://slow", "osc://fast"]  # stats in the order the streams were given


def test_a_gone_receiver_is_counted_and_a_failing_sink_stops_alone():
    log: list = []
    gone = _Sink("osc://gone", log, ConnectionRefusedError(111, "refused"), fail_at=1)
    bad = _Sink("vmc://bad", log, ValueError("encoder bug"), fail_at=2)
    good = _Sink("ws://good", log)
    hub = StreamHub([gone, bad, good], BODY_25)
    hub.start()
    for i in range(5):
        hub.offer_frame(_frame(i))
        assert good.done[i].wait(10)      # the frame reached the last sink before the next is offered
    with pytest.raises(ValueError, match="encoder bug") as info:
        hub.close()
    assert "vmc://bad" in str(info.value.__notes__)
    assert gone.got == [0, 2, 3, 4] and bad.got == [0, 1] and good.got == [0, 1, 2, 3, 4]
    st = hub.stats()
    assert st["osc://gone"]["errors"] == 1 and st["osc://gone"]["sent"] == 4 and st["vmc://bad"]["sent"] == 2
    assert gone.closed and bad.closed and good.closed
    hub.close()  # idempotent
