"""Detection on crops around the subject: each view is cut around the subject's predicted 3D position
projected into it (``capture3d.detect.crop``), detected there, and the keypoints are mapped back to
full-image pixels. No threads: the processing stage calls ``detect`` then ``update`` for every frame set.

Prediction: the last two 3D poses extrapolated at constant velocity to the new frame set's time (at most
``max_extrapolate_s`` ahead). The crop holds the predicted joints and a standing person's volume around
them (``body_half_m``: +-0.45 m across, +-1 m up and down from the joints' centre, world Z up), so joints
the 3D pose lacks (feet, a hand) are not cut off. A view is detected on the whole frame (scaled to the crop size, so a
tracking detector always sees images of one size) when there is no track (no pose for ``max_age_s``, 1 s),
when the prediction does not project into it, and on the frame set after its crop lost the person (fewer
than ``min_joints`` joints found): the fallback costs no second detection.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from capture3d.detect.base import Detections
from capture3d.detect.crop import (CropTransform, box_of_points, full_transform, keypoints_to_full, output_size,
                                   transform_for_box, warp_crop)
from capture3d.geometry.camera import Rig


@dataclass
class CropCounts:
    """Views detected on a crop around the subject (``cropped``) and on the whole frame (``full``), and crops
    that lost the person (``lost``)."""

    cropped: int = 0
    full: int = 0
    lost: int = 0


class ViewCropper:
    """rig: the V cameras (projection of the prediction). margin: the crop box grows by this fraction of the
    projected subject's larger side on every side. long_side_px: the crop images' long side (their aspect
    is each view's). min_joints: fewer joints found in a crop means it lost the person.
    """

    def __init__(self, rig: Rig, margin: float = 0.15, long_side_px: int = 512, min_joints: int = 8,
                 max_age_s: float = 1.0, max_extrapolate_s: float = 0.2,
                 body_half_m: tuple[float, float, float] = (0.45, 0.45, 1.0)) -> None:
        self.body_half_m = np.asarray(body_half_m, float)
        self.rig = rig
        self.margin = float(margin)
        self.long_side_px = int(long_side_px)
        self.min_joints = int(min_joints)
        self.max_age_s = float(max_age_s)
        self.max_extrapolate_s = float(max_extrapolate_s)
        self.counts = CropCounts()
        self._poses: list[tuple[float, np.ndarray]] = []  # the last two (time s, (J, 3) m)
        self._lost = np.zeros(len(rig), bool)
        self.last_planned: list[CropTransform | None] = []  # the crops of the latest frame set

    def predict(self, time_s: float) -> np.ndarray | None:
        """(J, 3) metres: the subject's predicted joints at time_s (NaN where unknown), None without a track."""
        if not self._poses or time_s - self._poses[-1][0] > self.max_age_s:
            return None
        t2, x2 = self._poses[-1]
        if len(self._poses) < 2:
            return x2
        t1, x1 = self._poses[0]
        dt = min(max(time_s - t2, 0.0), self.max_extrapolate_s)
        vel = (x2 - x1) / max(t2 - t1, 1e-6)
        return np.where(np.isfinite(vel), x2 + vel * dt, x2)

    def transforms(self, sizes_wh: list[tuple[int, int] | None], time_s: float) -> list[CropTransform | None]:
        """Per view, the crop to detect on (None for a view without an image). sizes_wh: (W, H) per view."""
        xyz = self.predict(time_s)
        xy = self.rig.project(self._with_body_volume(xyz)) if xyz is not None else None  # (V, N, 2) px
        out: list[CropTransform | None] = []
        for v, size in enumerate(sizes_wh):
            if size is None:
                out.append(None)
                continue
            out_wh = output_size(size, self.long_side_px)
            box = None if xy is None or self._lost[v] else box_of_points(xy[v], size, self.margin)
            out.append(full_transform(size, out_wh) if box is None else transform_for_box(box, out_wh))
            if box is None:
                self.counts.full += 1
            else:
                self.counts.cropped += 1
        return out

    def _with_body_volume(self, xyz: np.ndarray) -> np.ndarray:
        """(J, 3) predicted joints -> (J + 8, 3): plus the corners of the body volume around their centre."""
        ok = np.isfinite(xyz).all(axis=1)
        if not ok.any():
            return xyz
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
        return np.concatenate([xyz, xyz[ok].mean(axis=0) + signs * self.body_half_m])

    def detect(self, detector, images, frame_index: int, time_s: float, views=None) -> Detections:
        """Detect on the views' crops; the Detections are in full-image pixels (``image_size_wh`` the full
        images'). views: detect only these views (``detector.detect_views``; the others are missing and keep
        their lost state), None: all."""
        V = len(images)
        views = list(range(V)) if views is None else list(views)
        sizes = [None if im is None or getattr(im, "ndim", 0) < 2 else (im.shape[1], im.shape[0]) for im in images]
        tfs = self.transforms([sizes[v] if v in views else None for v in range(V)], time_s)
        self.last_planned = tfs
        crops = [None if tfs[v] is None else warp_crop(images[v], tfs[v]) for v in views]
        det = detector.detect(crops, frame_index=frame_index) if len(views) == V else \
            detector.detect_views(crops, views, frame_index=frame_index)
        parts = {}
        for name, arr in det.parts().items():
            full = np.full((V,) + arr.shape[1:], np.nan)
            full[..., 2] = 0.0
            for i, v in enumerate(views):
                full[v] = arr[i] if tfs[v] is None else keypoints_to_full(arr[i], tfs[v], sizes[v])
            parts[name] = full
        found = np.isfinite(parts["pose"][..., 0]).sum(axis=-1).max(axis=-1, initial=0)  # (V,)
        was_crop = np.array([v in views and tf is not None and not self._lost[v] and self._is_crop(tf, sizes[v])
                             for v, tf in enumerate(tfs)])
        lost = was_crop & (found < self.min_joints)
        self.counts.lost += int(lost.sum())
        self._lost = np.where([v in views for v in range(V)], lost, self._lost)
        wh = np.array([s if s is not None else (0, 0) for s in sizes], int)
        return Detections(pose=parts["pose"], hand_left=parts.get("hand_left"), hand_right=parts.get("hand_right"),
                          face=parts.get("face"), image_size_wh=wh, timings_s=det.timings_s,
                          keypoint_set=det.keypoint_set)

    @staticmethod
    def _is_crop(tf: CropTransform, size_wh) -> bool:
        return tf != full_transform(size_wh, tf.size_wh)

    def update(self, xyz_world: np.ndarray | None, time_s: float) -> None:
        """The 3D result of the frame set just detected: (J, 3) m (NaN where missing) or None."""
        if xyz_world is None or not np.isfinite(xyz_world).all(axis=-1).any():
            return
        self._poses = (self._poses + [(float(time_s), np.asarray(xyz_world, float).copy())])[-2:]
