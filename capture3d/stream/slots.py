"""Stable slots for people in streams whose layout is fixed when they open: VMC (one performer per UDP port)
and LSL (a channel block per person) with ``?people=N``.

A person keeps its slot while it is tracked: while out of view the slot stays its own (the receiver holds
the last pose or shows tracking lost), and it is freed ``release_s`` after the person was last seen (the
tracker's default ``hold_s``: after that the person is retired and never comes back under that id). A person
in view without a slot takes the lowest free slot; when none is free, the slot of the owner unseen for the
longest (never one whose owner is in view). Newcomers are served in id order, the ``first`` person (the one
picked in the viewer, else the lowest id) before the others, so it always has a slot.
"""
from __future__ import annotations

import numpy as np


class StreamSlots:
    """n_slots stable slots. ``owner``: (n_slots,) int person id per slot (0: free). ``changed``: (n_slots,)
    bool, the slot's owner changed in the last ``assign`` (a new performer: reset its solver)."""

    def __init__(self, n_slots: int, release_s: float = 3.0) -> None:
        if n_slots < 1:
            raise ValueError(f"n_slots must be >= 1, got {n_slots}")
        self.release_s = float(release_s)
        self.owner = np.zeros(n_slots, dtype=np.int64)
        self.last_seen_s = np.full(n_slots, -np.inf)
        self.changed = np.zeros(n_slots, dtype=bool)

    @property
    def n_slots(self) -> int:
        return len(self.owner)

    def assign(self, ids, time_s: float, first: int | None = None) -> np.ndarray:
        """One frame: ids (K,) int of the people in view (any order), time_s its time (s), first the person
        served first. Returns (n_slots,) int: per slot, the index into ``ids`` of its owner, -1 when the owner
        is not in view or the slot is free."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        old = self.owner.copy()
        in_view = np.isin(self.owner, ids) & (self.owner > 0)
        self.last_seen_s[in_view] = time_s
        stale = (self.owner > 0) & ~in_view & (time_s - self.last_seen_s > self.release_s)
        self.owner[stale] = 0
        newcomers = [int(i) for i in np.unique(ids) if i > 0 and i not in self.owner]
        if first is not None and first in newcomers:
            newcomers.remove(first)
            newcomers.insert(0, first)
        for pid in newcomers:
            free = np.flatnonzero(self.owner == 0)
            if len(free):
                slot = int(free[0])
            else:
                away = np.flatnonzero(~np.isin(self.owner, ids))
                if not len(away):
                    break  # every slot's owner is in view: the rest are not sent
                slot = int(away[np.argmin(self.last_seen_s[away])])
            self.owner[slot], self.last_seen_s[slot] = pid, time_s
        self.changed = self.owner != old
        rows = np.full(self.n_slots, -1, dtype=np.int64)
        for s in np.flatnonzero(self.owner > 0):
            k = np.flatnonzero(ids == self.owner[s])
            if len(k):
                rows[s] = int(k[0])
        return rows
