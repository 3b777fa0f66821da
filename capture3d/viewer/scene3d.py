"""The 3D view: skeleton (joints + bones in OpenPose colours), or every person of a frame (each in the
colour of its id, with its id above its head), floor grid at Z = 0, world axes, camera frustums with their
names; orbit (left drag), pan (middle drag or Ctrl + left drag), zoom (wheel).

Drawing cost is independent of the joint and people counts: one scatter item for all joints (of every
person) and two line items (mode 'lines': body, and the thinner hands + face) updated with setData; the frustums are one line item for the
whole rig, and all text labels share one QPainter.

The view is a QOpenGLWindow (pyqtgraph's GLViewMixin) embedded with QWidget.createWindowContainer, not
a QOpenGLWidget: a QOpenGLWidget makes Qt compose the whole top-level window through OpenGL on every
frame, which on software OpenGL (Mesa llvmpipe) cost 10-40 ms per frame at 1280x800; a GL window only
renders and swaps its own area (measured 5-10x cheaper per frame, see tools/bench/bench_viewer.py).
"""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph.opengl as gl
from OpenGL import GL
from PyQt6 import QtCore, QtGui, QtWidgets
from PyQt6.QtOpenGL import (QOpenGLFramebufferObject, QOpenGLFramebufferObjectFormat, QOpenGLPaintDevice,
                             QOpenGLWindow)
from pyqtgraph.opengl.GLGraphicsItem import GLGraphicsItem
from pyqtgraph.opengl.GLViewWidget import GLViewMixin

from capture3d.geometry.camera import Rig
from capture3d.body.keypoint_sets import KeypointSet
from capture3d.viewer.status import RateMeter
from capture3d.viewer.geometry import (BODY, SkeletonDraw, SkeletonStyle, error_rgba, fit_view, people_draw,
                                       people_labels, project_to_widget, rig_frustums, skeleton_draw)

BACKGROUND_RGB = (18, 20, 26)
FRUSTUM_RGBA = (0.55, 0.75, 1.0, 1.0)
# Joints are drawn after the bones that end in them, at the same depth: LEQUAL lets them win.
_JOINT_GL = {GL.GL_DEPTH_TEST: True, GL.GL_BLEND: False, GL.GL_CULL_FACE: False, "glDepthFunc": (GL.GL_LEQUAL,)}
_LINE_GL = {GL.GL_DEPTH_TEST: True, GL.GL_BLEND: False, GL.GL_CULL_FACE: False, "glDepthFunc": (GL.GL_LESS,)}


class LabelsItem(GLGraphicsItem):
    """Text labels at 3D points, all drawn with one QPainter after the scene (one GLTextItem per label
    opens a painter each)."""

    def __init__(self, font_pt: int = 9) -> None:
        super().__init__()
        self.setGLOptions("additive")
        self.setDepthValue(1000)  # after every other item
        self.font = QtGui.QFont("DejaVu Sans", font_pt)
        self.labels: list[tuple[np.ndarray, str, QtGui.QColor]] = []

    def set_labels(self, labels: list[tuple[np.ndarray, str, tuple[int, int, int]]]) -> None:
        """labels: (xyz world (3,), text, RGB) each."""
        self.labels = [(np.asarray(p, float), t, QtGui.QColor(*c)) for p, t, c in labels]
        self.update()

    def paint(self) -> None:
        view = self.view()
        if not self.labels or view is None:
            return
        self.setupGLState()
        xy = view.project(np.array([p for p, _, _ in self.labels])) / view.devicePixelRatioF()
        # a paint device on whatever framebuffer is bound: the window's, or render_image's FBO
        device = QOpenGLPaintDevice(view.deviceWidth(), view.deviceHeight())
        device.setDevicePixelRatio(view.devicePixelRatioF())
        painter = QtGui.QPainter(device)
        painter.setFont(self.font)
        painter.setRenderHints(QtGui.QPainter.RenderHint.TextAntialiasing)
        for (x, y), (_, text, color) in zip(xy, self.labels):
            if np.isfinite(x) and np.isfinite(y):
                painter.setPen(color)
                painter.drawText(QtCore.QPointF(x, y), text)
        painter.end()


