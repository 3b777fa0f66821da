"""Who goes out with ``[tracking] people = "all"``: the person picked in the viewer (or by any thread), handed
to the processing thread, which gives it to the 3D stage before each frame set.

The picked person's pose is the pipeline's single pose (``LiveSnapshot.pose``, ``StreamFrame.xyz_world``):
what single-performer streams (VMC, OSC, LSL with one block), the live BVH and the viewer's "followed"
person use. No pick: the lowest id in view, as before. A picked person the tracker has retired (not seen
for ``[tracking] hold_s``; ids are never reused) ends the pick: the lowest id again, and ``retired`` says
which pick ended until the next one.
"""
from __future__ import annotations

import logging
import operator
import threading

from capture3d.errors import ConfigError

log = logging.getLogger(__name__)


def check_person_id(person_id) -> int | None:
    """A person id (an integer >= 1) or None; ConfigError naming what was found otherwise."""
    if person_id is None:
        return None
    try:
        pid = operator.index(person_id)  # int and numpy integers; not floats or text
    except TypeError:
        pid = None
    if pid is None or isinstance(person_id, bool):
        raise ConfigError(f"a picked person must be a person id (an integer >= 1) or None, found {person_id!r}")
    if pid < 1:
        raise ConfigError(f"a picked person must be a person id >= 1 (ids start at 1), found {pid}")
    return pid


class PersonPick:
    """The pick, shared between the thread that picks (``request``: the GUI) and the processing thread
    (``apply`` before a frame set, ``settle`` after). Thread-safe; every call is O(1) and never waits
    for more than the lock's few instructions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wanted: int | None = None
        self._retired: int | None = None

    def request(self, person_id: int | None) -> None:
        """Pick ``person_id`` (None: back to the lowest id in view), from any thread."""
        pid = check_person_id(person_id)
        with self._lock:
            self._wanted, self._retired = pid, None
        log.info("person picked: %s", "the lowest id in view" if pid is None else pid)

    @property
    def wanted(self) -> int | None:
        """The person picked now (None: the lowest id in view)."""
        return self._wanted

    @property
    def retired(self) -> int | None:
        """The last pick that ended because its person was retired (None since the latest ``request``)."""
        return self._retired

    def apply(self, reconstructor) -> None:
        """Processing thread, before a frame set: the 3D stage returns the picked person's pose."""
        if reconstructor is not None:
            reconstructor.pick = self._wanted

    def settle(self, reconstructor) -> None:
        """Processing thread, after a frame set: a pick the 3D stage found retired ends here (unless another
        pick came meanwhile)."""
        gone = None if reconstructor is None else getattr(reconstructor, "pick_retired", None)
        if gone is None:
            return
        with self._lock:
            if self._wanted != gone:
                return
            self._wanted, self._retired = None, gone
        log.info("picked person %d was retired: the lowest id in view goes out again", gone)
