"""The detector interface: images of V views in, 2D keypoints (V, P, J, 3) out, with per-stage timing.

Shapes: V views, P people (padded to the largest count over the views, at least 1), J joints.
Keypoints are x px, y px, score; a missing joint (or an absent person) is x = y = NaN, score = 0.
Pixel convention (everywhere in capture3d): (0, 0) is the centre of the top-left pixel, as in OpenCV,
so a pixel's area is [x - 0.5, x + 0.5] and the image spans [-0.5, W - 0.5] x [-0.5, H - 0.5].

Images: ``(H, W, 3) uint8`` in **BGR** order (what OpenCV and the camera sources deliver) or
``(H, W) uint8`` grayscale. A bad image of one view (None, empty, wrong dtype or shape) never stops
the live pipeline: that view gets missing keypoints and a warning is logged.
"""
from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np

from capture3d.errors import DetectorError
from capture3d.body.convert import convert_keypoints
from capture3d.body.keypoint_set import KeypointSet
from capture3d.body.keypoint_sets import WHOLEBODY_135, compose_wholebody, get_keypoint_set

log = logging.getLogger(__name__)

#: Parts a detector can deliver, with their joint counts (part names as in capture3d.io.openpose_json).
PART_JOINTS = {"pose": 25, "hand_left": 21, "hand_right": 21, "face": 70}


def missing_keypoints(*shape: int) -> np.ndarray:
    """An all-missing keypoint array of shape (*shape, 3): x = y = NaN, score = 0."""
    out = np.full((*shape, 3), np.nan)
    out[..., 2] = 0.0
    return out


def mark_missing(keypoints: np.ndarray, min_score: float = 0.0) -> np.ndarray:
    """In place: joints with a non-finite coordinate or a score <= min_score (or NaN) become missing.

    keypoints: (..., J, 3). Returns the same array.
    """
    bad = ~np.isfinite(keypoints[..., :2]).all(axis=-1) | ~(keypoints[..., 2] > min_score)
    keypoints[bad] = (np.nan, np.nan, 0.0)
    return keypoints


@dataclass
class Detections:
    """The 2D result of one frame set.

    pose: (V, P, J, 3) body keypoints in ``keypoint_set`` (J = 25 for BODY_25), x px, y px, score.
    hand_left, hand_right: (V, P, 21, 3) HAND_21 or None when hands were not asked for.
    face: (V, P, 70, 3) FACE_70 or None when the face was not asked for.
    image_size_wh: (V, 2) int, each view's (W, H) (0, 0 for an unusable view).
    timings_s: seconds per stage, e.g. {"preprocess": .., "inference": .., "postprocess": .., "total": ..};
      "total" is wall-clock for the whole call; other stages are summed over views (CPU-ish time).
    keypoint_set: the name of the body keypoint set (see capture3d.body.keypoint_sets).
    boxes: (V, P, 5) x_min, y_min, x_max, y_max px, score of each person (NaN, score 0 for padding), or
      None when the detector gives no boxes.
    """

    pose: np.ndarray
    hand_left: np.ndarray | None = None
    hand_right: np.ndarray | None = None
    face: np.ndarray | None = None
    image_size_wh: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), int))
    timings_s: dict[str, float] = field(default_factory=dict)
    keypoint_set: str = "BODY_25"
    boxes: np.ndarray | None = None

    @property
    def n_views(self) -> int:
        return self.pose.shape[0]

    @property
    def n_people(self) -> int:
        return self.pose.shape[1]

    def parts(self) -> dict[str, np.ndarray]:
        """{part name: (V, P, J, 3)} for the parts present (names as in capture3d.io.openpose_json)."""
        out = {"pose": self.pose}
        for name in ("hand_left", "hand_right", "face"):
            arr = getattr(self, name)
            if arr is not None:
                out[name] = arr
        return out

    def people(self, view: int) -> list[dict[str, np.ndarray]]:
        """The people of one view that have at least one detected joint, as [{part: (J, 3)}]."""
        parts = self.parts()
        out = []
        for p in range(self.n_people):
            person = {name: arr[view, p] for name, arr in parts.items()}
            if any(np.any(a[:, 2] > 0) for a in person.values()):
                out.append(person)
        return out

    def keypoints_in(self, kps: KeypointSet) -> np.ndarray:
        """(V, P, J, 3) keypoints in ``kps``, converted by joint name from the body keypoints (and the
        hands and face when ``kps`` has them and the body is BODY_25); joints the detector does not
        supply are missing."""
        if kps.name == self.keypoint_set:
            return self.pose
        try:
            body = get_keypoint_set(self.keypoint_set)
        except KeyError as exc:
            raise DetectorError(f"detections in an unknown keypoint set: {exc.args[0]}") from None
        if body.name == "BODY_25" and any(n.startswith(("LHand_", "RHand_", "Face_")) for n in kps.names):
            return convert_keypoints(self.wholebody(), WHOLEBODY_135, kps)
        return convert_keypoints(self.pose, body, kps)

    def wholebody(self) -> np.ndarray:
        """(V, P, 135, 3) WHOLEBODY_135 (BODY_25 + hands + face); parts not detected are missing."""
        if self.keypoint_set != "BODY_25":
            raise DetectorError(f"wholebody() needs BODY_25 body keypoints, found {self.keypoint_set}")
        V, P = self.pose.shape[:2]
        lh = self.hand_left if self.hand_left is not None else missing_keypoints(V, P, 21)
        rh = self.hand_right if self.hand_right is not None else missing_keypoints(V, P, 21)
        face = self.face if self.face is not None else missing_keypoints(V, P, 70)
        return compose_wholebody(self.pose, lh, rh, face)


