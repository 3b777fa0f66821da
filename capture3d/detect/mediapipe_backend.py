"""MediaPipe backend (the default detector): Pose for the body, Holistic for body + hands + face.

Uses only the models bundled inside the mediapipe 0.10.14 wheel (``mediapipe.solutions``); nothing
is downloaded at run time (the bundled pose landmark model is the "full" one, model_complexity=1;
complexities 0 and 2 would be downloaded by mediapipe, so they are refused unless already present).

One MediaPipe instance per view, so video (tracking) mode keeps its state per camera; views run in
parallel threads (MediaPipe releases the GIL while it computes). MediaPipe finds one person per image,
so P = 1.

Coordinates: MediaPipe returns x, y normalized to the image edges (0 = left edge, 1 = right edge).
With capture3d's pixel convention (pixel centres at integers, OpenCV) that is
``x_px = x_norm * W - 0.5``, ``y_px = y_norm * H - 0.5``. Landmarks outside the image
([-0.5, W - 0.5] x [-0.5, H - 0.5]) are guesses of MediaPipe and are reported missing.

Scores: body joints use MediaPipe's per-landmark ``visibility``; hand landmarks (no per-landmark score)
take the visibility of the body's wrist on that side; face landmarks take the mean visibility of the
body's face landmarks (nose, eyes, ears, mouth). Joints scoring <= min_score are missing.
"""
from __future__ import annotations

import logging
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from capture3d.errors import DetectorError
from capture3d.body.convert import convert_keypoints
from capture3d.body.keypoint_sets import BODY_25, MEDIAPIPE_33
from capture3d.detect.base import (Detections, Detector, RepeatedWarning, StageTimer, as_image_list, check_image, mark_missing,
                   missing_keypoints, stack_people, to_bgr)
from capture3d.detect.face_mesh_map import mesh_to_face70

log = logging.getLogger(__name__)