def reset_shader_cache() -> None:
    """Forget pyqtgraph's shader programs, cached once per item class: a program made in the context of a
    view that has since been destroyed is invalid in a new one (glUseProgram: invalid value). Called when
    a view initializes GL; views alive at the same time share one context group (AA_ShareOpenGLContexts),
    so the new programs serve them all."""
    for cls in (gl.GLLinePlotItem, gl.GLScatterPlotItem):
        cls._shaderProgram = None


def _matrix(m: QtGui.QMatrix4x4) -> np.ndarray:
    """QMatrix4x4 -> (4, 4) numpy, row-major (Qt stores column-major)."""
    return np.array(m.data(), dtype=float).reshape(4, 4).T


class Scene3D(GLViewMixin, QOpenGLWindow):
    """GL view of one skeleton and an optional rig. ``frames_drawn`` counts paintGL calls.

    A QWindow: put it in a layout with ``make_container()``.
    """

    def __init__(self, keypoint_set: KeypointSet, rig: Rig | None = None) -> None:
        super().__init__()
        self.setBackgroundColor(BACKGROUND_RGB)
        self.frames_drawn = 0
        self.redraw_rate = RateMeter(1.0)
        self.last_paint_ms = 0.0
        self._style = SkeletonStyle.of(keypoint_set)
        self.show_hands = True
        self.show_face = True
        self._pose: np.ndarray | None = None
        #: every person shown (set_people): (ids (K,), xyz (K, J, 3), followed id or None), else None
        self._people: tuple[np.ndarray, np.ndarray, int | None] | None = None
        self._person_labels: list = []
        self.drawn_joint_index = np.zeros(0, np.int64)
        self.drawn_joint_person = np.zeros(0, np.int64)  # row of the people shown, per drawn joint

        grid = gl.GLGridItem(size=QtGui.QVector3D(10, 10, 1), color=(110, 110, 120, 110))
        grid.setSpacing(0.5, 0.5, 1)
        self.addItem(grid)
        self._grid = grid
        axes = np.array([[0, 0, 0], [0.6, 0, 0], [0, 0, 0], [0, 0.6, 0], [0, 0, 0], [0, 0, 0.6]], float)
        axes[:, 2] += 0.003  # above the grid lines at Z = 0 (no depth fighting)
        axes_rgba = np.repeat(np.array([[1, 0.2, 0.2, 1], [0.2, 1, 0.2, 1], [0.3, 0.5, 1, 1]]), 2, axis=0)
        self._axes = gl.GLLinePlotItem(pos=axes, color=axes_rgba, width=3.0, mode="lines", glOptions=_LINE_GL)
        self.addItem(self._axes)
        self._axis_labels = [(np.array(p, float), t, (220, 220, 220))
                             for t, p in (("X", (0.68, 0, 0)), ("Y", (0, 0.68, 0)), ("Z", (0, 0, 0.68)))]
        self._labels = LabelsItem()
        self.addItem(self._labels)
        self._cameras_on = True

        self._frustums = gl.GLLinePlotItem(pos=np.zeros((2, 3)), color=FRUSTUM_RGBA, width=1.5, mode="lines",
                                           glOptions=_LINE_GL)
        self._frustums.setVisible(False)
        self.addItem(self._frustums)
        self._camera_labels: list = []
        self._bones = gl.GLLinePlotItem(pos=np.zeros((2, 3)), color=(1, 1, 1, 1), width=3.0, mode="lines",
                                        glOptions=_LINE_GL)
        self._bones.setVisible(False)
        self.addItem(self._bones)
        self._detail_bones = gl.GLLinePlotItem(pos=np.zeros((2, 3)), color=(1, 1, 1, 1), width=1.5, mode="lines",
                                               glOptions=_LINE_GL)  # hands and face: thinner
        self._detail_bones.setVisible(False)
        self.addItem(self._detail_bones)
        self._joints = gl.GLScatterPlotItem(pos=np.zeros((1, 3)), color=(1, 1, 1, 1), size=8.0, pxMode=True,
                                            glOptions=_JOINT_GL)
        self._joints.setVisible(False)
        self.addItem(self._joints)
        self.rig: Rig | None = None
        self.set_rig(rig)
        self.reset_view()

    # ----------------------------------------------------------------------------- content
    @property
    def keypoint_set(self) -> KeypointSet:
        return self._style.keypoint_set

    def set_rig(self, rig: Rig | None, per_camera_error_px: np.ndarray | None = None) -> None:
        """Draw the rig's frustums and names (None: no cameras). With per-camera errors, colour by error."""
        self.rig = rig
        self._camera_labels = []
        if rig is None or len(rig) == 0:
            self._frustums.setVisible(False)
            self._update_labels()
            return
        segs, owner = rig_frustums(rig, depth_m=0.35)
        if per_camera_error_px is not None:
            rgba = error_rgba(per_camera_error_px)[owner]
        else:
            rgba = np.tile(FRUSTUM_RGBA, (len(segs), 1))
        self._frustums.setData(pos=segs, color=rgba, width=2.0 if per_camera_error_px is not None else 1.5)
        self._frustums.setVisible(True)
        for i, cam in enumerate(rig.cameras):
            label = cam.name
            if per_camera_error_px is not None and np.isfinite(per_camera_error_px[i]):
                label += f" {per_camera_error_px[i]:.2f}px"
            self._camera_labels.append((cam.center_world + np.array([0, 0, 0.12]), label, (200, 215, 255)))
        self._update_labels()

    def _update_labels(self) -> None:
        self._labels.set_labels(self._axis_labels + (self._camera_labels if self._cameras_on else [])
                                + self._person_labels)

    def set_cameras_visible(self, on: bool) -> None:
        self._cameras_on = bool(on)
        self._frustums.setVisible(self._cameras_on and self.rig is not None and len(self.rig) > 0)
        self._update_labels()

    def set_parts(self, show_hands: bool, show_face: bool) -> None:
        self.show_hands, self.show_face = bool(show_hands), bool(show_face)
        if self._people is not None:
            self.set_people(*self._people)
        elif self._pose is not None:
            self.set_pose(self._pose)

    def set_pose(self, xyz_world: np.ndarray | None) -> None:
        """Show one pose, (J, 3) metres with NaN for missing joints, in OpenPose's part colours; None clears
        the skeleton."""
        self._pose = None if xyz_world is None else np.asarray(xyz_world, float)
        if self._people is not None or self._person_labels:
            self._people, self._person_labels = None, []
            self._update_labels()
        if self._pose is None:
            self._joints.setVisible(False)
            self._bones.setVisible(False)
            self._detail_bones.setVisible(False)
            self.drawn_joint_index = self.drawn_joint_person = np.zeros(0, np.int64)
            return
        self._show(skeleton_draw(self._style, self._pose, self.show_hands, self.show_face))

    def set_people(self, ids, xyz_world: np.ndarray, followed: int | None = None) -> None:
        """Show every person of a frame, each in its own colour (``person_rgba``: fixed by the id) with its
        id above its head; ``followed`` (the person that goes out: picked, or the lowest id) has larger
        joints and a marked label. ids: (K,) int; xyz_world: (K, J, 3) metres, NaN where missing. Still one
        scatter and two line items, whatever K."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        xyz = np.asarray(xyz_world, float)
        d = people_draw(self._style, ids, xyz, followed, self.show_hands, self.show_face)
        self._people = (ids, xyz, followed)
        k = np.flatnonzero(ids == followed) if followed is not None else np.zeros(0, np.int64)
        self._pose = xyz[int(k[0])] if len(k) else None
        self._person_labels = people_labels(ids, xyz, followed)
        self._update_labels()
        self._show(d)

    def _show(self, d: SkeletonDraw) -> None:
        """Hand one draw to the GL items (setData), hiding the items with nothing to draw."""
        self.drawn_joint_index = d.joint_index
        self.drawn_joint_person = d.joint_person if d.joint_person is not None else np.zeros_like(d.joint_index)
        if len(d.joint_xyz):
            self._joints.setData(pos=d.joint_xyz, color=d.joint_rgba, size=d.joint_size_px)
        self._joints.setVisible(len(d.joint_xyz) > 0)
        for item, sel in ((self._bones, d.line_part == BODY), (self._detail_bones, d.line_part != BODY)):
            if sel.any():
                item.setData(pos=d.line_xyz[sel], color=d.line_rgba[sel])
            item.setVisible(bool(sel.any()))

    # ----------------------------------------------------------------------------- camera
    def reset_view(self) -> None:
        """Frame the rig (or the floor area around the pose) from a 3/4 view above."""
        if self.rig is not None and len(self.rig):
            pts = np.array([c.center_world for c in self.rig.cameras])
            pts = np.vstack([pts, [[0, 0, 0], [0, 0, 1.8]]])
        elif self._shown_points() is not None:
            shown = self._shown_points()
            mx, my = np.nanmean(shown[:, 0]), np.nanmean(shown[:, 1])
            pts = np.vstack([shown, [[mx - 1.5, my - 1.5, 0.0], [mx + 1.5, my + 1.5, 0.0]]])
        else:
            pts = np.array([[-1.5, -1.5, 0], [1.5, 1.5, 1.8]], float)
        centre, dist = fit_view(pts, self.opts["fov"])
        self.setCameraPosition(pos=QtGui.QVector3D(*centre.astype(float)), distance=float(dist),
                               elevation=22.0, azimuth=-60.0)

    def _shown_points(self) -> np.ndarray | None:
        """The joints shown, (N, 3) metres with NaN rows (every person's with set_people), or None."""
        pts = self._people[1].reshape(-1, 3) if self._people is not None else self._pose
        return pts if pts is not None and np.isfinite(pts).any() else None

    def projection_and_view(self) -> tuple[np.ndarray, np.ndarray]:
        """The (4, 4) projection and view matrices the next paint uses."""
        viewport = self.getViewport()  # the region paintGL renders
        return _matrix(self.projectionMatrix(viewport, viewport)), _matrix(self.viewMatrix())

    def project(self, xyz_world: np.ndarray) -> np.ndarray:
        """(N, 3) world -> (N, 2) framebuffer px (top-left origin) in the current view."""
        proj, view = self.projection_and_view()
        dpr = self.devicePixelRatioF()
        return project_to_widget(xyz_world, proj, view, (self.width(), self.height())) * dpr

    # ----------------------------------------------------------------------------- painting
    def initializeGL(self) -> None:
        reset_shader_cache()
        super().initializeGL()

    def paintGL(self) -> None:
        t0 = time.perf_counter()
        GL.glViewport(0, 0, self.deviceWidth(), self.deviceHeight())
        super().paintGL()
        self.frames_drawn += 1
        self.redraw_rate.tick()
        self.last_paint_ms = (time.perf_counter() - t0) * 1e3

    # QWidget-like helpers GLViewMixin expects of its host
    def devicePixelRatioF(self) -> float:
        return float(self.devicePixelRatio())

    def rect(self) -> QtCore.QRect:
        return QtCore.QRect(0, 0, self.width(), self.height())

    def make_container(self, parent=None) -> QtWidgets.QWidget:
        """The QWidget that hosts this window in a layout."""
        box = QtWidgets.QWidget.createWindowContainer(self, parent)
        box.setMinimumSize(320, 240)
        box.setFocusPolicy(QtCore.Qt.FocusPolicy.ClickFocus)
        return box

    def render_image(self) -> QtGui.QImage:
        """Render the scene now into an RGBA8 framebuffer object of the view's size and return it.

        (QOpenGLWindow.grabFramebuffer reads the window's buffer as it is: possibly a stale frame, and in
        the screen's colour depth, e.g. 16 bits under a default Xvfb.)
        """
        w, h = max(1, self.deviceWidth()), max(1, self.deviceHeight())
        self.makeCurrent()
        fmt = QOpenGLFramebufferObjectFormat()
        fmt.setAttachment(QOpenGLFramebufferObject.Attachment.CombinedDepthStencil)
        fbo = QOpenGLFramebufferObject(QtCore.QSize(w, h), fmt)
        try:
            fbo.bind()
            GL.glViewport(0, 0, w, h)
            region = self.getViewport()
            self.paint(region=region, viewport=region)
            image = fbo.toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
        finally:
            fbo.release()
            self.doneCurrent()
        return image

    def grab_rgb(self) -> np.ndarray:
        """Render now and return the picture as (H, W, 3) uint8 RGB."""
        img = self.render_image()
        w, h, bpl = img.width(), img.height(), img.bytesPerLine()
        buf = np.frombuffer(img.constBits().asstring(h * bpl), dtype=np.uint8).reshape(h, bpl)
        return buf[:, : 3 * w].reshape(h, w, 3).copy()
