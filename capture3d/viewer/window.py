"""The main window: the 3D view, the camera thumbnails, a side panel with toggles, the status area and a
screenshot button. Live and replay controllers (live.py, replay.py) add their own controls to it.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from PyQt6 import QtCore, QtGui, QtWidgets

from capture3d.geometry.camera import Rig
from capture3d.errors import ExportError
from capture3d.body.keypoint_sets import KeypointSet
from capture3d.viewer.geometry import SkeletonStyle
from capture3d.viewer.scene3d import Scene3D
from capture3d.viewer.status import StallMonitor, format_stats
from capture3d.viewer.thumbnails import ThumbnailGrid

log = logging.getLogger(__name__)


class ViewerWindow(QtWidgets.QMainWindow):
    """3D view + thumbnails + side panel. ``controls_box`` is where a controller adds its buttons."""

    def __init__(self, keypoint_set: KeypointSet, rig: Rig | None = None, title: str = "capture3d",
                 thumbnails: bool = True, scene_cls: type[Scene3D] = Scene3D) -> None:
        super().__init__()
        self.setWindowTitle(title)
        self.keypoint_set = keypoint_set
        self.rig = rig
        self.scene = scene_cls(keypoint_set, rig)
        self.scene_widget = self.scene.make_container()
        self.thumbs = ThumbnailGrid(SkeletonStyle.of(keypoint_set), rig)
        self.stats: dict = {}
        self.extra_status = ""
        self.warnings: list[str] = []

        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(self.scene_widget)
        split.addWidget(self.thumbs)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        self.thumbs.setVisible(thumbnails)

        panel = QtWidgets.QWidget()
        panel.setFixedWidth(250)
        side = QtWidgets.QVBoxLayout(panel)
        side.setContentsMargins(6, 6, 6, 6)
        self.controls_box = QtWidgets.QVBoxLayout()
        side.addLayout(self.controls_box)

        show = QtWidgets.QGroupBox("Show")
        grid = QtWidgets.QVBoxLayout(show)
        self.cb_hands = QtWidgets.QCheckBox("hands")
        self.cb_face = QtWidgets.QCheckBox("face")
        self.cb_cameras = QtWidgets.QCheckBox("cameras")
        self.cb_thumbs = QtWidgets.QCheckBox("thumbnails")
        for cb, on in ((self.cb_hands, True), (self.cb_face, True), (self.cb_cameras, rig is not None),
                       (self.cb_thumbs, thumbnails)):
            cb.setChecked(on)
            grid.addWidget(cb)
        self.cb_cameras.setEnabled(rig is not None)
        self.cb_hands.toggled.connect(self._parts_changed)
        self.cb_face.toggled.connect(self._parts_changed)
        self.cb_cameras.toggled.connect(self.scene.set_cameras_visible)
        self.cb_thumbs.toggled.connect(self.thumbs.setVisible)
        side.addWidget(show)

        buttons = QtWidgets.QHBoxLayout()
        self.btn_reset = QtWidgets.QPushButton("Reset view")
        self.btn_reset.clicked.connect(self.scene.reset_view)
        self.btn_shot = QtWidgets.QPushButton("Screenshot…")
        self.btn_shot.clicked.connect(self._ask_screenshot)
        buttons.addWidget(self.btn_reset)
        buttons.addWidget(self.btn_shot)
        side.addLayout(buttons)

        self.status_label = QtWidgets.QLabel()
        self.status_label.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont))
        self.status_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        self.status_label.setWordWrap(True)
        side.addWidget(self.status_label, 1)

        body = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(body)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(split, 1)
        row.addWidget(panel)
        self.bottom_box = QtWidgets.QVBoxLayout()
        outer = QtWidgets.QWidget()
        col = QtWidgets.QVBoxLayout(outer)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(body, 1)
        col.addLayout(self.bottom_box)
        self.setCentralWidget(outer)
        self.resize(1280, 800)

        self.stall = StallMonitor(10, parent=self)
        self._status_timer = QtCore.QTimer(self)
        self._status_timer.timeout.connect(self.refresh_status)
        self._status_timer.start(250)
        self.stall.start()

    # ----------------------------------------------------------------------------- content
    def _parts_changed(self) -> None:
        self.scene.set_parts(self.cb_hands.isChecked(), self.cb_face.isChecked())
        self.thumbs.show_hands, self.thumbs.show_face = self.cb_hands.isChecked(), self.cb_face.isChecked()

    def warn(self, text: str) -> None:
        """Show a problem with the input in the status area and the status bar (once per text)."""
        if text not in self.warnings:
            self.warnings.append(text)
            log.warning("%s", text)
            self.statusBar().showMessage(text)
            self.refresh_status()

    def viewer_figures(self) -> dict:
        return {"redraw_fps": self.scene.redraw_rate.rate(), "max_stall_ms": self.stall.recent_max_stall_ms()}

    def refresh_status(self) -> None:
        # the viewer's own figures mean something only after a second or so of running
        figures = self.viewer_figures() if self.stall.beats * self.stall.interval_ms >= 1000 else None
        text = format_stats(self.stats, figures)
        if self.extra_status:
            text = self.extra_status + "\n" + text
        if self.warnings:
            text = "\n".join("⚠ " + w for w in self.warnings) + "\n" + text
        self.status_label.setText(text)

    # ----------------------------------------------------------------------------- screenshots
    def grab_window(self) -> QtGui.QImage:
        """The whole window as an image: the widgets, with the 3D view's framebuffer pasted where its
        container is (a native GL window is not part of QWidget.grab())."""
        image = self.grab().toImage()
        if self.scene_widget.isVisible():
            gl_image = self.scene.render_image()
            top_left = self.scene_widget.mapTo(self, QtCore.QPoint(0, 0)) * self.devicePixelRatioF()
            painter = QtGui.QPainter(image)
            painter.drawImage(top_left, gl_image)
            painter.end()
        return image

    def render_rgb(self) -> np.ndarray:
        """The whole window (3D view included) as (H, W, 3) uint8 RGB."""
        img = self.grab_window().convertToFormat(QtGui.QImage.Format.Format_RGB888)
        w, h, bpl = img.width(), img.height(), img.bytesPerLine()
        buf = np.frombuffer(img.constBits().asstring(h * bpl), dtype=np.uint8).reshape(h, bpl)
        return buf[:, : 3 * w].reshape(h, w, 3).copy()

    def save_screenshot(self, path: str | os.PathLike) -> Path:
        """Write the window (3D view, thumbnails and panel) to a PNG. Returns the path."""
        path = Path(path)
        self.refresh_status()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExportError(f"cannot create the folder of the screenshot {path}: {exc}") from None
        if not self.grab_window().save(str(path), "PNG"):
            raise ExportError(f"could not write the screenshot PNG {path} (is the folder writable?)")
        return path

    def _ask_screenshot(self) -> None:
        name, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save screenshot", "capture3d.png", "PNG (*.png)")
        if name:
            try:
                self.statusBar().showMessage(f"saved {self.save_screenshot(name)}", 5000)
            except ExportError as exc:
                self.warn(str(exc))

    def closeEvent(self, ev: QtGui.QCloseEvent) -> None:
        self.stall.stop()
        self._status_timer.stop()
        super().closeEvent(ev)