_POSE_MODEL_FILES = {0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite", 2: "pose_landmark_heavy.tflite"}
_FACE_LANDMARKS_33 = list(range(11))  # nose, eyes, ears, mouth in MediaPipe's 33
_LEFT_WRIST_33, _RIGHT_WRIST_33 = 15, 16


def _import_mediapipe():
    # MediaPipe 0.10.14 on a current protobuf warns that SymbolDatabase.GetPrototype is deprecated on every
    # frame, and its C++ graph logs an info line per tracker at start: neither says anything to a user.
    warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated", category=UserWarning)
    os.environ.setdefault("GLOG_minloglevel", "2")
    try:
        import mediapipe as mp  # noqa: PLC0415 (lazy: heavy import)
    except ImportError as exc:
        raise DetectorError(f"the mediapipe detector needs the 'mediapipe' package (pip install mediapipe==0.10.14): {exc}") from None
    return mp


def _check_bundled_model(mp, model_complexity: int) -> None:
    if model_complexity not in _POSE_MODEL_FILES:
        raise DetectorError(f"mediapipe model_complexity must be 0, 1 or 2, found {model_complexity}")
    path = Path(mp.__file__).parent / "modules" / "pose_landmark" / _POSE_MODEL_FILES[model_complexity]
    if not path.is_file():
        raise DetectorError(f"mediapipe model_complexity={model_complexity} needs {path.name}, which is not bundled "
                            f"with this mediapipe wheel and is not downloaded at run time; use model_complexity=1")


class MediaPipeDetector(Detector):
    """MediaPipe Pose / Holistic on every view.

    hands, face: also detect HAND_21 hands / FACE_70 face (switches to Holistic, about 2x slower).
    mode: "video" (tracking between calls, for live streams and videos; one instance per view) or
      "image" (every call independent).
    model_complexity: 1 (bundled); see the module docstring.
    refine_face: iris landmarks for the pupils (else eye centres); only with face.
    smooth: MediaPipe's own landmark smoothing in video mode (off: capture3d filters later).
    min_detection_confidence, min_tracking_confidence: MediaPipe thresholds.
    min_score: joints with a score <= this are missing.
    workers: threads for the views (default: min(V, CPU count)).
    keypoint_set: "BODY_25" (default) or "MEDIAPIPE_33": MediaPipe's own 33 landmarks, unconverted (body only).
    """

    name = "mediapipe"
    accepts_crops = True

    def __init__(self, hands: bool = False, face: bool = False, mode: str = "video", model_complexity: int = 1,
                 refine_face: bool = True, smooth: bool = False, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, min_score: float = 0.0, workers: int | None = None,
                 keypoint_set: str = "BODY_25") -> None:
        if mode not in ("video", "image"):
            raise DetectorError(f"mediapipe mode must be 'video' or 'image', found {mode!r}")
        if keypoint_set not in ("BODY_25", "MEDIAPIPE_33") or (keypoint_set == "MEDIAPIPE_33" and (hands or face)):
            raise DetectorError(f"mediapipe keypoint_set must be BODY_25 or MEDIAPIPE_33 (body only, without hands "
                                f"and face), found {keypoint_set!r}{' with hands/face' if hands or face else ''}")
        self.keypoint_set = keypoint_set
        self._mp = _import_mediapipe()
        _check_bundled_model(self._mp, model_complexity)
        self.hands, self.face = bool(hands), bool(face)
        self.holistic = self.hands or self.face
        self._kwargs = dict(static_image_mode=(mode == "image"), model_complexity=model_complexity,
                            smooth_landmarks=smooth, min_detection_confidence=min_detection_confidence,
                            min_tracking_confidence=min_tracking_confidence)
        if self.holistic:
            self._kwargs["refine_face_landmarks"] = bool(refine_face and face)
        self.min_score = float(min_score)
        self._workers = workers
        self._solutions: list = []
        self._pool: ThreadPoolExecutor | None = None
        self.unusable_views = RepeatedWarning(log)  # views without a usable image or where the model failed

    # ------------------------------------------------------------------------------------ set-up
    def _ensure_views(self, n_views: int) -> None:
        while len(self._solutions) < n_views:
            sol = self._mp.solutions
            cls = sol.holistic.Holistic if self.holistic else sol.pose.Pose
            self._solutions.append(cls(**self._kwargs))
        if self._pool is None:
            n = self._workers or min(n_views, os.cpu_count() or 1)
            self._pool = ThreadPoolExecutor(max_workers=max(1, n), thread_name_prefix="mediapipe")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for s in self._solutions:
            s.close()
        self._solutions = []

    # ------------------------------------------------------------------------------------ per view
    def _landmarks_px(self, landmarks, size_wh, with_score: bool) -> np.ndarray:
        w, h = size_wh
        arr = np.array([(lm.x, lm.y, lm.visibility if with_score else 1.0) for lm in landmarks.landmark], float)
        arr[:, 0] = arr[:, 0] * w - 0.5
        arr[:, 1] = arr[:, 1] * h - 0.5
        outside = (arr[:, 0] < -0.5) | (arr[:, 0] > w - 0.5) | (arr[:, 1] < -0.5) | (arr[:, 1] > h - 0.5)
        arr[outside] = (np.nan, np.nan, 0.0)
        return arr

    def _detect_view(self, v: int, image) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """One view -> ({part: (P, J, 3)} with P in 0, 1, {stage: s})."""
        out = {"pose": missing_keypoints(0, 33 if self.keypoint_set == "MEDIAPIPE_33" else 25)}
        if self.hands:
            out["hand_left"] = missing_keypoints(0, 21)
            out["hand_right"] = missing_keypoints(0, 21)
        if self.face:
            out["face"] = missing_keypoints(0, 70)
        why = check_image(image, v)
        if why is not None:
            self.unusable_views.report(v, f"mediapipe: {why}; keypoints of this view are missing")
            return out, {}
        t0 = time.perf_counter()
        rgb = cv2.cvtColor(to_bgr(image), cv2.COLOR_BGR2RGB)  # OpenCV releases the GIL (numpy's copy does not)
        h, w = rgb.shape[:2]
        t1 = time.perf_counter()
        try:
            res = self._solutions[v].process(rgb)
        except (RuntimeError, ValueError) as exc:
            self.unusable_views.report(v, f"mediapipe failed on view {v} ({exc}); keypoints of this view are missing")
            return out, {"preprocess": t1 - t0, "inference": time.perf_counter() - t1}
        t2 = time.perf_counter()
        if res.pose_landmarks is not None:
            lm33 = self._landmarks_px(res.pose_landmarks, (w, h), True)
            vis = np.array([lm.visibility for lm in res.pose_landmarks.landmark])
            # NaN landmarks (outside the image) would spread through the mapping's weighted sums:
            # zero them with score 0, so every BODY_25 joint built from them has score 0 (missing).
            lm33[~np.isfinite(lm33[:, :2]).all(axis=1)] = 0.0
            body = lm33 if self.keypoint_set == "MEDIAPIPE_33" else convert_keypoints(lm33, MEDIAPIPE_33, BODY_25)
            out["pose"] = mark_missing(body, self.min_score)[None]
            if self.hands:
                for part, attr, wrist in (("hand_left", "left_hand_landmarks", _LEFT_WRIST_33),
                                          ("hand_right", "right_hand_landmarks", _RIGHT_WRIST_33)):
                    lms = getattr(res, attr)
                    hand = missing_keypoints(21) if lms is None else self._landmarks_px(lms, (w, h), False)
                    hand[:, 2] *= np.clip(vis[wrist], 0.0, 1.0)
                    out[part] = mark_missing(hand, self.min_score)[None]
            if self.face:
                face = missing_keypoints(70)
                if res.face_landmarks is not None:
                    mesh = self._landmarks_px(res.face_landmarks, (w, h), False)
                    face[:, :2] = mesh_to_face70(mesh[:, :2])
                    face[:, 2] = float(np.clip(vis[_FACE_LANDMARKS_33].mean(), 0.0, 1.0))
                out["face"] = mark_missing(face, self.min_score)[None]
        return out, {"preprocess": t1 - t0, "inference": t2 - t1, "postprocess": time.perf_counter() - t2}

    # ------------------------------------------------------------------------------------ batch
    def detect(self, images, frame_index: int | None = None) -> Detections:
        """images: V BGR uint8 images -> Detections with pose (V, 1, 25, 3) (+ hands, face when asked)."""
        timer = StageTimer()
        views = as_image_list(images)
        self._ensure_views(len(views))
        results = list(self._pool.map(self._detect_view, range(len(views)), views))
        for _, stages in results:
            for k, s in stages.items():
                timer.add(k, s)
        parts = {name: stack_people([r[0][name] for r in results], arr.shape[-2])
                 for name, arr in results[0][0].items()}
        sizes = np.array([(im.shape[1], im.shape[0]) if check_image(im, v) is None else (0, 0)
                          for v, im in enumerate(views)], int)
        return Detections(pose=parts["pose"], hand_left=parts.get("hand_left"), hand_right=parts.get("hand_right"),
                          face=parts.get("face"), image_size_wh=sizes, timings_s=timer.result(),
                          keypoint_set=self.keypoint_set)
