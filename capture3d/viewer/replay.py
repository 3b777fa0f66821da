"""Replay mode: play a Keypoints3D result with a timeline slider, play/pause, speed and frame stepping; a take
of several people ({id: Keypoints3D}, ``capture3d view take.csv``) shows every person of each frame in the
colour of its id with its id above its head, the picked one (``--person``) singled out.

Playback follows the wall clock (frame = start + elapsed * fps * speed), so a slow redraw skips frames
instead of slowing the motion down. Keys: Space play/pause, Left/Right step one frame, Home/End.
"""
from __future__ import annotations

import time

import numpy as np
from PyQt6 import QtCore, QtGui, QtWidgets

from capture3d.types import Keypoints3D
from capture3d.viewer.window import ViewerWindow

SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


class ReplayController(QtCore.QObject):
    """Timeline for a ViewerWindow. ``frame`` is the frame shown; ``set_frame`` jumps to one.

    people: {person id: Keypoints3D over the same frames} to show every person (None: ``keypoints3d`` alone,
    in OpenPose's colours); person: the picked id (singled out; its figures are shown), None: the figures of
    the lowest id in each frame.
    """

    def __init__(self, window: ViewerWindow, keypoints3d: Keypoints3D, frame: int = 0,
                 people: dict[int, Keypoints3D] | None = None, person: int | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.kp = keypoints3d
        self.people = dict(sorted(people.items())) if people else None
        self.person = person
        if self.people is not None:
            self._ids = np.array(list(self.people), dtype=np.int64)  # (K,)
            self._xyz = np.stack([k.xyz_world for k in self.people.values()])  # (K, T, J, 3) metres
        self.frame = -1
        self.playing = False
        self.speed = 1.0
        self._t0 = 0.0
        self._f0 = 0
        self._build()
        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.timer.start(15)
        self.set_frame(frame)

    @property
    def n_frames(self) -> int:
        return self.kp.n_frames

    def _build(self) -> None:
        bar = QtWidgets.QHBoxLayout()
        bar.setContentsMargins(6, 0, 6, 4)
        style = self.window.style()
        self.btn_prev = QtWidgets.QToolButton()
        self.btn_prev.setIcon(style.standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaSeekBackward))
        self.btn_prev.setToolTip("previous frame (Left)")
        self.btn_prev.clicked.connect(lambda: self.step(-1))
        self.btn_play = QtWidgets.QToolButton()
        self.btn_play.setToolTip("play / pause (Space)")
        self.btn_play.clicked.connect(self.toggle_play)
        self.btn_next = QtWidgets.QToolButton()
        self.btn_next.setIcon(style.standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaSeekForward))
        self.btn_next.setToolTip("next frame (Right)")
        self.btn_next.clicked.connect(lambda: self.step(1))
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, max(0, self.n_frames - 1))
        self.slider.valueChanged.connect(self._slider_moved)
        self.speed_box = QtWidgets.QComboBox()
        for s in SPEEDS:
            self.speed_box.addItem(f"{s:g}×", s)
        self.speed_box.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_box.currentIndexChanged.connect(lambda i: self.set_speed(SPEEDS[i]))
        self.label = QtWidgets.QLabel()
        self.label.setMinimumWidth(190)
        for w in (self.btn_prev, self.btn_play, self.btn_next):
            bar.addWidget(w)
        bar.addWidget(self.slider, 1)
        bar.addWidget(self.speed_box)
        bar.addWidget(self.label)
        self.window.bottom_box.addLayout(bar)
        self._update_play_icon()
        for key, fn in ((QtCore.Qt.Key.Key_Space, self.toggle_play), (QtCore.Qt.Key.Key_Left, lambda: self.step(-1)),
                        (QtCore.Qt.Key.Key_Right, lambda: self.step(1)),
                        (QtCore.Qt.Key.Key_Home, lambda: self.set_frame(0)),
                        (QtCore.Qt.Key.Key_End, lambda: self.set_frame(self.n_frames - 1))):
            sc = QtGui.QShortcut(QtGui.QKeySequence(key), self.window)
            sc.setContext(QtCore.Qt.ShortcutContext.ApplicationShortcut)  # also when the GL view has focus
            sc.activated.connect(fn)

    def _update_play_icon(self) -> None:
        icon = (QtWidgets.QStyle.StandardPixmap.SP_MediaPause if self.playing
                else QtWidgets.QStyle.StandardPixmap.SP_MediaPlay)
        self.btn_play.setIcon(self.window.style().standardIcon(icon))

    # ----------------------------------------------------------------------------- actions
    def set_frame(self, frame: int) -> None:
        """Show frame ``frame`` (clamped to the sequence)."""
        f = int(np.clip(frame, 0, max(0, self.n_frames - 1)))
        if f == self.frame:
            return
        self.frame = f
        if self.n_frames and self.people is not None:
            xyz = self._xyz[:, f]
            seen = np.isfinite(xyz).any(axis=(1, 2))
            self.window.scene.set_people(self._ids[seen], xyz[seen], self.person)
        elif self.n_frames:
            self.window.scene.set_pose(self.kp.xyz_world[f])
        self.slider.blockSignals(True)
        self.slider.setValue(f)
        self.slider.blockSignals(False)
        t = self.kp.times_s[f] if self.n_frames else 0.0
        self.label.setText(f"frame {f + 1} / {self.n_frames}   {t:7.2f} s")
        self.window.stats = self.frame_stats(f)
        self.window.extra_status = f"frame {f + 1} / {self.n_frames}  ({self.kp.fps:g} fps)"

    def frame_stats(self, f: int) -> dict:
        """Figures of one frame for the status area: joints reconstructed, mean reprojection error, views;
        with people, the people in view and whose figures these are (the picked person, else the lowest id
        in view)."""
        if not self.n_frames:
            return {}
        kp, out = self.kp, {}
        if self.people is not None:
            seen = [pid for pid, k in self.people.items() if k.valid[f].any()]
            out["people in view"] = ", ".join(map(str, seen)) or "none"
            pid = self.person if self.person is not None else (seen[0] if seen else None)
            if pid is None or pid not in self.people:
                return out
            out["person"] = pid
            kp = self.people[pid]
        ok = kp.valid[f]
        out["joints"] = f"{int(ok.sum())} / {kp.keypoint_set.n_joints}"
        err = kp.reproj_err_px[f][ok]
        err = err[np.isfinite(err)]
        if len(err) and err.max() > 0:
            out["reproj_err_px"] = float(err.mean())
        views = kp.n_views[f][ok]
        if len(views) and views.max() > 0:
            out["mean views"] = float(views.mean())
        return out

    def step(self, delta: int) -> None:
        self.pause()
        self.set_frame(self.frame + delta)

    def play(self) -> None:
        if self.n_frames < 2:
            return
        if self.frame >= self.n_frames - 1:
            self.set_frame(0)
        self.playing = True
        self._t0, self._f0 = time.perf_counter(), self.frame
        self._update_play_icon()

    def pause(self) -> None:
        self.playing = False
        self._update_play_icon()

    def toggle_play(self) -> None:
        self.pause() if self.playing else self.play()

    def set_speed(self, speed: float) -> None:
        self.speed = float(speed)
        self._t0, self._f0 = time.perf_counter(), self.frame

    def _slider_moved(self, value: int) -> None:
        self.set_frame(value)
        if self.playing:
            self._t0, self._f0 = time.perf_counter(), self.frame

    def _tick(self) -> None:
        if not self.playing:
            return
        f = self._f0 + int((time.perf_counter() - self._t0) * self.kp.fps * self.speed)
        if f >= self.n_frames - 1:
            self.set_frame(self.n_frames - 1)
            self.pause()
        else:
            self.set_frame(f)
