"""The live 3D viewer (PyQt6 + pyqtgraph.opengl): skeleton, floor, world axes, camera frustums, camera
thumbnails with their 2D keypoints, live figures, controls, replay of results and a calibration view.

This is the only package of capture3d that imports Qt, pyqtgraph or OpenGL, and it does so lazily:
``import capture3d.viewer`` and ``has_display()`` work on a machine without a display or without Qt.

Entry points (each creates the QApplication if needed, shows a window and runs the event loop):

- ``run_live(poll, rig, keypoint_set, controls=None)``: poll() -> LiveSnapshot | None is called on a
  QTimer from the GUI thread; it must return at once (a latest-value slot), the viewer never waits on it.
- ``run_replay(keypoints3d, rig=None, frame=0, screenshot=None)``: play a result with a timeline.
- ``show_rig(rig, per_camera_error_px=None, screenshot=None)``: cameras coloured by reprojection error.

With ``screenshot=PATH`` the window is rendered once to a PNG and the function returns without an
event loop (used by ``capture3d view --screenshot``).
"""
from __future__ import annotations

import importlib.util
import os
import re
import sys
from typing import TYPE_CHECKING, Callable

from capture3d.errors import Capture3DError
from capture3d.viewer.controls import LiveControls

if TYPE_CHECKING:  # pragma: no cover
    from capture3d.geometry.camera import Rig
    from capture3d.body.keypoint_sets import KeypointSet
    from capture3d.types import Keypoints3D, LiveSnapshot

__all__ = ["LiveControls", "ViewerUnavailable", "has_display", "run_live", "run_replay", "show_rig"]

_QT_MODULES = ("PyQt6", "pyqtgraph", "OpenGL")
NO_VIEWER_HINT = "run headless with --no-viewer"


class ViewerUnavailable(Capture3DError):
    """The viewer cannot open: Qt/pyqtgraph/PyOpenGL missing, no display, or no usable OpenGL."""


def missing_modules() -> list[str]:
    """The viewer's Python dependencies that are not installed (found without importing them)."""
    return [m for m in _QT_MODULES if importlib.util.find_spec(m) is None]


def dead_x11_display() -> str | None:
    """The value of DISPLAY when it names a local X display (":N") that no X server listens on (Qt would
    abort the whole process on it), else None. Looks for the server's socket in /tmp/.X11-unix or in
    Linux's abstract socket namespace."""
    m = re.fullmatch(r":(\d+)(\.\d+)?", os.environ.get("DISPLAY", ""))
    if not m or os.environ.get("WAYLAND_DISPLAY") or not sys.platform.startswith("linux"):
        return None
    path = f"/tmp/.X11-unix/X{m.group(1)}"
    if os.path.exists(path):
        return None
    try:
        with open("/proc/net/unix", encoding="ascii", errors="replace") as fh:
            if any(line.rstrip().endswith("@" + path) for line in fh):
                return None
    except OSError:
        return None  # cannot tell: let Qt try
    return os.environ["DISPLAY"]


def has_display() -> bool:
    """True when a window can be shown: the viewer's dependencies are installed and, on Linux/BSD, an X11
    or Wayland display is set (Qt's 'offscreen' and 'minimal' platforms have no OpenGL, and a local X
    display without a server, count as no display). On Windows and macOS a desktop session is assumed."""
    if missing_modules() or dead_x11_display():
        return False
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if platform in ("offscreen", "minimal", "vnc"):
        return False
    if sys.platform.startswith(("win", "darwin")):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_live(poll: Callable[[], "LiveSnapshot | None"], rig: "Rig | None", keypoint_set: "KeypointSet",
             controls: LiveControls | None = None, **options) -> int:
    """Open the live window and run the event loop until it is closed. Returns 0.

    poll: returns the latest LiveSnapshot (or None when nothing new); called every ``poll_interval_ms``
    (default 15) on the GUI thread. controls: callbacks for the start/stop and record buttons and the person
    picker (``LiveControls.pick_person``). A snapshot with every person (``people``) draws them all, each in
    the colour of its id with its id above its head. options: ``title``, ``poll_interval_ms``, ``duration_s`` (close after that many
    seconds), ``screenshot`` (write a PNG of the window at close).
    """
    from capture3d.viewer.app import run_live as _run

    return _run(poll, rig, keypoint_set, controls, **options)


def run_replay(keypoints3d: "Keypoints3D", rig: "Rig | None" = None, frame: int = 0,
               screenshot: str | os.PathLike | None = None, **options) -> int:
    """Play a 3D result with a timeline slider, play/pause, speed and frame stepping. Returns 0.

    rig: draws the cameras (None: the skeleton alone). frame: the first frame shown. screenshot: render
    ``frame`` to this PNG and return without showing an interactive window. options: ``title``; ``people``
    ({person id: Keypoints3D}: every person drawn in the colour of its id, with its id) and ``person`` (the
    picked id, singled out and its figures shown).
    """
    from capture3d.viewer.app import run_replay as _run

    return _run(keypoints3d, rig, frame, screenshot, **options)


def show_rig(rig: "Rig", per_camera_error_px=None, screenshot: str | os.PathLike | None = None,
             **options) -> int:
    """Show a rig in 3D with its cameras coloured by reprojection error (green <= 1 px, red >= 5 px,
    grey unknown). per_camera_error_px: (V,) px or None. screenshot: write a PNG and return. Returns 0."""
    from capture3d.viewer.app import show_rig as _run

    return _run(rig, per_camera_error_px, screenshot, **options)
