"""Application plumbing: the QApplication, the OpenGL check, and the run_live / run_replay / show_rig
entry points (builders that tests call without an event loop, and runners that add one).
"""
from __future__ import annotations

import logging
import os
import time
from typing import Callable

import numpy as np

from capture3d.geometry.camera import Rig
from capture3d.body.keypoint_sets import BODY_25, KeypointSet
from capture3d.types import Keypoints3D, LiveSnapshot
from capture3d.viewer import NO_VIEWER_HINT, ViewerUnavailable, dead_x11_display, has_display, missing_modules
from capture3d.viewer.controls import LiveControls

log = logging.getLogger(__name__)


def ensure_app():
    """The QApplication (created once), after checking that a display and OpenGL >= 2.1 are available.

    Raises ViewerUnavailable with a message that says to use --no-viewer.
    """
    missing = missing_modules()
    if missing:
        raise ViewerUnavailable(f"the viewer needs {', '.join(missing)} (pip install 'capture3d[viewer]'); "
                                f"or {NO_VIEWER_HINT}")
    dead = dead_x11_display()
    if dead:
        raise ViewerUnavailable(f"DISPLAY={dead} is set but no X server listens on it; {NO_VIEWER_HINT}")
    if not has_display():
        raise ViewerUnavailable(f"no display found (DISPLAY/WAYLAND_DISPLAY unset or QT_QPA_PLATFORM="
                                f"{os.environ.get('QT_QPA_PLATFORM', '')!r} has no OpenGL); {NO_VIEWER_HINT}")
    from PyQt6 import QtCore, QtGui, QtWidgets

    app = QtWidgets.QApplication.instance()
    if app is None:
        # pyqtgraph caches its shader programs per item class: every GL view must share one context group.
        QtCore.QCoreApplication.setAttribute(QtCore.Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
        app = QtWidgets.QApplication([])
        app.setApplicationName("capture3d")
    ctx = QtGui.QOpenGLContext()
    if not ctx.create():
        raise ViewerUnavailable(f"no usable OpenGL context on this display; {NO_VIEWER_HINT}")
    surface = QtGui.QOffscreenSurface()
    surface.create()
    if not ctx.makeCurrent(surface):
        raise ViewerUnavailable(f"cannot make an OpenGL context current; {NO_VIEWER_HINT}")
    version = ctx.format().version()
    ctx.doneCurrent()
    if not ctx.isOpenGLES() and version < (2, 1):
        raise ViewerUnavailable(f"the viewer needs OpenGL >= 2.1, found {version[0]}.{version[1]}; {NO_VIEWER_HINT}")
    return app


def wait_painted(window, timeout_s: float = 5.0) -> None:
    """Process events until the window's 3D view has painted (after show())."""
    from PyQt6 import QtWidgets

    start = window.scene.frames_drawn
    t_end = time.perf_counter() + timeout_s
    while window.scene.frames_drawn == start and time.perf_counter() < t_end:
        QtWidgets.QApplication.processEvents()
        time.sleep(0.005)
    QtWidgets.QApplication.processEvents()


def dispose(window) -> None:
    """Close and delete a window now. Left to Python's garbage collector, its GL window (and context)
    could be destroyed in the middle of another view's paint, which crashes."""
    from PyQt6 import QtCore, QtWidgets

    window.close()
    window.deleteLater()
    QtWidgets.QApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete.value)
    QtWidgets.QApplication.processEvents()


def _finish(app, window, screenshot: str | os.PathLike | None) -> int:
    window.show()
    try:
        if screenshot is not None:
            wait_painted(window)
            window.save_screenshot(screenshot)
            return 0
        window.raise_()
        return int(app.exec())
    finally:
        dispose(window)


# ----------------------------------------------------------------------------------- live
def build_live(poll: Callable[[], LiveSnapshot | None], rig: Rig | None, keypoint_set: KeypointSet,
               controls: LiveControls | None = None, title: str = "capture3d live", poll_interval_ms: int = 15,
               thumb_interval_ms: int = 33, scene_cls=None):
    """(window, controller) of the live viewer, not shown yet. Needs a QApplication (ensure_app).
    scene_cls: the 3D view class (default Scene3D; the benchmark passes its baseline)."""
    from capture3d.viewer.live import LiveController
    from capture3d.viewer.scene3d import Scene3D
    from capture3d.viewer.window import ViewerWindow

    window = ViewerWindow(keypoint_set, rig, title=title, thumbnails=True, scene_cls=scene_cls or Scene3D)
    ctl = LiveController(window, poll, controls, poll_interval_ms, thumb_interval_ms)
    window.live = ctl
    return window, ctl


