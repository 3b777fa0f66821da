"""Geometry and decoding of the ``rtmpose`` backend (pure numpy + OpenCV, no network).

Pixel convention (capture3d's, everywhere here): (0, 0) is the centre of the top-left pixel, in the image,
in the letterboxed detector input and in each person crop; cv2.resize and cv2.warpAffine map pixel
centres that way, so a network output position maps back to the image exactly by the inverse transform.

Letterbox (person detector, RTMO): the image is resized by r = min(H_in / h, W_in / w) (keeping its aspect
ratio) into the top-left corner of an (H_in, W_in) canvas filled with pad_value; a network position x_in is
the image position (x_in + 0.5) / r_x - 0.5 (r_x = resized width / w, r_y likewise).

Top-down crop (RTMPose / RTMW): a person box (x1, y1, x2, y2) gives a centre c and a size s = box size x
padding (1.25), widened or heightened to the network's aspect ratio W_in / H_in; the crop maps
x_crop = (x - c_x) * W_in / s_x + W_in / 2 (y likewise with H_in / s_y, the same factor).

SimCC decoding: per keypoint, x_crop = argmax(simcc_x) / split_ratio, y_crop = argmax(simcc_y) /
split_ratio, score = min(max(simcc_x), max(simcc_y)); a score <= 0 is a missing keypoint.
"""
from __future__ import annotations

import cv2
import numpy as np


def letterbox(image_bgr: np.ndarray, input_hw: tuple[int, int], pad_value: int) -> tuple[np.ndarray, tuple[float, float]]:
    """(h, w, 3) uint8 -> ((H_in, W_in, 3) uint8 canvas, (r_x, r_y)) as in the module docstring."""
    h, w = image_bgr.shape[:2]
    H, W = input_hw
    r = min(H / h, W / w)
    nw, nh = min(W, max(1, int(round(w * r)))), min(H, max(1, int(round(h * r))))
    canvas = np.full((H, W, 3), pad_value, np.uint8)
    canvas[:nh, :nw] = cv2.resize(image_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas, (nw / w, nh / h)


def from_letterbox(xy_in: np.ndarray, ratio_xy: tuple[float, float]) -> np.ndarray:
    """(..., 2) network-input positions -> image px (module docstring)."""
    r = np.asarray(ratio_xy, float)
    return (np.asarray(xy_in, float) + 0.5) / r - 0.5


def boxes_from_letterbox(boxes_in: np.ndarray, ratio_xy: tuple[float, float]) -> np.ndarray:
    """(n, 4) x1, y1, x2, y2 in the network input -> image px."""
    return from_letterbox(np.asarray(boxes_in, float).reshape(-1, 2, 2), ratio_xy).reshape(-1, 4)


def box_center_scale(boxes: np.ndarray, padding: float, input_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(n, 4) boxes -> centres (n, 2), sizes (n, 2) padded and fitted to the network's aspect ratio."""
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    center = 0.5 * (boxes[:, :2] + boxes[:, 2:])
    size = (boxes[:, 2:] - boxes[:, :2]) * padding
    aspect = input_hw[1] / input_hw[0]  # W / H
    wide = size[:, 0] > size[:, 1] * aspect
    size = np.where(wide[:, None], np.stack([size[:, 0], size[:, 0] / aspect], 1),
                    np.stack([size[:, 1] * aspect, size[:, 1]], 1))
    return center, np.maximum(size, 1e-3)


def crop_matrix(center: np.ndarray, size: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """The 2x3 affine image -> crop of one box (module docstring)."""
    H, W = input_hw
    k = W / size[0]
    return np.array([[k, 0.0, W / 2 - k * center[0]], [0.0, k, H / 2 - k * center[1]]])


def crop(image_bgr: np.ndarray, center: np.ndarray, size: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """The (H_in, W_in, 3) uint8 crop of one box (outside the image: black)."""
    H, W = input_hw
    return cv2.warpAffine(image_bgr, crop_matrix(center, size, input_hw), (W, H), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def decode_simcc(simcc_x: np.ndarray, simcc_y: np.ndarray, split_ratio: float) -> np.ndarray:
    """(n, K, Wx), (n, K, Wy) -> (n, K, 3) crop px x, y and score; score <= 0 -> x = y = NaN, score 0."""
    out = np.empty((*simcc_x.shape[:2], 3))
    out[..., 0] = simcc_x.argmax(-1) / split_ratio
    out[..., 1] = simcc_y.argmax(-1) / split_ratio
    out[..., 2] = np.minimum(simcc_x.max(-1), simcc_y.max(-1))
    out[out[..., 2] <= 0] = (np.nan, np.nan, 0.0)
    return out


def crop_to_image(xy_crop: np.ndarray, center: np.ndarray, size: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """(n, K, 2) crop px of n boxes (centres, sizes (n, 2)) -> image px: the inverse of crop_matrix."""
    H, W = input_hw
    k = size[:, None, 0:1] / W  # image px per crop px (same on both axes)
    half = np.array([W / 2, H / 2])
    return (np.asarray(xy_crop, float) - half) * k + center[:, None, :]


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression, best score first."""
    order = np.argsort(-scores, kind="stable")
    area = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), axis=1)
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        lt = np.maximum(boxes[i, :2], boxes[order[1:], :2])
        rb = np.minimum(boxes[i, 2:], boxes[order[1:], 2:])
        inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
        iou = inter / np.maximum(area[i] + area[order[1:]] - inter, 1e-9)
        order = order[1:][iou <= iou_threshold]
    return np.asarray(keep, int)


def select_people(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray | None, min_score: float,
                  iou_threshold: float, max_people: int) -> np.ndarray:
    """Indices of person detections of one view: label 0 (when labels are given), score > min_score,
    finite boxes with a positive area, after NMS, at most max_people, best first."""
    ok = (scores > min_score) & np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    if labels is not None:
        ok &= labels.astype(int) == 0
    idx = np.flatnonzero(ok)
    keep = idx[nms(boxes[idx], scores[idx], iou_threshold)] if idx.size else idx
    return keep[:max_people]