def stack_people(per_view: Sequence[np.ndarray], n_joints: int) -> np.ndarray:
    """Stack per-view (P_v, J, 3) arrays into (V, max(P_v, 1), J, 3), padding with missing people."""
    P = max([a.shape[0] for a in per_view] + [1])
    out = missing_keypoints(len(per_view), P, n_joints)
    for v, a in enumerate(per_view):
        out[v, : a.shape[0]] = a
    return out


def person_boxes(per_view: Sequence[np.ndarray]) -> np.ndarray:
    """Stack per-view (P_v, 5) boxes (x_min, y_min, x_max, y_max px, score) into (V, max(P_v, 1), 5), padding
    with NaN boxes of score 0 (the people axis of ``stack_people``)."""
    P = max([len(a) for a in per_view] + [1])
    out = np.full((len(per_view), P, 5), np.nan)
    out[..., 4] = 0.0
    for v, a in enumerate(per_view):
        out[v, : len(a)] = a
    return out


def boxes_of_keypoints(pose: np.ndarray) -> np.ndarray:
    """(V, P, J, 3) keypoints -> (V, P, 5) the box around each person's detected joints and their mean score
    (NaN box, score 0 for a person without joints)."""
    ok = pose[..., 2] > 0
    x = np.where(ok, pose[..., 0], np.nan)
    y = np.where(ok, pose[..., 1], np.nan)
    out = np.full(pose.shape[:2] + (5,), np.nan)
    any_ok = ok.any(axis=-1)
    with np.errstate(invalid="ignore"):
        for k, (arr, f) in enumerate(((x, np.nanmin), (y, np.nanmin), (x, np.nanmax), (y, np.nanmax))):
            out[any_ok, k] = f(arr[any_ok], axis=-1)
        out[..., 4] = np.where(any_ok, np.sum(np.where(ok, pose[..., 2], 0.0), -1) / np.maximum(ok.sum(-1), 1), 0.0)
    return out


def check_image(image, view: int) -> str | None:
    """Why an image cannot be used, or None when it can. image: (H, W, 3) or (H, W) uint8."""
    if image is None:
        return f"view {view}: no image (None)"
    if not isinstance(image, np.ndarray):
        return f"view {view}: expected a numpy array, found {type(image).__name__}"
    if image.dtype != np.uint8:
        return f"view {view}: expected uint8 pixels, found {image.dtype}"
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3, 4))):
        return f"view {view}: expected an (H, W), (H, W, 3) or (H, W, 4) image, found shape {image.shape}"
    if image.shape[0] < 8 or image.shape[1] < 8:
        return f"view {view}: image too small or empty, shape {image.shape}"
    return None


def to_bgr(image: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) uint8 -> contiguous (H, W, 3) BGR uint8."""
    if image.ndim == 2 or image.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(image.reshape(image.shape[0], image.shape[1], 1), 3, axis=2))
    if image.shape[2] == 4:
        return np.ascontiguousarray(image[:, :, :3])
    return np.ascontiguousarray(image)


def as_image_list(images) -> list:
    """Validate the container of a frame set: a sequence of V images (or a (V, H, W[, C]) array)."""
    if isinstance(images, np.ndarray):
        if images.ndim not in (3, 4):
            raise DetectorError(f"expected a sequence of V images or a (V, H, W[, 3]) array, found shape {images.shape}")
        return list(images)
    if isinstance(images, (list, tuple)):
        if not images:
            raise DetectorError("expected at least one view image, found an empty sequence")
        return list(images)
    raise DetectorError(f"expected a sequence of V images, found {type(images).__name__}")


class StageTimer:
    """Accumulates wall-clock seconds per named stage: ``with timer("inference"): ...``."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - t)

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def result(self) -> dict[str, float]:
        out = dict(self.seconds)
        out["total"] = time.perf_counter() - self.t0
        return out


class RepeatedWarning:
    """A warning that can repeat every frame (a view without an image, a view the model fails on): logged
    the first time for each view, then only counted (``count``, ``per_view``), so a long run on a camera
    that drops frames does not flood the log. Thread-safe enough for counters (GIL)."""

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self.per_view: dict[int, int] = {}

    @property
    def count(self) -> int:
        return sum(self.per_view.values())

    def report(self, view: int, message: str) -> None:
        n = self.per_view.get(view, 0)
        self.per_view[view] = n + 1
        if n == 0:
            self._log.warning("%s (further cases of view %d are counted, not logged)", message, view)


class Detector(ABC):
    """A 2D keypoint detector. Use as a context manager or call close() to free its resources.

    Subclasses set ``name`` and implement ``detect``. Options are given to the constructor (see
    ``capture3d.detect.create_detector``).
    """

    name: str = "?"
    #: body keypoint set of the output
    keypoint_set: str = "BODY_25"
    #: finds people from the image content alone, so it may be given crops of the views (mapped back by
    #: ``capture3d.runtime.view_crops``); False for detectors that replay stored or true keypoints
    accepts_crops: bool = False

    @abstractmethod
    def detect(self, images, frame_index: int | None = None) -> Detections:
        """Detect keypoints in one frame set.

        images: V images (see the module docstring); detectors that replay files or ground truth
        accept None per view. frame_index: the frame number, for replaying detectors (ignored by
        image detectors; None = the next frame).
        """

    def detect_views(self, images, views: Sequence[int], frame_index: int | None = None) -> Detections:
        """Detect in some views of a frame set only (keyframes, ``capture3d.detect.keyframes``): images[i]
        is view views[i]; the Detections have len(views) rows in that order. A detector that keeps state per
        view (MediaPipe's tracking) keeps it per camera; this default, for detectors without per-view state,
        is ``detect(images, frame_index)``."""
        return self.detect(images, frame_index=frame_index)

    def close(self) -> None:
        """Release models, threads and files (idempotent)."""

    def __enter__(self) -> "Detector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
