"""Frame-set assembly: frames of V cameras -> frame sets of one instant each. Pure: no threads, no clock.

Two ways to decide that frames belong together:

- ``"trigger"`` (hardware sync): frames with the same trigger frame id form a set. The exposure times
  are checked as well: a frame more than half a frame period away from the set's first frame is counted
  as *mismatched* and left out (its view becomes missing), never paired silently.
- ``"timestamp"`` (software sync): a frame joins the pending set whose reference time (its first frame's
  ``time_s``) is nearest, if within half a frame period; otherwise it starts a new set.

A set is emitted, in capture order, when every live camera has delivered its frame, when a newer set is
complete (the cameras deliver in order, so the older one can get nothing more), or when it is older
than ``max_delay_frames`` periods behind the newest frame (or behind the host clock, see ``expire``).
Counters: per camera, frames accepted, *missing* (emitted sets without it), *late* (frames whose set
had already been emitted: dropped) and *mismatched* (timestamp disagreeing with the trigger id, or a
second frame of the same camera for one set: dropped).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from capture3d.types import Frame, FrameSet


@dataclass
class SyncStats:
    """Counters of a FrameSetAssembler; lists are per camera, in view order."""

    cameras: list[str]
    frames: list[int]
    missing: list[int]
    late: list[int]
    mismatched: list[int]
    sets: int = 0
    complete: int = 0
    dead: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Totals plus per-camera counts: {"sets", "complete", "incomplete", "missing", "late",
        "mismatched", "per_camera": {name: {...}}, "dead": [...]}."""
        per = {c: {"frames": f, "missing": m, "late": la, "mismatched": mm}
               for c, f, m, la, mm in zip(self.cameras, self.frames, self.missing, self.late, self.mismatched)}
        return {"sets": self.sets, "complete": self.complete, "incomplete": self.sets - self.complete,
                "missing": sum(self.missing), "late": sum(self.late), "mismatched": sum(self.mismatched),
                "per_camera": per, "dead": list(self.dead)}


class _Pending:
    __slots__ = ("key", "time_ref_s", "frames")

    def __init__(self, key: float, time_ref_s: float, n_views: int) -> None:
        self.key = key
        self.time_ref_s = time_ref_s
        self.frames: list[Frame | None] = [None] * n_views


