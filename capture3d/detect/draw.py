"""Draw detected skeletons on images with OpenPose's colours (from capture3d.body.keypoint_sets)."""
from __future__ import annotations

import cv2
import numpy as np

from capture3d.body.keypoint_sets import FACE_70, HAND_21, KeypointSet, get_keypoint_set
from capture3d.detect.base import Detections


def draw_keypoints(image_bgr: np.ndarray, keypoints: np.ndarray, keypoint_set: KeypointSet,
                   min_score: float = 0.05, radius_px: int | None = None, thickness_px: int | None = None) -> np.ndarray:
    """Draw people on a BGR uint8 image, in place.

    keypoints: (P, J, 3) or (J, 3) x px, y px, score. Bones take the colour of their child joint.
    Sizes default to a fraction of the image diagonal. Returns the image.
    """
    kp = np.asarray(keypoints, float)
    if kp.ndim == 2:
        kp = kp[None]
    diag = float(np.hypot(*image_bgr.shape[:2]))
    r = radius_px or max(1, int(round(diag / 300)))
    th = thickness_px or max(1, int(round(diag / 400)))
    colors = keypoint_set.colors()[:, ::-1].tolist()  # RGB -> BGR
    shift = 4  # sub-pixel drawing: coordinates in 1/16 px
    scale = 1 << shift
    for person in kp:
        ok = np.isfinite(person[:, :2]).all(axis=1) & (person[:, 2] > min_score)
        pts = np.zeros((len(person), 2), np.int64)
        pts[ok] = np.round(person[ok, :2] * scale).astype(np.int64)
        for a, b in keypoint_set.bones:
            if ok[a] and ok[b]:
                cv2.line(image_bgr, tuple(map(int, pts[a])), tuple(map(int, pts[b])), colors[b], th, cv2.LINE_AA, shift)
        for j in np.flatnonzero(ok):
            cv2.circle(image_bgr, tuple(map(int, pts[j])), r * scale, colors[j], -1, cv2.LINE_AA, shift)
    return image_bgr


def draw_detections(image_bgr: np.ndarray, detections: Detections, view: int, min_score: float = 0.05) -> np.ndarray:
    """Draw every part of one view of a Detections on image_bgr (in place); returns the image."""
    draw_keypoints(image_bgr, detections.pose[view], get_keypoint_set(detections.keypoint_set), min_score)
    small = max(1, int(round(np.hypot(*image_bgr.shape[:2]) / 800)))
    for part, kps in (("hand_left", HAND_21), ("hand_right", HAND_21), ("face", FACE_70)):
        arr = getattr(detections, part)
        if arr is not None:
            draw_keypoints(image_bgr, arr[view], kps, min_score, radius_px=small, thickness_px=small)
    return image_bgr
