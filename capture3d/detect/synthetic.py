"""Synthetic detector: ground-truth 3D motion projected into a rig through capture3d.synth's 2D error model.

For demos and tests: it ignores the images and returns, for frame t, what a real detector with known
error statistics (pixel noise, misses, outliers, left/right swaps; see ``capture3d.synth.ErrorModel``)
would have returned. The whole sequence is simulated once at construction, so frame t always gives the
same keypoints; frames past the end loop around.
"""
from __future__ import annotations

import time

import numpy as np

from capture3d.geometry.camera import Rig
from capture3d.errors import DetectorError
from capture3d.body.keypoint_sets import BODY_25, WHOLEBODY_135, split_wholebody
from capture3d.synth import ErrorModel, Motion, make_rig, observe, walking_motion
from capture3d.detect.base import Detections, Detector


class SyntheticDetector(Detector):
    """Projected ground truth + 2D errors.

    rig: the cameras (default: ``make_rig(n_cameras)``).
    motion: a Motion, or xyz_world (T, J, 3) / (T, P, J, 3) metres with J = 25 (BODY_25) or 135
      (WHOLEBODY_135) (default: ``walking_motion(n_frames, whole_body=hands or face)``).
    error_model: ``capture3d.synth.ErrorModel`` (default: its defaults); ``ErrorModel(0, 0, 0, swaps=0)``
      gives the exact projections.
    hands, face: also return HAND_21 / FACE_70 (needs whole-body motion).
    seed: seeds the error model (person p uses seed + p).
    """

    name = "synthetic"

    def __init__(self, rig: Rig | None = None, motion: Motion | np.ndarray | None = None,
                 error_model: ErrorModel | None = None, hands: bool = False, face: bool = False, seed: int = 0,
                 n_cameras: int = 4, n_frames: int = 300) -> None:
        if rig is None and not (isinstance(n_cameras, int) and 2 <= n_cameras <= 16):
            raise DetectorError(f"synthetic detector: n_cameras must be an integer 2..16, found {n_cameras!r}")
        if motion is None and not (isinstance(n_frames, int) and n_frames >= 1):
            raise DetectorError(f"synthetic detector: n_frames must be an integer >= 1, found {n_frames!r}")
        self.rig = rig if rig is not None else make_rig(n_cameras)
        if motion is None:
            motion = walking_motion(n_frames, whole_body=hands or face)
        xyz = np.asarray(motion.xyz_world if isinstance(motion, Motion) else motion, dtype=float)
        if xyz.ndim == 3:
            xyz = xyz[:, None]
        if xyz.ndim != 4 or xyz.shape[-1] != 3 or xyz.shape[2] not in (25, 135):
            raise DetectorError(f"synthetic detector: expected motion xyz_world (T, [P,] J, 3) with J = 25 or 135, "
                                f"found shape {xyz.shape}")
        J = xyz.shape[2]
        if (hands or face) and J != 135:
            raise DetectorError("synthetic detector: hands/face need whole-body motion (J = 135, "
                                f"walking_motion(whole_body=True)), found J = {J}")
        self.hands, self.face = bool(hands), bool(face)
        kps = BODY_25 if J == 25 else WHOLEBODY_135
        model = error_model if error_model is not None else ErrorModel()
        obs = [observe(self.rig, xyz[:, p], model, seed + p, kps) for p in range(xyz.shape[1])]
        #: (V, T, P, J, 3) simulated detections and (V, T, P, J, 2) exact projections (NaN if not visible)
        self.keypoints = np.stack([o.keypoints_px for o in obs], axis=2)
        self.true_px = np.stack([o.true_px for o in obs], axis=2)
        self.n_frames = xyz.shape[0]
        self._next = 0

    @property
    def n_views(self) -> int:
        return len(self.rig.cameras)

    def detect(self, images=None, frame_index: int | None = None) -> Detections:
        """images: ignored (None or V images, V = the rig's cameras). Returns frame frame_index (or the
        next one), looping past the end."""
        t0 = time.perf_counter()
        if images is not None and len(images) != self.n_views:
            raise DetectorError(f"synthetic detector: the rig has {self.n_views} cameras, found {len(images)} images")
        t = self._next if frame_index is None else int(frame_index)
        self._next = t + 1
        kp = self.keypoints[:, t % self.n_frames].copy()  # (V, P, J, 3)
        sizes = np.array([c.size_wh for c in self.rig.cameras], int)
        if kp.shape[2] == 25:
            return Detections(pose=kp, image_size_wh=sizes, timings_s={"total": time.perf_counter() - t0})
        body, lhand, rhand, face = split_wholebody(kp)
        return Detections(pose=body.copy(), hand_left=lhand.copy() if self.hands else None,
                          hand_right=rhand.copy() if self.hands else None, face=face.copy() if self.face else None,
                          image_size_wh=sizes, timings_s={"total": time.perf_counter() - t0})
