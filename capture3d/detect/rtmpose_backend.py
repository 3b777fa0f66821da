"""RTMPose backend: RTMPose / RTMW (top-down, after a YOLOX / RTMDet person detector) or RTMO (one stage)
as ONNX networks on onnxruntime, multi-person, COCO_17 / HALPE_26 / COCO_WHOLEBODY_133 keypoints.

Weights are user-supplied ONNX files in ``models/<name>/`` described by a model card (model_card.py,
models/README.md), checked by sha256 before loading; nothing is downloaded. Execution providers: TensorRT,
CUDA when the installed onnxruntime has them, else the CPU (onnx_session.py).

Per frame set: all usable views, letterboxed, go through the person detector (or RTMO) in one batch; then
every person box of every view is cropped (affine, padded 1.25, the pose network's aspect ratio) and all
crops go through the pose network in one batch. Geometry and SimCC decoding: capture3d.detect.topdown.

Network I/O (as exported by MMDeploy / used by rtmlib):
  person detector  input (N, 3, H, W) -> dets (N, D, 5) x1, y1, x2, y2, score [+ labels (N, D), 0 = person]
  RTMPose / RTMW   input (N, 3, H, W) -> simcc_x (N, K, W * ratio), simcc_y (N, K, H * ratio)
  RTMO             input (N, 3, H, W) -> dets (N, D, 5), keypoints (N, D, K, 3) x, y, score in input px
Models exported with a fixed batch of 1 are run one image / crop at a time.
"""
from __future__ import annotations

import logging

import numpy as np

from capture3d.errors import DetectorError
from capture3d.body.keypoint_sets import get_keypoint_set
from capture3d.detect.base import (Detections, Detector, RepeatedWarning, StageTimer, as_image_list, check_image,
                                   mark_missing, missing_keypoints, stack_people, to_bgr)
from capture3d.detect.onnx_session import InferenceFailed, OnnxNet
from capture3d.detect import topdown

log = logging.getLogger(__name__)

DEFAULT_POSE_MODEL = "rtmpose-m"
DEFAULT_PERSON_MODEL = "yolox-m"


def _output(outputs: list[np.ndarray], names: list[str], name: str, index: int) -> np.ndarray:
    return outputs[names.index(name)] if name in names else outputs[index]


