"""The live window's person picker: a "Person" combo box that chooses who goes out with ``[tracking] people =
"all"`` (the single pose of the streams, the live BVH and the snapshot; ``LiveControls.pick_person``).

Entries: "lowest id in view" (no pick: the default) and one per person id in view, kept in id order and
updated as people appear and disappear (the picked person stays listed while the pipeline still tracks
them, also when out of view). Changing the selection calls ``on_pick(person id or None)`` on the GUI thread;
the list is never rebuilt while its popup is open (a rebuild waits for the next snapshot).
"""
from __future__ import annotations

from typing import Callable

from PyQt6 import QtWidgets

LOWEST = "lowest id in view"
OFF_TIP = "several people: run 'capture3d live --people all' (or [tracking] people = \"all\") to pick one"
ON_TIP = ("who goes out to the streams (VMC, OSC, LSL), the live BVH and the recording's pose: the person "
          "picked, or the lowest id in view")


class PersonPicker:
    """box: the QComboBox. picked: the person picked now (None: the lowest id in view). ids: the person ids
    listed. on_pick(person id or None) is called when the user changes the selection (None: no callback,
    the box stays disabled)."""

    def __init__(self, on_pick: Callable[[int | None], object] | None) -> None:
        self.on_pick = on_pick
        self.box = QtWidgets.QComboBox()
        self.box.addItem(LOWEST, None)
        self.box.setEnabled(False)
        self.box.setToolTip(OFF_TIP)
        self.picked: int | None = None
        self.ids: tuple[int, ...] = ()
        self.box.currentIndexChanged.connect(self._changed)

    def _changed(self, index: int) -> None:
        pid = self.box.itemData(index)
        self.picked = None if pid is None else int(pid)
        if self.on_pick is not None:
            self.on_pick(self.picked)

    def update(self, ids_in_view, retired: int | None = None) -> bool:
        """Follow a snapshot with every person: list the ids in view (and the pick), and end the pick when the
        pipeline says its person was retired. Returns True when the pick ended here."""
        if self.on_pick is not None and not self.box.isEnabled():
            self.box.setEnabled(True)
            self.box.setToolTip(ON_TIP)
        ended = retired is not None and retired == self.picked
        if ended:
            self.picked = None
        listed = tuple(sorted({int(i) for i in ids_in_view} | ({self.picked} if self.picked is not None else set())))
        if listed != self.ids and not self.box.view().isVisible():
            self._fill(listed)
        elif ended:
            self._select(None)
        return ended

    def _fill(self, listed: tuple[int, ...]) -> None:
        self.box.blockSignals(True)
        try:
            self.box.clear()
            self.box.addItem(LOWEST, None)
            for pid in listed:
                self.box.addItem(f"person {pid}", pid)
            self.ids = listed
        finally:
            self.box.blockSignals(False)
        self._select(self.picked)

    def _select(self, pid: int | None) -> None:
        """Show ``pid`` as selected without calling on_pick (the pipeline already knows)."""
        self.box.blockSignals(True)
        try:
            self.box.setCurrentIndex(max(self.box.findData(pid), 0) if pid is not None else 0)
        finally:
            self.box.blockSignals(False)
