"""Crops of a view around the subject: a box in the full image -> a fixed-size detector input, and the
detector's keypoints mapped back to full-image pixels exactly. Pure numpy / OpenCV, no state.

Pixel convention (capture3d's, OpenCV's): integer coordinates are pixel centres. A crop is an axis-aligned
scale-and-shift of the full image, ``x_full = x0 + x_crop / scale`` (same for y with y0), made with
``cv2.warpAffine`` whose matrix ``[[scale, 0, -scale * x0], [0, scale, -scale * y0]]`` samples crop pixel
``u`` at exactly that full-image point (bilinear); parts of the box outside the image are filled grey.
The box's aspect ratio is the output's, so the scale is one number and the mapping is exact both ways.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_FILL = 114  # grey outside the image (as letterboxing detectors use)


@dataclass(frozen=True)
class CropTransform:
    """A crop of a full image: crop pixel (u, v) is full-image pixel (x0 + u / scale, y0 + v / scale).

    x0, y0: full-image px of the crop's pixel (0, 0) centre (may be negative or fractional).
    scale: crop px per full-image px (> 0). size_wh: (W, H) of the crop image, px.
    """

    x0: float
    y0: float
    scale: float
    size_wh: tuple[int, int]

    def to_full(self, xy_crop: np.ndarray) -> np.ndarray:
        """(..., 2) crop px -> (..., 2) full-image px (NaN stays NaN)."""
        xy = np.asarray(xy_crop, float)
        return np.stack([self.x0 + xy[..., 0] / self.scale, self.y0 + xy[..., 1] / self.scale], axis=-1)

    def to_crop(self, xy_full: np.ndarray) -> np.ndarray:
        """(..., 2) full-image px -> (..., 2) crop px (the inverse of ``to_full``)."""
        xy = np.asarray(xy_full, float)
        return np.stack([(xy[..., 0] - self.x0) * self.scale, (xy[..., 1] - self.y0) * self.scale], axis=-1)

    def matrix(self) -> np.ndarray:
        """(2, 3) float: the cv2.warpAffine matrix mapping full-image px to crop px."""
        s = self.scale
        return np.array([[s, 0.0, -s * self.x0], [0.0, s, -s * self.y0]])


def output_size(image_wh: tuple[int, int], long_side_px: int) -> tuple[int, int]:
    """(W, H) of a crop with the full image's aspect ratio and its long side long_side_px (never larger
    than the image: a small image is cropped at scale <= 1)."""
    w, h = image_wh
    long_side = min(int(long_side_px), max(w, h))
    if w >= h:
        return long_side, max(8, round(long_side * h / w))
    return max(8, round(long_side * w / h)), long_side


def box_of_points(xy_px: np.ndarray, image_wh: tuple[int, int], margin: float,
                  min_fraction: float = 0.25) -> tuple[float, float, float, float] | None:
    """The box (x_min, y_min, x_max, y_max px) around the finite points, grown by ``margin`` times its
    larger side on every side, clipped to the image, at least min_fraction of the image's larger side, None
    when fewer than two points are finite or the box misses the image entirely.

    xy_px: (N, 2) px in the full image (NaN: not projected).
    """
    xy = np.asarray(xy_px, float).reshape(-1, 2)
    xy = xy[np.isfinite(xy).all(axis=1)]
    if len(xy) < 2:
        return None
    (x1, y1), (x2, y2) = xy.min(axis=0), xy.max(axis=0)
    w, h = image_wh
    side = max(x2 - x1, y2 - y1)
    pad = margin * side
    x1, y1, x2, y2 = x1 - pad, y1 - pad, x2 + pad, y2 + pad
    if x2 < -0.5 or y2 < -0.5 or x1 > w - 0.5 or y1 > h - 0.5:
        return None
    x1, y1, x2, y2 = max(x1, -0.5), max(y1, -0.5), min(x2, w - 0.5), min(y2, h - 0.5)  # no crop beyond the image
    least = min_fraction * max(w, h)
    cx, cy = 0.5 * (x1 + x2), 0.5 * (y1 + y2)
    half_w, half_h = 0.5 * max(x2 - x1, least), 0.5 * max(y2 - y1, least)
    return cx - half_w, cy - half_h, cx + half_w, cy + half_h


def transform_for_box(box: tuple[float, float, float, float], out_wh: tuple[int, int],
                      max_scale: float = 1.0) -> CropTransform:
    """The crop of size out_wh that holds box (x_min, y_min, x_max, y_max px) whole, centred on it, at the
    largest scale <= max_scale (the box is grown to the output's aspect ratio)."""
    x1, y1, x2, y2 = box
    ow, oh = out_wh
    bw, bh = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    scale = min(ow / bw, oh / bh, max_scale)
    cx, cy = 0.5 * (x1 + x2), 0.5 * (y1 + y2)
    # crop pixel centres 0 .. ow - 1 span (ow - 1) / scale full px; centre them on the box centre
    return CropTransform(cx - 0.5 * (ow - 1) / scale, cy - 0.5 * (oh - 1) / scale, float(scale), (int(ow), int(oh)))


def full_transform(image_wh: tuple[int, int], out_wh: tuple[int, int]) -> CropTransform:
    """The crop of size out_wh that holds the whole image (the fallback: no track, or the crop lost the
    person)."""
    w, h = image_wh
    return transform_for_box((-0.5, -0.5, w - 0.5, h - 0.5), out_wh)


def warp_crop(image: np.ndarray, tf: CropTransform) -> np.ndarray:
    """The crop image (H, W[, C]) uint8 of ``tf.size_wh`` from image (bilinear, grey outside)."""
    fill = (_FILL,) * (image.shape[2] if image.ndim == 3 else 1)
    return cv2.warpAffine(image, tf.matrix(), tf.size_wh, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=fill)


def keypoints_to_full(keypoints: np.ndarray, tf: CropTransform, image_wh: tuple[int, int]) -> np.ndarray:
    """Keypoints detected in a crop -> full-image keypoints (a new array).

    keypoints: (..., J, 3) x px, y px (crop), score. Returns (..., J, 3) x px, y px (full image), score;
    joints that land outside the full image ([-0.5, W - 0.5] x [-0.5, H - 0.5], the grey border) become
    missing (NaN, NaN, 0).
    """
    out = np.array(keypoints, dtype=float, copy=True)
    out[..., :2] = tf.to_full(out[..., :2])
    w, h = image_wh
    x, y = out[..., 0], out[..., 1]
    with np.errstate(invalid="ignore"):
        outside = (x < -0.5) | (x > w - 0.5) | (y < -0.5) | (y > h - 0.5)
    out[outside] = (np.nan, np.nan, 0.0)
    return out
