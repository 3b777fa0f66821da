"""The recorder's side of the pipeline: which frame sets go into a recording, and their place in it.

Capture and processing go on while the recording is paused; the recorder receives only the recorded frame
sets, renumbered from 0 without gaps, so its videos, frames.csv and a live BVH stay frame-aligned. A pose
sink fed by the processing thread asks ``sink_index`` for a processed set's index in the recording.
"""
from __future__ import annotations

import collections
import dataclasses
import errno
import queue
import threading
from typing import Callable

from capture3d.runtime.handoff import END, drain, put_lossless, until_end
from capture3d.types import FrameSet


class RecordFeed:
    """Feeds a ``capture3d.io.recording.SessionWriter`` from the pipeline through a bounded lossless queue.

    stop: the pipeline's stop event (a frame set is given up only once it is set). request_stop(reason):
    stops the pipeline (used when the disk is full). track_index: remember each recorded set's index in
    the recording for ``sink_index`` (only needed with a pose sink).
    """

    def __init__(self, recorder, queue_size: int, stop: threading.Event, request_stop: Callable[[str], None],
                 track_index: bool) -> None:
        self.recorder = recorder
        self.queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self.done = threading.Event()  # the recorder thread has ended
        self.paused_sets = 0  # frame sets left out of the recording while it was paused
        self.waits = 0  # times a frame set waited for room in the queue (the recorder fell behind)
        self._stop = stop
        self._request_stop = request_stop
        self._paused = threading.Event()
        self._next = 0  # index in the recording of the next recorded frame set
        self._track_index = track_index
        self._index: collections.deque = collections.deque()  # (set index, index in the recording)

    # ------------------------------------------------------------------ control (any thread)
    def pause(self) -> None:
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()

    @property
    def recording(self) -> bool:
        """Frame sets are being recorded now: the recorder is open and the recording not paused."""
        return not self.recorder.closed and not self._paused.is_set()

    # ------------------------------------------------------------------ producer (pipeline lock held)
    def offer(self, fs: FrameSet) -> None:
        """Hand fs to the recorder, renumbered by its place in the recording, unless paused."""
        if self._paused.is_set():
            self.paused_sets += 1
            return
        if self._track_index:
            self._index.append((fs.index, self._next))
        self.waits += put_lossless(self.queue, dataclasses.replace(fs, index=self._next), self._stop)
        self._next += 1

    @property
    def recorded_sets(self) -> int:
        """Frame sets handed to the recorder so far."""
        return self._next

    def end(self) -> None:
        """No more frame sets: the recorder thread ends once it has written what is queued."""
        put_lossless(self.queue, END, self._stop, consumer_done=self.done)

    # ------------------------------------------------------------------ processing thread
    def sink_index(self, set_index: int) -> int | None:
        """Frame set set_index's index in the recording, or None when it was not recorded. Sets must be
        asked in increasing order (sets skipped by the processing are forgotten)."""
        q = self._index
        while q and q[0][0] < set_index:  # sets dropped or not processed
            q.popleft()
        if q and q[0][0] == set_index:
            return q.popleft()[1]
        return None

    # ------------------------------------------------------------------ recorder thread
    def loop(self) -> None:
        """Write queued frame sets until END. A full disk stops the pipeline (with the reason) and keeps
        what was written; other errors propagate to the pipeline's error handling."""
        try:
            for fs in until_end(self.queue):
                try:
                    self.recorder.write(fs)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    self._request_stop(f"disk full: recording stopped after {self.recorder.sets_written} frame "
                                       f"sets ({exc.strerror})")
                    drain(self.queue)
                    break
        finally:
            self.done.set()

    def stats(self) -> dict:
        return {"recording": self.recording, "recorded_sets": self.recorder.sets_written,
                "record_paused_sets": self.paused_sets, "record_queue": self.queue.qsize()}