class FrameSetAssembler:
    """Groups frames into FrameSets (see the module docstring).

    cameras: V camera names in view order (a frame's ``view`` indexes them). fps: the common frame rate.
    mode: "trigger" or "timestamp". check_time: in trigger mode, also reject frames whose time_s is more
    than half a period from their set's. data_expiry: emit a set once newer frames are max_delay_frames
    ahead (live capture); False for file replay, where one camera's reader may run ahead of the others and
    a set is emitted only when complete, on ``mark_dead`` (a stream ended) or ``flush``.
    """

    def __init__(self, cameras: Sequence[str], fps: float, mode: str = "trigger", max_delay_frames: int = 3,
                 check_time: bool = True, data_expiry: bool = True) -> None:
        if mode not in ("trigger", "timestamp"):
            raise ValueError(f"sync mode must be 'trigger' or 'timestamp', got {mode!r}")
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.cameras = list(cameras)
        self.n_views = len(self.cameras)
        self.mode = mode
        self.period_s = 1.0 / fps
        self.max_delay_frames = int(max_delay_frames)
        self.check_time = check_time
        self.data_expiry = data_expiry
        self.alive = np.ones(self.n_views, bool)
        self._pending: list[_Pending] = []  # sorted by key
        self._next_index = 0
        self._last_key = -np.inf  # key of the last emitted set
        self._newest_key = -np.inf
        z = [0] * self.n_views
        self.stats = SyncStats(list(self.cameras), list(z), list(z), list(z), list(z))

    # ------------------------------------------------------------------ input
    def add(self, frame: Frame) -> list[FrameSet]:
        """Add one frame; returns the frame sets that became ready (possibly none), oldest first."""
        v = frame.view
        if not 0 <= v < self.n_views:
            raise ValueError(f"frame of view {v}, but the assembler has {self.n_views} cameras")
        pend = self._find(frame)
        if pend is None:
            return self._expire_by_data()
        pend.frames[v] = frame
        self.stats.frames[v] += 1
        self._newest_key = max(self._newest_key, pend.key)
        if self._is_complete(pend):
            return self._emit_through(pend.key)
        return self._expire_by_data()

    def _find(self, frame: Frame) -> _Pending | None:
        v = frame.view
        half = 0.5 * self.period_s
        if self.mode == "trigger":
            key = float(frame.frame_id)
            if key <= self._last_key:
                self.stats.late[v] += 1
                return None
            for p in self._pending:
                if p.key == key:
                    if p.frames[v] is not None or (self.check_time and abs(frame.time_s - p.time_ref_s) > half):
                        self.stats.mismatched[v] += 1
                        return None
                    return p
            return self._insert(_Pending(key, frame.time_s, self.n_views))
        t = frame.time_s
        if self._pending:
            best = min(self._pending, key=lambda p: abs(p.time_ref_s - t))
            if abs(best.time_ref_s - t) <= half:
                if best.frames[v] is not None:
                    self.stats.mismatched[v] += 1
                    return None
                return best
        if t <= self._last_key + half:
            self.stats.late[v] += 1
            return None
        return self._insert(_Pending(t, t, self.n_views))

    def _insert(self, p: _Pending) -> _Pending:
        i = len(self._pending)
        while i > 0 and self._pending[i - 1].key > p.key:
            i -= 1
        self._pending.insert(i, p)
        return p

    def _is_complete(self, p: _Pending) -> bool:
        return all(p.frames[v] is not None for v in range(self.n_views) if self.alive[v])

    # ------------------------------------------------------------------ output
    def _emit(self, p: _Pending) -> FrameSet:
        present = [f for f in p.frames if f is not None]
        for v, f in enumerate(p.frames):
            if f is None:
                self.stats.missing[v] += 1
        self.stats.sets += 1
        if len(present) == self.n_views:
            self.stats.complete += 1
        self._last_key = max(self._last_key, p.key)
        frame_id = int(p.key) if self.mode == "trigger" else (present[0].frame_id if present else -1)
        time_s = float(np.mean([f.time_s for f in present])) if present else p.time_ref_s
        fs = FrameSet(self._next_index, frame_id, time_s, tuple(p.frames))
        self._next_index += 1
        return fs

    def _emit_through(self, key: float) -> list[FrameSet]:
        out = []
        while self._pending and self._pending[0].key <= key:
            out.append(self._emit(self._pending.pop(0)))
        return out

    def _delay(self) -> float:
        return self.max_delay_frames * (1.0 if self.mode == "trigger" else self.period_s)

    def _expire_by_data(self) -> list[FrameSet]:
        if not self.data_expiry:
            return []
        limit = self._newest_key - self._delay()
        out = []
        while self._pending and self._pending[0].key < limit:
            out.append(self._emit(self._pending.pop(0)))
        return out

    def expire(self, now_s: float) -> list[FrameSet]:
        """Emit the pending sets whose reference time is more than max_delay_frames periods before now_s
        (host monotonic clock): for when cameras stop delivering altogether."""
        limit = now_s - self.max_delay_frames * self.period_s
        out = []
        while self._pending and self._pending[0].time_ref_s < limit:
            out.append(self._emit(self._pending.pop(0)))
        return out

    def mark_dead(self, view: int) -> list[FrameSet]:
        """A camera failed: stop waiting for it (its views are counted missing). Returns sets now ready."""
        self.alive[view] = False
        if self.cameras[view] not in self.stats.dead:
            self.stats.dead.append(self.cameras[view])
        ready = [p for p in self._pending if self._is_complete(p)]
        return self._emit_through(ready[-1].key) if ready else []

    def flush(self) -> list[FrameSet]:
        """Emit every pending set (end of input)."""
        out = [self._emit(p) for p in self._pending]
        self._pending.clear()
        return out

    def discard(self) -> int:
        """Forget every pending set without emitting it (a replay stopped mid-set); returns how many."""
        n = len(self._pending)
        self._pending.clear()
        return n

    @property
    def n_pending(self) -> int:
        return len(self._pending)


def mispaired(frame_set: FrameSet) -> bool:
    """True when the frames of a set carry different ground-truth ``truth_index`` metadata (synthetic
    sources): a wrong pairing. Frames without it are not judged."""
    idx = {f.metadata["truth_index"] for f in frame_set.frames if f is not None and "truth_index" in f.metadata}
    return len(idx) > 1
