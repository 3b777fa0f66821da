"""Naive ways to draw a skeleton with pyqtgraph, kept as the benchmark's baselines (tools/bench/
bench_viewer.py); not used by the application.

NaiveScene3D: the viewer's GL window, but one GLLinePlotItem per bone and one GLScatterPlotItem per joint,
each updated with its own setData every frame, and one GLTextItem (its own QPainter) per label.
NaiveWidgetScene: the same items in pyqtgraph's stock GLViewWidget (a QOpenGLWidget).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph.opengl as gl

from capture3d.viewer.scene3d import Scene3D, reset_shader_cache


class NaiveScene3D(Scene3D):
    """Scene3D drawing each bone and joint as its own GL item."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._labels.hide()
        self._bones.setVisible(False)
        self._joints.setVisible(False)
        st = self._style
        self._bone_items = []
        for b in range(len(st.bones)):
            item = gl.GLLinePlotItem(pos=np.zeros((2, 3)), color=tuple(st.bone_rgba[b]), width=3.0, mode="lines")
            item.setVisible(False)
            self.addItem(item)
            self._bone_items.append(item)
        self._joint_items = []
        for j in range(st.keypoint_set.n_joints):
            item = gl.GLScatterPlotItem(pos=np.zeros((1, 3)), color=tuple(st.joint_rgba[j]),
                                        size=float(st.joint_size_px[j]), pxMode=True)
            item.setVisible(False)
            self.addItem(item)
            self._joint_items.append(item)
        self._text_items = []
        for xyz, text, _ in self._axis_labels + self._camera_labels:
            item = gl.GLTextItem(pos=np.asarray(xyz, float), text=text, color=(200, 215, 255))
            self.addItem(item)
            self._text_items.append(item)

    def set_pose(self, xyz_world: np.ndarray | None) -> None:
        if not hasattr(self, "_bone_items"):  # called by Scene3D.__init__
            return
        xyz = np.asarray(xyz_world, float)
        ok = np.isfinite(xyz).all(axis=1)
        for (a, b), item in zip(self._style.bones, self._bone_items):
            if ok[a] and ok[b]:
                item.setData(pos=xyz[[a, b]])
                item.setVisible(True)
            else:
                item.setVisible(False)
        for j, item in enumerate(self._joint_items):
            if ok[j]:
                item.setData(pos=xyz[j:j + 1])
            item.setVisible(bool(ok[j]))


class NaiveWidgetScene(gl.GLViewWidget):
    """pyqtgraph out of the box: a GLViewWidget (QOpenGLWidget) with one GLLinePlotItem per bone, one
    GLScatterPlotItem per joint and GLTextItem labels. Implements what ViewerWindow and the live
    controller use of a scene."""

    def __init__(self, keypoint_set, rig=None) -> None:
        from capture3d.viewer.geometry import SkeletonStyle, rig_frustums
        from capture3d.viewer.scene3d import BACKGROUND_RGB, FRUSTUM_RGBA
        from capture3d.viewer.status import RateMeter

        super().__init__()
        self.setBackgroundColor(BACKGROUND_RGB)
        self.rig = rig
        self.frames_drawn = 0
        self.last_paint_ms = 0.0
        self.redraw_rate = RateMeter(1.0)
        self._style = SkeletonStyle.of(keypoint_set)
        self.addItem(gl.GLGridItem())
        self.addItem(gl.GLAxisItem())
        self._cam_items = []
        if rig is not None:
            segs, _ = rig_frustums(rig)
            for i, cam in enumerate(rig.cameras):
                item = gl.GLLinePlotItem(pos=segs[18 * i:18 * (i + 1)], color=FRUSTUM_RGBA, mode="lines")
                self.addItem(item)
                label = gl.GLTextItem(pos=cam.center_world, text=cam.name, color=(200, 215, 255))
                self.addItem(label)
                self._cam_items += [item, label]
        self._bone_items, self._joint_items = [], []
        st = self._style
        for b in range(len(st.bones)):
            item = gl.GLLinePlotItem(pos=np.zeros((2, 3)), color=tuple(st.bone_rgba[b]), width=3.0, mode="lines")
            self.addItem(item)
            self._bone_items.append(item)
        for j in range(st.keypoint_set.n_joints):
            item = gl.GLScatterPlotItem(pos=np.zeros((1, 3)), color=tuple(st.joint_rgba[j]),
                                        size=float(st.joint_size_px[j]), pxMode=True)
            self.addItem(item)
            self._joint_items.append(item)
        self.setCameraPosition(distance=10.0)

    set_pose = NaiveScene3D.set_pose

    def initializeGL(self) -> None:
        reset_shader_cache()
        super().initializeGL()

    def set_parts(self, show_hands: bool, show_face: bool) -> None:
        pass

    def set_cameras_visible(self, on: bool) -> None:
        for item in self._cam_items:
            item.setVisible(bool(on))

    def reset_view(self) -> None:
        self.setCameraPosition(distance=10.0, elevation=22.0, azimuth=-60.0)

    def make_container(self, parent=None):
        return self

    def render_image(self):
        return self.grabFramebuffer()

    def paintGL(self) -> None:
        import time

        t0 = time.perf_counter()
        super().paintGL()
        self.frames_drawn += 1
        self.redraw_rate.tick()
        self.last_paint_ms = (time.perf_counter() - t0) * 1e3