def run_live(poll, rig, keypoint_set, controls=None, *, title: str = "capture3d live", poll_interval_ms: int = 15,
             duration_s: float | None = None, screenshot: str | os.PathLike | None = None) -> int:
    app = ensure_app()
    window, _ = build_live(poll, rig, keypoint_set, controls, title, poll_interval_ms)
    window.show()
    if duration_s is not None:
        from PyQt6 import QtCore

        QtCore.QTimer.singleShot(int(duration_s * 1000), window.close)
    try:
        rc = int(app.exec())
        if screenshot is not None:
            window.save_screenshot(screenshot)
    finally:
        dispose(window)
    return rc


# ----------------------------------------------------------------------------------- replay
def check_result_against_rig(kp: Keypoints3D, rig: Rig | None) -> list[str]:
    """Problems that say a result does not belong to a rig (camera count), as messages."""
    problems = []
    if rig is None:
        return problems
    used = int(kp.n_views.max()) if kp.n_views.size else 0
    if used > len(rig):
        problems.append(f"the result used up to {used} views per joint but the rig has {len(rig)} cameras: "
                        f"it was probably made with another rig")
    n_cams = kp.metadata.get("cameras") if isinstance(kp.metadata, dict) else None
    if isinstance(n_cams, int) and n_cams != len(rig):
        problems.append(f"the result was made with {n_cams} cameras but the rig has {len(rig)}")
    return problems


def build_replay(keypoints3d: Keypoints3D, rig: Rig | None = None, frame: int = 0, title: str | None = None,
                 people: dict[int, Keypoints3D] | None = None, person: int | None = None):
    """(window, controller) of the replay viewer, not shown yet. Needs a QApplication (ensure_app).
    people, person: every person of a take and the picked one (see ReplayController)."""
    from capture3d.viewer.replay import ReplayController
    from capture3d.viewer.window import ViewerWindow

    window = ViewerWindow(keypoints3d.keypoint_set, rig, title=title or "capture3d view", thumbnails=False)
    window.cb_thumbs.setEnabled(False)
    ctl = ReplayController(window, keypoints3d, frame, people, person)
    window.replay = ctl
    for problem in check_result_against_rig(keypoints3d, rig):
        window.warn(problem)
    if rig is None:
        window.extra_status = window.extra_status + "\n(no rig: cameras not shown)"
    window.scene.reset_view()
    return window, ctl


def run_replay(keypoints3d, rig=None, frame=0, screenshot=None, *, title: str | None = None, people=None,
               person: int | None = None) -> int:
    app = ensure_app()
    window, _ = build_replay(keypoints3d, rig, frame, title, people, person)
    return _finish(app, window, screenshot)


# ----------------------------------------------------------------------------------- rig
def build_rig_view(rig: Rig, per_camera_error_px=None, title: str = "capture3d rig"):
    """Window showing the rig's cameras coloured by reprojection error, not shown yet."""
    from capture3d.viewer.window import ViewerWindow

    err = None
    if per_camera_error_px is not None:
        err = np.asarray(per_camera_error_px, float).ravel()
        if err.shape != (len(rig),):
            raise ValueError(f"per_camera_error_px must have one value per camera ({len(rig)}), got {err.shape}")
    window = ViewerWindow(BODY_25, rig, title=title, thumbnails=False)
    window.cb_thumbs.setEnabled(False)
    window.cb_hands.setEnabled(False)
    window.cb_face.setEnabled(False)
    window.scene.set_rig(rig, err)
    lines = [f"{len(rig)} cameras"]
    if err is not None:
        lines.append("reprojection error (px):")
        lines += [f"  {c.name:<12}{e:6.2f}" if np.isfinite(e) else f"  {c.name:<12}   n/a" for c, e in zip(rig, err)]
        lines.append("colour: green ≤ 1 px … red ≥ 5 px")
    window.extra_status = "\n".join(lines)
    window.scene.reset_view()
    return window


def show_rig(rig, per_camera_error_px=None, screenshot=None, *, title: str = "capture3d rig") -> int:
    app = ensure_app()
    return _finish(app, build_rig_view(rig, per_camera_error_px, title), screenshot)

