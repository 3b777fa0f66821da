"""Callbacks the live viewer's buttons call (no Qt): the pipeline (or a synthetic stream) supplies them.

Every callback runs on the GUI thread and must return quickly (set a flag, put a command in a queue);
an exception it raises is logged and shown in the status bar, never swallowed silently.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class LiveControls:
    """start/stop: start or stop live processing. start_recording(): begin a recording and return a
    description of where it goes (a path) or None; stop_recording(): finish (or pause) it. recording():
    whether a recording runs now (the Record button's initial state; afterwards a snapshot's
    ``stats.recording`` keeps it in step). A callback left None disables its control. record_tooltip: the Record button's tooltip (e.g.
    how to make recording available when it is disabled).
    stopped(): why the live source has ended (a non-empty string, e.g. "duration reached", a worker error),
    or "" / None while it runs; once it says so the window shows the reason and closes.
    pick_person(person id or None): with every person tracked (``[tracking] people = "all"``), who goes out
    (streams, live BVH): the person picked in the window's "Person" box, None for the lowest id in view
    (``Pipeline.pick_person``: thread-safe, applied from the next frame set on).
    """

    start: Callable[[], object] | None = None
    stop: Callable[[], object] | None = None
    start_recording: Callable[[], object] | None = None
    stop_recording: Callable[[], object] | None = None
    stopped: Callable[[], str | None] | None = None
    recording: Callable[[], bool] | None = None
    pick_person: Callable[[int | None], object] | None = None
    record_tooltip: str = ""
