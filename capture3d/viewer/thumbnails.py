"""A grid of camera thumbnails with the 2D keypoints drawn over them.

Keypoints are in full-image pixels (x px, y px, score; NaN when missing) and are scaled to the thumbnail
by the camera's image size from the rig (without a rig, the thumbnail is assumed full size). The body's
bones and joints are drawn with OpenCV; hand and face points, many and small, are drawn in one numpy
assignment per view.
"""
from __future__ import annotations

import cv2
import numpy as np
from PyQt6 import QtCore, QtGui, QtWidgets

from capture3d.geometry.camera import Rig
from capture3d.viewer.geometry import BODY, FACE, HANDS, SkeletonStyle

_EMPTY_WH = (192, 108)


def draw_keypoints(image_bgr: np.ndarray, xy_px: np.ndarray, style: SkeletonStyle, scale: tuple[float, float],
                   show_hands: bool = True, show_face: bool = True, label: str = "") -> np.ndarray:
    """Draw one view's keypoints on a copy of a BGR image.

    image_bgr: (H, W, 3) uint8. xy_px: (J, 3) x px, y px, score in the camera's full image.
    scale: (sx, sy) thumbnail px per image px. Returns the new (H, W, 3) uint8 image.
    """
    img = np.array(image_bgr, dtype=np.uint8, copy=True, order="C")
    h, w = img.shape[:2]
    xy = np.asarray(xy_px, float)[:, :2] * np.asarray(scale, float)
    ok = np.isfinite(xy).all(axis=1)
    part = style.part
    bgr = (style.joint_rgba[:, 2::-1] * 255).astype(np.uint8)
    for (a, b), bp in zip(style.bones, style.bone_part):
        if bp == BODY and ok[a] and ok[b]:
            c = tuple(int(v) for v in bgr[b])
            cv2.line(img, (int(xy[a, 0]), int(xy[a, 1])), (int(xy[b, 0]), int(xy[b, 1])), c, 1, cv2.LINE_AA)
    for j in np.flatnonzero(ok & (part == BODY)):
        cv2.circle(img, (int(xy[j, 0]), int(xy[j, 1])), 2, tuple(int(v) for v in bgr[j]), -1, cv2.LINE_AA)
    small = ok & (((part == HANDS) & show_hands) | ((part == FACE) & show_face))
    if small.any():
        px = np.round(xy[small]).astype(np.int64)
        inside = (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
        img[px[inside, 1], px[inside, 0]] = bgr[small][inside]
    if label:
        cv2.putText(img, label, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (235, 235, 235), 1, cv2.LINE_AA)
    return img


class ThumbnailGrid(QtWidgets.QWidget):
    """V labels in a grid (up to 4 per row); ``set_views`` redraws them."""

    def __init__(self, style: SkeletonStyle, rig: Rig | None = None, parent=None) -> None:
        super().__init__(parent)
        self._style = style
        self.rig = rig
        self.show_hands = True
        self.show_face = True
        self._labels: list[QtWidgets.QLabel] = []
        self._layout = QtWidgets.QGridLayout(self)
        self._layout.setContentsMargins(2, 2, 2, 2)
        self._layout.setSpacing(3)
        self.updates = 0
        self.last_images: list[np.ndarray] = []  # the thumbnails as drawn, BGR (H, W, 3) uint8 per view
        self.last_keypoints2d: np.ndarray | None = None  # (V, J, 3) drawn on them
        if rig is not None:
            self._ensure(len(rig))

    def _ensure(self, n_views: int) -> None:
        if len(self._labels) == n_views:
            return
        for lab in self._labels:
            self._layout.removeWidget(lab)
            lab.deleteLater()
        self._labels = []
        cols = n_views if n_views <= 4 else (4 if n_views <= 8 or n_views > 9 else 3)
        for i in range(n_views):
            lab = QtWidgets.QLabel(self)
            lab.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
            lab.setMinimumSize(96, 54)
            lab.setStyleSheet("background: #111;")
            self._layout.addWidget(lab, i // cols, i % cols)
            self._labels.append(lab)

    def _view_name(self, v: int) -> str:
        if self.rig is not None and v < len(self.rig):
            return self.rig[v].name
        return f"view {v + 1}"

    def _scale(self, v: int, thumb_wh: tuple[int, int]) -> tuple[float, float]:
        if self.rig is not None and v < len(self.rig):
            w, h = self.rig[v].size_wh
            return thumb_wh[0] / w, thumb_wh[1] / h
        return 1.0, 1.0

    def set_views(self, keypoints2d: np.ndarray | None, thumbnails: tuple[np.ndarray, ...] | None) -> None:
        """keypoints2d: (V, J, 3) or None; thumbnails: V BGR images or None (dark panels are used)."""
        n = len(thumbnails) if thumbnails is not None else (len(keypoints2d) if keypoints2d is not None else 0)
        self._ensure(n)
        images = []
        for v in range(n):
            if thumbnails is not None:
                base = thumbnails[v]
            else:
                w, h = self.rig[v].size_wh if self.rig is not None and v < len(self.rig) else (16, 9)
                base = np.full((round(_EMPTY_WH[0] * h / w), _EMPTY_WH[0], 3), 30, np.uint8)
            th, tw = base.shape[:2]
            if keypoints2d is not None and v < len(keypoints2d):
                img = draw_keypoints(base, keypoints2d[v], self._style, self._scale(v, (tw, th)),
                                     self.show_hands, self.show_face, self._view_name(v))
            else:
                img = draw_keypoints(base, np.full((self._style.keypoint_set.n_joints, 3), np.nan), self._style,
                                     (1.0, 1.0), label=self._view_name(v))
            qimg = QtGui.QImage(img.data, tw, th, img.strides[0], QtGui.QImage.Format.Format_BGR888)
            lab = self._labels[v]
            if lab.minimumWidth() != tw or lab.minimumHeight() != th:
                lab.setMinimumSize(tw, th)
            lab.setPixmap(QtGui.QPixmap.fromImage(qimg))
            images.append(img)
        self.last_images = images
        self.last_keypoints2d = keypoints2d  # what last_images show
        self.updates += 1
