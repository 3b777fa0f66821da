"""Hand-off between pipeline threads.

Live paths use a latest-value slot (an unread item is replaced and counted as a drop: latency stays low);
offline processing, the recorder and the exporters use bounded queues with lossless puts (the producer
waits for room). ``END`` marks the end of the input in both.
"""
from __future__ import annotations

import queue
import threading
from typing import Iterator

END = object()  # end-of-input marker in queues and slots


class LatestSlot:
    """A one-item mailbox: ``put`` replaces an unread item (counted in ``drops``); ``get`` waits.

    Once END is in the slot it stays there: later items are ignored, so the consumer always sees the end.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item = None
        self._has = False
        self.drops = 0

    def put(self, item) -> None:
        with self._cond:
            if self._has and self._item is not END:
                self.drops += 1
            if not (self._has and self._item is END):
                self._item, self._has = item, True
            self._cond.notify()

    def get(self, timeout_s: float):
        """The newest item, or None after timeout_s."""
        with self._cond:
            if not self._has:
                self._cond.wait(timeout_s)
            if not self._has:
                return None
            item, self._item, self._has = self._item, None, False
            return item


def put_lossless(q: queue.Queue, item, stop: threading.Event,
                 consumer_done: threading.Event | None = None) -> int:
    """Blocking put on a bounded queue; returns how many times it found the queue full (0.1 s each).

    An ordinary item is given up only once ``stop`` is set; an end marker (given with the consumer's
    ``consumer_done`` event) waits for room until its consumer has ended, whatever ``stop`` says.
    """
    waits = 0
    while True:
        try:
            q.put(item, timeout=0.1)
            return waits
        except queue.Full:
            waits += 1
            if consumer_done is None and stop.is_set():
                return waits
            if consumer_done is not None and consumer_done.is_set():
                return waits


def until_end(q: queue.Queue) -> Iterator:
    """The items of q as they come, until END (a consumer thread's loop)."""
    while True:
        try:
            item = q.get(timeout=0.1)
        except queue.Empty:
            continue
        if item is END:
            return
        yield item


def drain(q: queue.Queue) -> None:
    """Throw away everything waiting in q."""
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return
