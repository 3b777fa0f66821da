"""MediaPipe backend (the default detector): Pose for the body, Holistic for body + hands + face.

Uses only the models bundled inside the mediapipe 0.10.14 wheel (``mediapipe.solutions``); nothing
is downloaded at run time (the bundled pose landmark model is the "full" one, model_complexity=1;
complexities 0 and 2 would be downloaded by mediapipe, so they are refused unless already present).

MediaPipe's landmark model follows one person per image. With ``person_detector`` (default
``openpose-mobilenet``, the multi-person PAF network) the detector is **top-down and reports every person**:
the person detector finds the people of all views (one batched call), each person's box is cropped
(capture3d.detect.crop) and MediaPipe runs on each crop with its own instance, kept per view and person
slot from frame to frame (capture3d.detect.person_slots), so video mode tracks each person separately. A
crop whose landmarks disagree with the person detector's skeleton (MediaPipe locked onto a neighbour) falls
back to that skeleton converted to the output set (``fallback_people`` counts them), and the person
MediaPipe found there is added when it is nobody the person detector found (``extra_people``; the person
detector misses people half hidden behind others); with ``whole_view`` MediaPipe also searches each whole
view, and adds the person it finds there when that person is new. People are in the
person detector's order (best first); ``Detections.boxes`` holds each one's box and score. With
``person_detector=None``: one instance per view on the whole image, one person per view (P = 1).
Instances (views, crops) run in parallel threads (MediaPipe releases the GIL while it computes).

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
from capture3d.body.keypoint_sets import BODY_25, MEDIAPIPE_33, get_keypoint_set
from capture3d.detect.base import (Detections, Detector, RepeatedWarning, StageTimer, as_image_list, check_image, mark_missing,
                   missing_keypoints, person_boxes, boxes_of_keypoints, stack_people, to_bgr)
from capture3d.detect.crop import (box_of_points, full_transform, keypoints_to_full, output_size, transform_for_box,
                                   warp_crop)
from capture3d.detect.person_slots import PersonSlots
from capture3d.detect.face_mesh_map import mesh_to_face70

log = logging.getLogger(__name__)

_POSE_MODEL_FILES = {0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite", 2: "pose_landmark_heavy.tflite"}
#: the model cards (models/<name>/model.toml) of the landmark models not bundled with the wheel
_POSE_MODEL_CARDS = {0: "mediapipe-pose-lite", 2: "mediapipe-pose-heavy"}
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


def _check_bundled_model(model_complexity: int) -> None:
    """Complexity 1 (full) is in the wheel; 0 (lite) and 2 (heavy) are installed by ``capture3d models
    install`` (checked against their sha256 here). Without them mediapipe downloads them itself, which works
    only with internet: the DetectorError of a failed download names the install command."""
    if model_complexity not in _POSE_MODEL_FILES:
        raise DetectorError(f"mediapipe model_complexity must be 0, 1 or 2, found {model_complexity}")
    if model_complexity == 1:
        return
    from capture3d.detect.model_install import find_card, model_state  # noqa: PLC0415

    state = model_state(find_card(_POSE_MODEL_CARDS[model_complexity]))
    if state.status == "mismatch":
        raise DetectorError(f"mediapipe model_complexity={model_complexity}: {state.text()}")
    if state.status == "missing":
        log.warning("mediapipe model_complexity=%d: %s; mediapipe will try to download it", model_complexity,
                    state.text())


class MediaPipeDetector(Detector):
    """MediaPipe Pose / Holistic on every person of every view (top-down) or on every whole view.

    hands, face: also detect HAND_21 hands / FACE_70 face (switches to Holistic, about 2x slower).
    mode: "video" (tracking between calls, for live streams and videos; one instance per view and person)
      or "image" (every call independent).
    model_complexity: 0 (lite), 1 (full, bundled with the wheel) or 2 (heavy, the most accurate: the
      default); 0 and 2 come from ``capture3d models install``.
    person_detector: the detector that finds the people (module docstring; None or "none": one person per
      view on the whole image); person_options: its options (e.g. {"net_height": 480}). max_people: people followed per view (more are reported from the person detector).
    crop_px: side of the square crop given to MediaPipe per person. crop_margin: the person box is grown by
      this fraction of its larger side on every side. min_person_joints: the person detector's people with
      fewer joints are ignored. whole_view: MediaPipe also looks at each whole view (its own person search),
      and a person it finds there that nobody else found is added.
    refine_face: iris landmarks for the pupils (else eye centres); only with face.
    smooth: MediaPipe's own landmark smoothing in video mode (off: capture3d filters later).
    min_detection_confidence, min_tracking_confidence: MediaPipe thresholds.
    min_score: joints with a score <= this are missing.
    workers: threads for the views and crops (default: the CPU count).
    keypoint_set: "BODY_25" (default) or "MEDIAPIPE_33": MediaPipe's own 33 landmarks, unconverted (body only).
    """

    name = "mediapipe"
    accepts_crops = True

    def __init__(self, hands: bool = False, face: bool = False, mode: str = "video", model_complexity: int = 2,
                 person_detector: str | None = "openpose-mobilenet", person_options: dict | None = None,
                 max_people: int = 6, crop_px: int = 512,
                 crop_margin: float = 0.2, min_person_joints: int = 5, whole_view: bool = True, refine_face: bool = True,
                 smooth: bool = False, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 min_score: float = 0.0, workers: int | None = None, keypoint_set: str = "BODY_25") -> None:
        if mode not in ("video", "image"):
            raise DetectorError(f"mediapipe mode must be 'video' or 'image', found {mode!r}")
        if not (isinstance(max_people, int) and 1 <= max_people <= 32):
            raise DetectorError(f"mediapipe max_people must be a whole number from 1 to 32, found {max_people!r}")
        if not (isinstance(crop_px, int) and 64 <= crop_px <= 2048):
            raise DetectorError(f"mediapipe crop_px must be a whole number from 64 to 2048, found {crop_px!r}")
        if keypoint_set not in ("BODY_25", "MEDIAPIPE_33") or (keypoint_set == "MEDIAPIPE_33" and (hands or face)):
            raise DetectorError(f"mediapipe keypoint_set must be BODY_25 or MEDIAPIPE_33 (body only, without hands "
                                f"and face), found {keypoint_set!r}{' with hands/face' if hands or face else ''}")
        self.keypoint_set = keypoint_set
        self._mp = _import_mediapipe()
        _check_bundled_model(model_complexity)
        self.hands, self.face = bool(hands), bool(face)
        self.holistic = self.hands or self.face
        self._kwargs = dict(static_image_mode=(mode == "image"), model_complexity=model_complexity,
                            smooth_landmarks=smooth, min_detection_confidence=min_detection_confidence,
                            min_tracking_confidence=min_tracking_confidence)
        if self.holistic:
            self._kwargs["refine_face_landmarks"] = bool(refine_face and face)
        self.min_score = float(min_score)
        self.max_people, self.crop_px = max_people, crop_px
        self.crop_margin, self.min_person_joints = float(crop_margin), int(min_person_joints)
        self.whole_view = bool(whole_view)
        self._workers = workers
        self._people = None
        if person_detector not in (None, "none", ""):
            from capture3d.detect.registry import create_detector  # noqa: PLC0415 (registry imports backends)
            self._people = create_detector(person_detector, **(person_options or {}))
            self.person_detector = person_detector
        self._solutions: dict[tuple[int, int], object] = {}  # (view, slot) -> MediaPipe instance
        self._slots: dict[int, PersonSlots] = {}  # camera -> its person slots
        self._pool: ThreadPoolExecutor | None = None
        self.unusable_views = RepeatedWarning(log)  # views without a usable image or where the model failed
        self.fallback_people = 0  # crops where MediaPipe disagreed with the person detector (module docstring)
        self.extra_people = 0  # people MediaPipe found (a neighbour's crop, the whole view) the person detector missed

    # ------------------------------------------------------------------------------------ set-up
    def _solution(self, view: int, slot: int):
        key = (view, slot)
        if key not in self._solutions:
            sol = self._mp.solutions
            cls = sol.holistic.Holistic if self.holistic else sol.pose.Pose
            try:
                self._solutions[key] = cls(**self._kwargs)
            except OSError as exc:  # urllib's URLError: mediapipe could not download a model it lacks
                complexity = self._kwargs["model_complexity"]
                raise DetectorError(f"mediapipe could not download the model_complexity={complexity} model ({exc}); "
                                    f"install it with: capture3d models install "
                                    f"{_POSE_MODEL_CARDS.get(complexity, '')}") from None
        return self._solutions[key]

    def _ensure_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            n = self._workers or (os.cpu_count() or 1)
            self._pool = ThreadPoolExecutor(max_workers=max(1, n), thread_name_prefix="mediapipe")
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for s in self._solutions.values():
            s.close()
        self._solutions = {}
        if self._people is not None:
            self._people.close()

    # ------------------------------------------------------------------------------------ one image
    def _landmarks_px(self, landmarks, size_wh, with_score: bool) -> np.ndarray:
        w, h = size_wh
        arr = np.array([(lm.x, lm.y, lm.visibility if with_score else 1.0) for lm in landmarks.landmark], float)
        arr[:, 0] = arr[:, 0] * w - 0.5
        arr[:, 1] = arr[:, 1] * h - 0.5
        outside = (arr[:, 0] < -0.5) | (arr[:, 0] > w - 0.5) | (arr[:, 1] < -0.5) | (arr[:, 1] > h - 0.5)
        arr[outside] = (np.nan, np.nan, 0.0)
        return arr

    def _empty_parts(self, n: int) -> dict[str, np.ndarray]:
        out = {"pose": missing_keypoints(n, 33 if self.keypoint_set == "MEDIAPIPE_33" else 25)}
        if self.hands:
            out["hand_left"] = missing_keypoints(n, 21)
            out["hand_right"] = missing_keypoints(n, 21)
        if self.face:
            out["face"] = missing_keypoints(n, 70)
        return out

    def _run(self, solution, image_bgr: np.ndarray, v: int) -> tuple[dict[str, np.ndarray] | None, dict[str, float]]:
        """One BGR image (a whole view or a crop) through one MediaPipe instance -> ({part: (J, 3)} in that
        image's px, or None when nobody was found or the model failed, {stage: s})."""
        t0 = time.perf_counter()
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)  # OpenCV releases the GIL (numpy's copy does not)
        h, w = rgb.shape[:2]
        t1 = time.perf_counter()
        try:
            res = solution.process(rgb)
        except (RuntimeError, ValueError) as exc:
            self.unusable_views.report(v, f"mediapipe failed on view {v} ({exc}); keypoints of this view are missing")
            return None, {"preprocess": t1 - t0, "inference": time.perf_counter() - t1}
        t2 = time.perf_counter()
        if res.pose_landmarks is None:
            return None, {"preprocess": t1 - t0, "inference": t2 - t1}
        out = {}
        lm33 = self._landmarks_px(res.pose_landmarks, (w, h), True)
        vis = np.array([lm.visibility for lm in res.pose_landmarks.landmark])
        # NaN landmarks (outside the image) would spread through the mapping's weighted sums:
        # zero them with score 0, so every BODY_25 joint built from them has score 0 (missing).
        lm33[~np.isfinite(lm33[:, :2]).all(axis=1)] = 0.0
        body = lm33 if self.keypoint_set == "MEDIAPIPE_33" else convert_keypoints(lm33, MEDIAPIPE_33, BODY_25)
        out["pose"] = mark_missing(body, self.min_score)
        if self.hands:
            for part, attr, wrist in (("hand_left", "left_hand_landmarks", _LEFT_WRIST_33),
                                      ("hand_right", "right_hand_landmarks", _RIGHT_WRIST_33)):
                lms = getattr(res, attr)
                hand = missing_keypoints(21) if lms is None else self._landmarks_px(lms, (w, h), False)
                hand[:, 2] *= np.clip(vis[wrist], 0.0, 1.0)
                out[part] = mark_missing(hand, self.min_score)
        if self.face:
            face = missing_keypoints(70)
            if res.face_landmarks is not None:
                mesh = self._landmarks_px(res.face_landmarks, (w, h), False)
                face[:, :2] = mesh_to_face70(mesh[:, :2])
                face[:, 2] = float(np.clip(vis[_FACE_LANDMARKS_33].mean(), 0.0, 1.0))
            out["face"] = mark_missing(face, self.min_score)
        return out, {"preprocess": t1 - t0, "inference": t2 - t1, "postprocess": time.perf_counter() - t2}

    # ------------------------------------------------------------------------------------ whole views
    def _detect_view(self, v: int, image) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """One whole view -> ({part: (P, J, 3)} with P in 0, 1, {stage: s})."""
        parts, stages = self._run(self._solution(v, 0), to_bgr(image), v)
        if parts is None:
            return self._empty_parts(0), stages
        return {name: arr[None] for name, arr in parts.items()}, stages

    # ------------------------------------------------------------------------------------ top-down
    def _detect_person(self, task) -> tuple[dict[str, np.ndarray] | None, dict[str, float]]:
        """(camera, slot, image, crop transform) -> ({part: (J, 3)} in the image's px or None, {stage: s})."""
        v, slot, image, tf = task
        parts, stages = self._run(self._solution(v, slot), warp_crop(image, tf), v)
        if parts is None:
            return None, stages
        wh = (image.shape[1], image.shape[0])
        return {name: keypoints_to_full(arr, tf, wh) for name, arr in parts.items()}, stages

    @staticmethod
    def _same_person(a25: np.ndarray, b25: np.ndarray, box: np.ndarray) -> bool:
        """Whether two (J, 3) skeletons (one keypoint set) are one person: the median distance of their common joints is under
        a tenth of the box's larger side (the two detectors differ by a few percent of a body's size; a
        neighbour in the crop is much further)."""
        both = (a25[:, 2] > 0) & (b25[:, 2] > 0)
        if both.sum() < 3:
            return False
        d = np.linalg.norm(a25[both, :2] - b25[both, :2], axis=1)
        return float(np.median(d)) < 0.1 * max(box[2] - box[0], box[3] - box[1])

    def _detect_people(self, views: list, cams: list[int], usable: list[int], timer: StageTimer):
        """Top-down on images views[i] of cameras cams[i] (usable: the positions with an image) ->
        ({part: [(P_i, J, 3)] per position}, [(P_i, 5)] boxes per position)."""
        with timer("people"):
            found = self._people.detect([views[v] for v in usable])
        # the person detector's people in the output set: the fallback and the same-person check use them
        found_out = convert_keypoints(found.pose, get_keypoint_set(found.keypoint_set), get_keypoint_set(self.keypoint_set))
        tasks, where, per_view_boxes = [], [], {}
        for i, v in enumerate(usable):
            image = to_bgr(views[v])
            wh = (image.shape[1], image.shape[0])
            keep = [p for p in range(found.pose.shape[1]) if (found.pose[i, p, :, 2] > 0).sum() >= self.min_person_joints]
            boxes = [box_of_points(found.pose[i, p, :, :2], wh, self.crop_margin, min_fraction=0.0) for p in keep]
            keep = [p for p, b in zip(keep, boxes) if b is not None]
            boxes = np.array([b for b in boxes if b is not None], float).reshape(-1, 4)
            per_view_boxes[v] = (keep, boxes)
            slots = self._slots.setdefault(cams[v], PersonSlots(self.max_people))
            for p, box, slot in zip(keep, boxes, slots.assign(boxes)):
                if slot >= 0:  # the square crop holds the box whole, centred (transform_for_box)
                    tf = transform_for_box(tuple(box), (self.crop_px, self.crop_px), max_scale=1.0)
                    tasks.append((cams[v], slot, image, tf))
                    where.append((v, p))
            if self.whole_view:
                tasks.append((cams[v], self.max_people, image, full_transform(wh, output_size(wh, self.crop_px))))
                where.append((v, -1))
        pool = self._ensure_pool()
        results = dict(zip(where, pool.map(self._detect_person, tasks)))
        per_view = {name: [] for name in self._empty_parts(0)}
        boxes_out = []
        for v in range(len(views)):
            keep, boxes = per_view_boxes.get(v, ([], np.zeros((0, 4))))
            i = usable.index(v) if v in usable else -1
            people = self._empty_parts(len(keep))
            vb = np.zeros((len(keep), 5))
            extra = []  # people MediaPipe found in a neighbour's crop or in the whole view
            for n, (p, box) in enumerate(zip(keep, boxes)):
                parts, stages = results.get((v, p), (None, {}))
                for k, s in stages.items():
                    timer.add(k, s)
                vb[n] = (*box, float(np.mean(found.pose[i, p, found.pose[i, p, :, 2] > 0, 2])))
                if parts is not None and self._same_person(parts["pose"], found_out[i, p], box):
                    for name, arr in parts.items():
                        people[name][n] = arr
                    continue
                self.fallback_people += 1
                people["pose"][n] = found_out[i, p]
                if parts is not None:
                    extra.append((parts, box))
            whole, stages = results.get((v, -1), (None, {}))
            for k, s in stages.items():
                timer.add(k, s)
            if whole is not None:
                extra.append((whole, boxes_of_keypoints(whole["pose"][None, None])[0, 0, :4]))
            new = []
            for parts, box in extra:
                if not any(self._same_person(parts["pose"], found_out[i, q], box) for q in keep) \
                        and not any(self._same_person(parts["pose"], e["pose"], box) for e, _ in new):
                    new.append((parts, box))
            for parts, box in new:  # a person the person detector missed, found by MediaPipe in a crop
                self.extra_people += 1
                for name, arr in parts.items():
                    people[name] = np.concatenate([people[name], arr[None]])
                vb = np.concatenate([vb, [[*boxes_of_keypoints(parts["pose"][None, None])[0, 0, :4], 0.0]]])
            for name, arr in people.items():
                per_view[name].append(arr)
            boxes_out.append(vb)
        return per_view, boxes_out

    # ------------------------------------------------------------------------------------ batch
    def detect(self, images, frame_index: int | None = None) -> Detections:
        """images: V BGR uint8 images -> Detections with pose (V, P, 25, 3) (+ hands, face when asked):
        every person found (top-down), or one per view without a person detector."""
        views = as_image_list(images)
        return self.detect_views(views, range(len(views)), frame_index)

    def detect_views(self, images, views, frame_index: int | None = None) -> Detections:
        """images[i] of camera views[i] -> Detections with len(views) rows; each camera keeps its own
        MediaPipe instances (tracking state) whichever views a call holds (keyframes detect some views)."""
        timer = StageTimer()
        images, cams = as_image_list(images), [int(v) for v in views]
        if len(images) != len(cams):
            raise DetectorError(f"expected one view index per image, found {len(cams)} for {len(images)} images")
        usable = []
        for i, (cam, im) in enumerate(zip(cams, images)):
            why = check_image(im, cam)
            if why is not None:
                self.unusable_views.report(cam, f"mediapipe: {why}; keypoints of this view are missing")
            else:
                usable.append(i)
        boxes = None
        if self._people is not None:
            per_view, box_list = self._detect_people(images, cams, usable, timer)
            boxes = person_boxes(box_list)
        else:
            pool = self._ensure_pool()
            found = pool.map(self._detect_view, [cams[i] for i in usable], [images[i] for i in usable])
            results = dict(zip(usable, found))
            per_view = {name: [] for name in self._empty_parts(0)}
            for i in range(len(images)):
                parts, stages = results.get(i, (self._empty_parts(0), {}))
                for k, s in stages.items():
                    timer.add(k, s)
                for name, arr in parts.items():
                    per_view[name].append(arr)
        parts = {name: stack_people(arrs, arrs[0].shape[-2]) for name, arrs in per_view.items()}
        sizes = np.array([(im.shape[1], im.shape[0]) if i in usable else (0, 0) for i, im in enumerate(images)], int)
        return Detections(pose=parts["pose"], hand_left=parts.get("hand_left"), hand_right=parts.get("hand_right"),
                          face=parts.get("face"), image_size_wh=sizes, timings_s=timer.result(), boxes=boxes,
                          keypoint_set=self.keypoint_set)
