"""Whole-set dropping for a paced file replay that cannot keep up: one decision per frame index, shared by
every view's reader, so a frame set is either read in all its views or skipped in all of them (never
built with missing views). No threads of its own, a lock for the readers; the clock is injected.

Rule, decided by the first reader to reach frame k (the others follow that decision):

- keep k when the processing stage has asked for a frame set (``request``, called when it is free);
- otherwise drop k (counted in ``dropped``): the readers decode it (video frames depend on each other) but
  do not convert or deliver it.

How far behind a frame's due time the last (slowest) reader reached it (``lag_s``, on the injected clock)
tells whether the decoding keeps up with the replay's frame rate (a lag that grows: decoding limits it).

So the one frame set in flight is always the newest the readers have reached when processing became
free: the latency is that of one frame set, and a replay that falls behind skips whole sets.
"""
from __future__ import annotations

import threading
import time
from typing import Callable


class ReplayGate:
    """n_views: readers sharing the gate. clock: seconds (monotonic), the clock of the frames' due times."""

    def __init__(self, n_views: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.n_views = int(n_views)
        self.clock = clock
        self._lock = threading.Lock()
        self._decided: dict[int, list] = {}  # frame index -> [keep, views that asked]
        self._wanted = True  # the first set is wanted
        self.kept = 0  # frame sets let through
        self.dropped = 0  # frame sets skipped whole
        self.lag_s = 0.0  # how far behind its due time the slowest reader reached the last frame all reached (s)

    def request(self) -> None:
        """The processing stage is free: keep the next frame index the readers reach."""
        with self._lock:
            self._wanted = True

    def admit(self, frame_index: int, due_s: float) -> bool:
        """Called by each view's reader for each frame it decoded: True to deliver it, False to skip it.

        frame_index: the frame's number (the same for every view of one instant). due_s: its due time on
        ``clock`` (s).
        """
        with self._lock:
            entry = self._decided.get(frame_index)
            if entry is None:
                keep = self._wanted
                if keep:
                    self._wanted = False
                    self.kept += 1
                else:
                    self.dropped += 1
                entry = self._decided[frame_index] = [keep, 0]
            entry[1] += 1
            if entry[1] >= self.n_views:
                del self._decided[frame_index]
                self.lag_s = self.clock() - due_s
            return bool(entry[0])

    def view_ended(self) -> None:
        """One reader will ask no more (its stream ended or failed): later decisions wait for one view fewer."""
        with self._lock:
            self.n_views = max(1, self.n_views - 1)
            for k in [k for k, e in self._decided.items() if e[1] >= self.n_views]:
                del self._decided[k]