class RTMPoseDetector(Detector):
    """RTMPose / RTMW / RTMO on every view (see the module docstring).

    model: pose model card (a folder of models_dir or a path): an ``rtmpose`` or ``rtmo`` card.
    person_detector: ``yolox`` / ``rtmdet`` card for top-down models ("auto": yolox-m; None or "none": each
      whole image is one person box); ignored by RTMO.
    models_dir: where model folders are ($CAPTURE3D_MODELS, else the repository's models/).
    device: "auto" (TensorRT, CUDA, CPU: the best available), "cpu", "cuda" or "tensorrt".
    threads: onnxruntime intra-op threads (0: its default).
    box_score: person boxes scoring <= this are dropped; nms_iou: overlap above which the weaker of two
      boxes is dropped; max_people: per view, best boxes first.
    min_score: keypoints scoring <= this are missing.
    """

    name = "rtmpose"

    def __init__(self, model: str = DEFAULT_POSE_MODEL, person_detector: str | None = "auto", models_dir=None,
                 device: str = "auto", threads: int = 0, box_score: float = 0.5, nms_iou: float = 0.45,
                 max_people: int = 20, min_score: float = 0.3) -> None:
        self.pose_net = OnnxNet(model, models_dir, ("rtmpose", "rtmo"), device, threads)
        card = self.pose_net.card
        try:
            self.kps = get_keypoint_set(card.keypoints)
        except KeyError as exc:
            raise DetectorError(f"model {card.name!r}: {exc.args[0]}") from None
        self.keypoint_set = self.kps.name
        self.one_stage = card.architecture == "rtmo"
        self.person_net = None
        if not self.one_stage and person_detector not in (None, "none"):
            name = DEFAULT_PERSON_MODEL if person_detector == "auto" else person_detector
            self.person_net = OnnxNet(name, models_dir, ("yolox", "rtmdet"), device, threads)
        if max_people < 1:
            raise DetectorError(f"rtmpose: max_people must be at least 1, found {max_people}")
        self.box_score, self.nms_iou, self.max_people = float(box_score), float(nms_iou), int(max_people)
        self.min_score = float(min_score)
        self.unusable_views = RepeatedWarning(log)
        #: batch sizes of the last call: {"person": B, "pose": crops} (as run, before fixed-batch chunking)
        self.last_batches: dict[str, int] = {}

    @property
    def providers(self) -> list[str]:
        """onnxruntime execution providers of the pose network, in the order onnxruntime uses them."""
        return self.pose_net.providers

    def close(self) -> None:
        """Release the onnxruntime sessions (idempotent); detect() after close() is an error."""
        for net in (self.pose_net, self.person_net):
            if net is not None:
                net.session = None

    # ------------------------------------------------------------------------------------ stages
    def _letterboxed(self, net: OnnxNet, images: list[np.ndarray]) -> tuple[np.ndarray, list]:
        canvases, ratios = zip(*(topdown.letterbox(im, net.card.input_size, net.card.pad_value) for im in images))
        return net.normalize(np.stack(canvases)), list(ratios)

    def _person_boxes(self, images: list[np.ndarray], timer: StageTimer) -> list[np.ndarray]:
        """Usable views -> per view (n, 4) boxes in image px, best first."""
        if self.person_net is None:
            return [np.array([[-0.5, -0.5, im.shape[1] - 0.5, im.shape[0] - 0.5]]) for im in images]
        net = self.person_net
        with timer("preprocess"):
            x, ratios = self._letterboxed(net, images)
        self.last_batches["person"] = len(images)
        with timer("inference"):
            out = net.run(x)
        dets = _output(out, net.output_names, "dets", 0)
        labels = _output(out, net.output_names, "labels", 1) if len(out) > 1 else None
        if dets.ndim != 3 or dets.shape[-1] != 5:
            raise DetectorError(f"model {net.card.name!r}: expected dets of shape (N, D, 5), found {dets.shape}")
        boxes = []
        for b, ratio in enumerate(ratios):
            keep = topdown.select_people(dets[b, :, :4], dets[b, :, 4], None if labels is None else labels[b],
                                         self.box_score, self.nms_iou, self.max_people)
            boxes.append(topdown.boxes_from_letterbox(dets[b, keep, :4], ratio))
        return boxes

    def _top_down(self, images: list[np.ndarray], timer: StageTimer) -> list[np.ndarray]:
        """Usable views -> per view (P_v, K, 3) keypoints in image px."""
        boxes = self._person_boxes(images, timer)
        net, hw = self.pose_net, self.pose_net.card.input_size
        counts = [len(b) for b in boxes]
        if not sum(counts):
            return [missing_keypoints(0, self.kps.n_joints) for _ in images]
        with timer("preprocess"):
            center, size = topdown.box_center_scale(np.concatenate(boxes), net.card.box_padding, hw)
            owner = np.repeat(np.arange(len(images)), counts)
            crops = np.stack([topdown.crop(images[v], c, s, hw) for v, c, s in zip(owner, center, size)])
            x = net.normalize(crops)
        self.last_batches["pose"] = len(crops)
        with timer("inference"):
            out = net.run(x)
        with timer("postprocess"):
            sx, sy = _output(out, net.output_names, "simcc_x", 0), _output(out, net.output_names, "simcc_y", 1)
            if sx.ndim != 3 or sy.ndim != 3 or sx.shape[1] != self.kps.n_joints or sy.shape[:2] != sx.shape[:2]:
                raise DetectorError(f"model {net.card.name!r}: expected simcc_x (N, {self.kps.n_joints}, Wx) and "
                                    f"simcc_y (N, {self.kps.n_joints}, Wy) for {self.kps.name}, found "
                                    f"{sx.shape} and {sy.shape}")
            kp = topdown.decode_simcc(sx, sy, net.card.simcc_split_ratio)
            kp[..., :2] = topdown.crop_to_image(kp[..., :2], center, size, hw)
        return np.split(kp, np.cumsum(counts)[:-1])

    def _one_stage(self, images: list[np.ndarray], timer: StageTimer) -> list[np.ndarray]:
        net = self.pose_net
        with timer("preprocess"):
            x, ratios = self._letterboxed(net, images)
        self.last_batches["pose"] = len(images)
        with timer("inference"):
            out = net.run(x)
        with timer("postprocess"):
            dets, kps = _output(out, net.output_names, "dets", 0), _output(out, net.output_names, "keypoints", 1)
            if dets.ndim != 3 or dets.shape[-1] != 5 or kps.shape[:2] != dets.shape[:2] or kps.shape[2:] != (self.kps.n_joints, 3):
                raise DetectorError(f"model {net.card.name!r}: expected dets (N, D, 5) and keypoints "
                                    f"(N, D, {self.kps.n_joints}, 3), found {dets.shape} and {kps.shape}")
            result = []
            for b, ratio in enumerate(ratios):
                keep = topdown.select_people(dets[b, :, :4], dets[b, :, 4], None, self.box_score, self.nms_iou,
                                             self.max_people)
                person = np.array(kps[b, keep], float)
                person[..., :2] = topdown.from_letterbox(person[..., :2], ratio)
                result.append(person)
        return result

    # ------------------------------------------------------------------------------------ batch
    def detect(self, images, frame_index: int | None = None) -> Detections:
        """images: V BGR uint8 images -> Detections with pose (V, P, K, 3) in the model's keypoint set."""
        timer = StageTimer()
        views = as_image_list(images)
        self.last_batches = {}
        usable, bgr = [], []
        for v, im in enumerate(views):
            why = check_image(im, v)
            if why is None:
                usable.append(v)
                bgr.append(to_bgr(im))
            else:
                self.unusable_views.report(v, f"rtmpose: {why}; keypoints of this view are missing")
        per_view = [missing_keypoints(0, self.kps.n_joints) for _ in views]
        people = []
        if bgr:
            try:
                people = (self._one_stage if self.one_stage else self._top_down)(bgr, timer)
            except InferenceFailed as exc:
                for v in usable:
                    self.unusable_views.report(v, f"rtmpose: {exc}; keypoints of view {v} are missing")
        for v, im, kp in zip(usable, bgr, people):
            h, w = im.shape[:2]
            outside = (kp[..., 0] < -0.5) | (kp[..., 0] > w - 0.5) | (kp[..., 1] < -0.5) | (kp[..., 1] > h - 0.5)
            kp[outside] = (np.nan, np.nan, 0.0)
            per_view[v] = mark_missing(kp, self.min_score)
        sizes = np.zeros((len(views), 2), int)
        for v, im in zip(usable, bgr):
            sizes[v] = (im.shape[1], im.shape[0])
        return Detections(pose=stack_people(per_view, self.kps.n_joints), image_size_wh=sizes,
                          timings_s=timer.result(), keypoint_set=self.keypoint_set)
