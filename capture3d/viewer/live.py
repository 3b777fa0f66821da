"""Live mode: a QTimer on the GUI thread polls the latest LiveSnapshot and updates the items.

The GUI thread never waits on the pipeline: poll() is a latest-value read. Thumbnails are redrawn at
most every ``thumb_interval_ms`` (they cost more than the 3D update); the 3D view follows every new
snapshot. A snapshot that does not match the keypoint set or the rig is reported in the status area and
skipped (3D) or drawn without scaling (2D), never raised.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import numpy as np
from PyQt6 import QtCore, QtWidgets

from capture3d.types import LiveSnapshot
from capture3d.viewer.controls import LiveControls
from capture3d.viewer.person_picker import PersonPicker
from capture3d.viewer.window import ViewerWindow

log = logging.getLogger(__name__)


class LiveController(QtCore.QObject):
    """Connects a poll function and LiveControls to a ViewerWindow."""

    def __init__(self, window: ViewerWindow, poll: Callable[[], LiveSnapshot | None],
                 controls: LiveControls | None = None, poll_interval_ms: int = 15,
                 thumb_interval_ms: int = 33, close_delay_ms: int = 1500) -> None:
        super().__init__(window)
        self.window = window
        self.poll = poll
        self.controls = controls or LiveControls()
        self.thumb_interval_s = thumb_interval_ms / 1e3
        self.snapshots = 0
        self.last_index = -1
        self.last_snapshot: LiveSnapshot | None = None
        self.max_tick_ms = 0.0  # longest poll + update, ms (for benchmarks)
        self.close_delay_ms = close_delay_ms
        self.rig_swaps_shown = 0  # rig swaps (live refinement) shown
        self.stop_reason = ""  # set once controls.stopped() reported the end of the live source
        self._last_thumb_t = 0.0
        self._build_controls()
        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.tick)
        self.timer.start(poll_interval_ms)

    # ----------------------------------------------------------------------------- controls
    def _build_controls(self) -> None:
        box = QtWidgets.QGroupBox("Live")
        lay = QtWidgets.QGridLayout(box)
        c = self.controls
        self.btn_live = QtWidgets.QPushButton("Stop live")
        self.btn_live.setCheckable(True)
        self.btn_live.setChecked(True)
        self.btn_live.setEnabled(c.start is not None or c.stop is not None)
        self.btn_live.toggled.connect(self._toggle_live)
        self.btn_rec = QtWidgets.QPushButton("Record")
        self.btn_rec.setCheckable(True)
        self.btn_rec.setEnabled(c.start_recording is not None)
        self.btn_rec.setToolTip(c.record_tooltip)
        if c.recording is not None and self._call("recording"):
            self.btn_rec.setChecked(True)
            self.btn_rec.setText("Stop recording")
        self.btn_rec.toggled.connect(self._toggle_record)
        lay.addWidget(self.btn_live, 0, 0)
        lay.addWidget(self.btn_rec, 0, 1)
        self.picker = PersonPicker(None if c.pick_person is None else self._pick)
        lay.addWidget(QtWidgets.QLabel("Person"), 1, 0)
        lay.addWidget(self.picker.box, 1, 1)
        self.window.controls_box.addWidget(box)

    def _pick(self, person_id: int | None) -> None:
        """The person picker changed: tell the pipeline who goes out from the next frame set on."""
        self._call("pick_person", person_id)
        who = "the lowest id in view" if person_id is None else f"person {person_id}"
        self.window.statusBar().showMessage(f"{who} goes out (streams, live BVH)", 5000)

    def _call(self, name: str, *args) -> object:
        fn = getattr(self.controls, name)
        if fn is None:
            return None
        try:
            return fn(*args)
        except Exception as exc:  # a control failing must not kill the GUI: report it visibly
            log.exception("live control %s failed", name)
            self.window.warn(f"{name} failed: {exc}")
            return None

    def _toggle_live(self, on: bool) -> None:
        self._call("start" if on else "stop")
        self.btn_live.setText("Stop live" if on else "Start live")

    def _toggle_record(self, on: bool) -> None:
        if on:
            where = self._call("start_recording")
            self.window.statusBar().showMessage(f"recording {where or ''}".strip(), 5000)
        else:
            self._call("stop_recording")
            self.window.statusBar().showMessage("recording stopped", 5000)
        self.btn_rec.setText("Stop recording" if on else "Record")

    def _rig_swapped(self, snap: LiveSnapshot) -> None:
        """The 3D stage now uses another rig (live refinement): redraw the cameras and say so."""
        w = self.window
        w.rig = snap.rig
        w.scene.set_rig(snap.rig)
        self.rig_swaps_shown += 1
        text = snap.stats.rig_refine or f"rig refined at frame set {snap.index}"
        w.statusBar().showMessage(text, 15000)
        log.info("viewer: %s", text)

    # ----------------------------------------------------------------------------- polling
    def tick(self) -> None:
        """One poll: take the newest snapshot (if any) and update the view. Never blocks."""
        t0 = time.perf_counter()
        if self.controls.stopped is not None and self._check_stopped():
            return
        snap = self.poll()
        if snap is None or snap.index == self.last_index:
            return
        self.last_index = snap.index
        self.last_snapshot = snap
        self.snapshots += 1
        self.show(snap)
        self.max_tick_ms = max(self.max_tick_ms, (time.perf_counter() - t0) * 1e3)

    def _check_stopped(self) -> bool:
        """When the live source has ended on its own: show why, disable the controls, stop polling and
        close the window after ``close_delay_ms``. Returns True once stopped."""
        reason = self._call("stopped")
        if not reason:
            return False
        self.stop_reason = str(reason)
        self.timer.stop()
        for w in (self.btn_live, self.btn_rec, self.picker.box):
            w.setEnabled(False)
        self.window.statusBar().showMessage(f"live stopped: {self.stop_reason}; closing")
        log.info("live source stopped (%s): closing the viewer", self.stop_reason)
        QtCore.QTimer.singleShot(self.close_delay_ms, self.window.close)
        return True

    def _show_people(self, snap: LiveSnapshot) -> str:
        """Every person of the snapshot, each in its colour with its id, the one that goes out singled out;
        the picker follows the ids in view. Returns the status line about the people."""
        w, people = self.window, snap.people
        ids, xyz = np.asarray(people.ids), np.asarray(people.xyz_world)
        J = w.keypoint_set.n_joints
        if xyz.shape == (len(ids), J, 3):
            w.scene.set_people(ids, xyz, snap.person_id)
        else:
            w.warn(f"3D people have shape {xyz.shape}, the viewer expects ({len(ids)}, {J}, 3) for "
                   f"{w.keypoint_set.name}: skipped")
        if self.picker.update(ids, snap.pick_retired):
            text = (f"person {snap.pick_retired} was retired (not seen for [tracking] hold_s): the lowest id in "
                    f"view goes out again")
            w.statusBar().showMessage(text, 15000)
            log.info("viewer: %s", text)
        out = "nobody" if snap.person_id is None else f"person {snap.person_id}"
        return f"people in view: {', '.join(map(str, ids.tolist())) or 'none'}; out: {out}"

    def show(self, snap: LiveSnapshot) -> None:
        w = self.window
        J = w.keypoint_set.n_joints
        people_line = ""
        if snap.people is not None:
            people_line = self._show_people(snap)
        elif snap.pose is not None:
            xyz = np.asarray(snap.pose.xyz_world)
            if xyz.shape == (J, 3):
                w.scene.set_pose(xyz)
            else:
                w.warn(f"3D pose has shape {xyz.shape}, the viewer expects {w.keypoint_set.name} ({J}, 3): skipped")
        kp2d = snap.keypoints2d
        if kp2d is not None and (kp2d.ndim != 3 or kp2d.shape[1:] != (J, 3)):
            w.warn(f"2D keypoints have shape {kp2d.shape}, expected (V, {J}, 3): not drawn")
            kp2d = None
        n_views = len(snap.thumbnails) if snap.thumbnails is not None else (len(kp2d) if kp2d is not None else 0)
        if w.rig is not None and n_views and n_views != len(w.rig):
            w.warn(f"the pipeline sends {n_views} views but the rig has {len(w.rig)} cameras")
        now = time.perf_counter()
        if w.thumbs.isVisible() and now - self._last_thumb_t >= self.thumb_interval_s:
            w.thumbs.set_views(kp2d, snap.thumbnails)
            self._last_thumb_t = now
        if snap.rig is not None and w.rig is not None and snap.rig is not w.rig:
            self._rig_swapped(snap)
        w.stats = snap.stats.shown()
        rec = self.btn_rec.isChecked() if snap.stats.recording is None else snap.stats.recording
        if rec != self.btn_rec.isChecked():
            self.btn_rec.blockSignals(True)
            self.btn_rec.setChecked(rec)
            self.btn_rec.setText("Stop recording" if rec else "Record")
            self.btn_rec.blockSignals(False)
        w.extra_status = f"frame set {snap.index}  t = {snap.time_s:.2f} s" + (f"\n{people_line}" if people_line else "")
