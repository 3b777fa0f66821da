"""OpenPose backend: the OpenPose networks in torch, weights from ``models/<name>/`` (see model_card.py).

Body: all V views go through the network in one batch (each resized to the network height, keeping its
aspect ratio, padded to a common size that is a multiple of the stride); optional multi-scale averaging
of the maps; PAF parsing (capture3d.detect.paf) per view. Hands and face (optional): square crops around
the body's wrists / head, all crops of all views in one batch through the hand / face network, one peak
per keypoint.

Device: CUDA when available (fp16 there), else CPU (fp32); override with ``device`` / ``fp16``.

Coordinates: with s the resize factor and c the size of one decoded map cell in network pixels
(stride / upsample), a map position m maps to the image as x = (m + 0.5) * c / s - 0.5 (pixel centres at
integers in every space, as OpenCV's resize and torch's interpolate with align_corners=False do).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from capture3d.errors import DetectorError
from capture3d.body.keypoint_sets import get_keypoint_set
from capture3d.detect.base import Detections, Detector, StageTimer, as_image_list, check_image, missing_keypoints, stack_people, to_bgr
from capture3d.detect.model_card import ModelCard, load_card, load_state_dict, resolve_model_folder
from capture3d.detect.openpose_arch import ARCHITECTURES
from capture3d.detect.openpose_net import OpenPoseNet
from capture3d.detect.paf import PafParams, _parabola_offset, parse_pafs
from capture3d.detect.torch_device import pick_device

log = logging.getLogger(__name__)

_CROP_PX = 368  # hand / face network input (square)


class _LoadedNet:
    """A network with its card, on a device."""

    def __init__(self, model: str, models_dir, device: torch.device, fp16: bool) -> None:
        self.card: ModelCard = load_card(resolve_model_folder(model, models_dir))
        if self.card.is_onnx:
            raise DetectorError(f"model {self.card.name!r} is an ONNX {self.card.architecture} network, not an "
                                f"OpenPose one; use it with the rtmpose detector")
        if self.card.architecture not in ARCHITECTURES:
            raise DetectorError(f"model {self.card.name!r} is a {self.card.architecture} network, not a torch "
                                f"OpenPose one (built in: {', '.join(ARCHITECTURES)}); a tf_openpose graph runs "
                                f"with the openpose-mobilenet detector")
        self.arch = self.card.arch()
        net = OpenPoseNet(self.arch)
        net.load_state_dict(load_state_dict(self.card), strict=True)
        self.dtype = torch.float16 if fp16 else torch.float32
        self.net = net.eval().to(device=device, dtype=self.dtype)
        self.device = device
        self.mean = torch.tensor(self.card.mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(self.card.std, dtype=torch.float32).view(1, 3, 1, 1)

    def normalize(self, batch_u8: np.ndarray) -> torch.Tensor:
        """(B, H, W, 3) uint8 BGR -> (B, 3, H, W) normalized tensor on the device."""
        x = torch.from_numpy(batch_u8).permute(0, 3, 1, 2).float()
        if self.card.channel_order == "RGB":
            x = x.flip(1)
        x = (x - self.mean) / self.std
        return x.to(device=self.device, dtype=self.dtype)

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor):
        hm, paf = self.net(x)
        return hm.float(), (paf.float() if paf is not None else None)


class OpenPoseDetector(Detector):
    """OpenPose (BODY_25 or COCO body; hand and face networks) in torch.

    model: body model name in models_dir (or a folder path); hands, face: run the hand / face networks
    (hand_model, face_model). device: "cuda", "cpu" or None (auto); fp16: None = on CUDA only.
    net_height: network input height px (default: the card's). scales: multi-scale factors, averaged.
    upsample: decode the maps upsampled by this factor (1 = at stride resolution, 8 = OpenPose-like).
    heatmap_dir: save the raw maps of every call as ``maps_<frame:012d>.npz`` there.
    peak_threshold, paf_threshold, min_parts: PAF parsing (capture3d.detect.paf.PafParams).
    part_threshold: minimum peak value of a hand / face keypoint.
    """

    name = "openpose"

    def __init__(self, model: str = "body_25", hands: bool = False, face: bool = False, hand_model: str = "hand",
                 face_model: str = "face", models_dir: str | os.PathLike | None = None, device: str | None = None,
                 fp16: bool | None = None, net_height: int | None = None, scales=(1.0,), upsample: int = 1,
                 heatmap_dir: str | os.PathLike | None = None, peak_threshold: float = 0.05,
                 paf_threshold: float = 0.05, min_parts: int = 3, part_threshold: float = 0.1) -> None:
        self.device = pick_device(device, "openpose")
        self.fp16 = (self.device.type == "cuda") if fp16 is None else bool(fp16)
        self.body = _LoadedNet(model, models_dir, self.device, self.fp16)
        if self.body.arch.pafs is None:
            raise DetectorError(f"openpose: model {model!r} ({self.body.arch.name}) is not a body model with PAFs")
        self.hand = _LoadedNet(hand_model, models_dir, self.device, self.fp16) if hands else None
        self.face = _LoadedNet(face_model, models_dir, self.device, self.fp16) if face else None
        self.keypoint_set = self.body.card.keypoints
        self.n_joints = get_keypoint_set(self.keypoint_set).n_joints
        self.net_height = int(net_height or self.body.card.input_size[0])
        self.scales = tuple(float(s) for s in scales)
        if not self.scales or min(self.scales) <= 0:
            raise DetectorError(f"openpose: scales must be positive factors, found {scales!r}")
        if int(upsample) < 1:
            raise DetectorError(f"openpose: upsample must be >= 1, found {upsample}")
        self.upsample = int(upsample)
        self.heatmap_dir = Path(heatmap_dir) if heatmap_dir is not None else None
        self.paf_params = PafParams(peak_threshold=peak_threshold, paf_threshold=paf_threshold, min_parts=min_parts)
        self.part_threshold = float(part_threshold)
        self._frame = 0
        log.info("openpose: %s on %s (%s)", self.body.card.name, self.device, "fp16" if self.fp16 else "fp32")

    # ------------------------------------------------------------------------------------ body
    def _batch(self, views: list[np.ndarray], height: int):
        """Resize every view to `height` keeping aspect; pad to a common multiple of the stride.
        Returns (B, H, W, 3) uint8 batch, per-view factor s (B,), per-view resized (h, w)."""
        stride = self.body.arch.stride
        sizes, scale = [], []
        for im in views:
            s = height / im.shape[0]
            sizes.append((height, max(stride, int(round(im.shape[1] * s)))))
            scale.append(s)
        Hn = -(-max(h for h, _ in sizes) // stride) * stride
        Wn = -(-max(w for _, w in sizes) // stride) * stride
        mean = np.array(self.body.card.mean, np.float32).clip(0, 255).astype(np.uint8)
        batch = np.empty((len(views), Hn, Wn, 3), np.uint8)
        batch[:] = mean  # pad with the mean colour: zero after normalization
        for b, (im, (h, w)) in enumerate(zip(views, sizes)):
            interp = cv2.INTER_AREA if h < im.shape[0] else cv2.INTER_CUBIC
            batch[b, :h, :w] = cv2.resize(im, (w, h), interpolation=interp)
        return batch, np.array(scale), sizes

    def _body_maps(self, views: list[np.ndarray], timer: StageTimer):
        """-> heatmaps (B, K, h, w), pafs (B, 2L, h, w) at stride resolution (averaged over scales), s, sizes."""
        with timer("preprocess"):
            batch, s, sizes = self._batch(views, self.net_height)
            x = self.body.normalize(batch)
        hm_sum = paf_sum = None
        base = (batch.shape[1] // self.body.arch.stride, batch.shape[2] // self.body.arch.stride)
        for k in self.scales:
            with timer("inference"):
                xi = x
                if k != 1.0:
                    st = self.body.arch.stride
                    size = (max(st, int(round(batch.shape[1] * k / st)) * st), max(st, int(round(batch.shape[2] * k / st)) * st))
                    xi = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
                hm, paf = self.body(xi)
                if hm.shape[-2:] != base:
                    hm = F.interpolate(hm, size=base, mode="bilinear", align_corners=False)
                    paf = F.interpolate(paf, size=base, mode="bilinear", align_corners=False)
                hm_sum = hm if hm_sum is None else hm_sum + hm
                paf_sum = paf if paf_sum is None else paf_sum + paf
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        n = len(self.scales)
        return hm_sum / n, paf_sum / n, s, sizes

    def _decode(self, hm: torch.Tensor, paf: torch.Tensor, s: np.ndarray, sizes) -> list[np.ndarray]:
        """Per view (P, J, 3) in image pixels."""
        arch, stride, f = self.body.arch, self.body.arch.stride, self.upsample
        out = []
        for b, (h, w) in enumerate(sizes):
            hh, ww = -(-h // stride), -(-w // stride)
            hv, pv = hm[b:b + 1, :, :hh, :ww], paf[b:b + 1, :, :hh, :ww]
            if f > 1:
                hv = F.interpolate(hv, scale_factor=f, mode="bicubic", align_corners=False)
                pv = F.interpolate(pv, scale_factor=f, mode="bicubic", align_corners=False)
            people = parse_pafs(hv[0].cpu().numpy(), pv[0].cpu().numpy(), self.n_joints, arch.paf_pairs,
                                arch.paf_channels, arch.redundant_limbs, self.paf_params)
            cell = stride / f
            people[..., :2] = (people[..., :2] + 0.5) * cell / s[b] - 0.5
            out.append(people)
        return out

    # ------------------------------------------------------------------------------------ hands, face
    def hand_boxes(self, kp: np.ndarray) -> list[tuple[str, int, np.ndarray | None]]:
        """Square hand crops from the arms of detected bodies (as OpenPose's hand detector from body pose).

        kp: (P, J, 3) body keypoints of one view (x px, y px, score; J of this detector's keypoint set).
        Returns, per person and left before right, (side "left" / "right", person index, box): box (3,) =
        centre x px, centre y px, side length px of the square crop, or None when the wrist or elbow is
        missing or the crop would be under 8 px.
        """
        names = {"BODY_25": (2, 3, 4, 5, 6, 7), "COCO_18": (2, 3, 4, 5, 6, 7)}[self.keypoint_set]
        rs, re, rw, ls, le, lw = names
        boxes = []
        for p, person in enumerate(kp):
            for side, (sh, el, wr) in (("left", (ls, le, lw)), ("right", (rs, re, rw))):
                box = None
                if person[wr, 2] > 0 and person[el, 2] > 0:
                    d_we = np.linalg.norm(person[wr, :2] - person[el, :2])
                    d_es = np.linalg.norm(person[el, :2] - person[sh, :2]) if person[sh, 2] > 0 else 0.0
                    c = person[wr, :2] + 0.33 * (person[wr, :2] - person[el, :2])
                    size = 1.5 * max(d_we, 0.9 * d_es)
                    box = np.array([c[0], c[1], size]) if size >= 8 else None
                boxes.append((side, p, box))
        return boxes

    def _face_box(self, person: np.ndarray) -> np.ndarray | None:
        head = [0, 15, 16, 17, 18] if self.keypoint_set == "BODY_25" else [0, 14, 15, 16, 17]
        pts = person[[j for j in head if person[j, 2] > 0], :2]
        if person[0, 2] <= 0 or person[1, 2] <= 0 or len(pts) < 2:
            return None
        size = max(2.0 * np.linalg.norm(person[0, :2] - person[1, :2]), 2.2 * np.ptp(pts[:, 0]))
        c = pts.mean(axis=0)
        return np.array([c[0], c[1], size]) if size >= 8 else None

    @staticmethod
    def _crop(image: np.ndarray, box: np.ndarray, mirror: bool) -> np.ndarray:
        cx, cy, size = box
        k = _CROP_PX / size
        left, top = cx + 0.5 - size / 2, cy + 0.5 - size / 2  # edge coordinates
        M = np.array([[1 / k, 0, left - 0.5 + 0.5 / k], [0, 1 / k, top - 0.5 + 0.5 / k]])
        crop = cv2.warpAffine(image, M, (_CROP_PX, _CROP_PX), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(128, 128, 128))
        return crop[:, ::-1].copy() if mirror else crop

    def _keypoints_in_crops(self, net: _LoadedNet, crops: np.ndarray, boxes: list[np.ndarray], mirror: list[bool],
                            n_joints: int) -> np.ndarray:
        """Crops (N, 368, 368, 3) -> (N, n_joints, 3) in image pixels (one peak per keypoint)."""
        hm, _ = net(net.normalize(crops))
        hm = hm[:, :n_joints].cpu().numpy()
        N, J, h, w = hm.shape
        flat = hm.reshape(N, J, -1)
        idx = flat.argmax(axis=-1)
        ys, xs = np.divmod(idx, w)
        score = np.take_along_axis(flat, idx[..., None], -1)[..., 0]
        lg = np.log(np.maximum(np.pad(hm, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect"), 1e-12))
        n_i, j_i = np.meshgrid(np.arange(N), np.arange(J), indexing="ij")
        c = lg[n_i, j_i, ys + 1, xs + 1]
        mx = xs + _parabola_offset(lg[n_i, j_i, ys + 1, xs], c, lg[n_i, j_i, ys + 1, xs + 2])
        my = ys + _parabola_offset(lg[n_i, j_i, ys, xs + 1], c, lg[n_i, j_i, ys + 2, xs + 1])
        stride = net.arch.stride
        ux, uy = (mx + 0.5) * stride - 0.5, (my + 0.5) * stride - 0.5  # crop px
        out = missing_keypoints(N, n_joints)
        for n, (box, mir) in enumerate(zip(boxes, mirror)):
            if mir:
                ux[n] = _CROP_PX - 1 - ux[n]
            k = _CROP_PX / box[2]
            left, top = box[0] + 0.5 - box[2] / 2, box[1] + 0.5 - box[2] / 2
            ok = score[n] > self.part_threshold
            out[n, ok, 0] = left - 0.5 + (ux[n, ok] + 0.5) / k
            out[n, ok, 1] = top - 0.5 + (uy[n, ok] + 0.5) / k
            out[n, ok, 2] = score[n, ok]
        return out

    def _hands_and_face(self, views, per_view, timer):
        P = max([a.shape[0] for a in per_view] + [1])
        V = len(views)
        res = {}
        if self.hand is not None:
            with timer("hands"):
                lh, rh = missing_keypoints(V, P, 21), missing_keypoints(V, P, 21)
                crops, boxes, mirror, where = [], [], [], []
                for v, (im, kp) in enumerate(zip(views, per_view)):
                    if im is None:
                        continue
                    for side, p, box in self.hand_boxes(kp):
                        if box is not None:
                            crops.append(self._crop(im, box, side == "left"))
                            boxes.append(box)
                            mirror.append(side == "left")
                            where.append((v, p, side))
                if crops:
                    kps = self._keypoints_in_crops(self.hand, np.stack(crops), boxes, mirror, 21)
                    for (v, p, side), k in zip(where, kps):
                        (lh if side == "left" else rh)[v, p] = k
                res["hand_left"], res["hand_right"] = lh, rh
        if self.face is not None:
            with timer("face"):
                fc = missing_keypoints(V, P, 70)
                crops, boxes, where = [], [], []
                for v, (im, kp) in enumerate(zip(views, per_view)):
                    if im is None:
                        continue
                    for p, person in enumerate(kp):
                        box = self._face_box(person)
                        if box is not None:
                            crops.append(self._crop(im, box, False))
                            boxes.append(box)
                            where.append((v, p))
                if crops:
                    kps = self._keypoints_in_crops(self.face, np.stack(crops), boxes, [False] * len(crops), 70)
                    for (v, p), k in zip(where, kps):
                        fc[v, p] = k
                res["face"] = fc
        return res

    # ------------------------------------------------------------------------------------ API
    def detect(self, images, frame_index: int | None = None) -> Detections:
        """images: V BGR uint8 images -> Detections (pose (V, P, J, 3) + hands/face when asked)."""
        timer = StageTimer()
        views = as_image_list(images)
        usable: list[np.ndarray | None] = []
        for v, im in enumerate(views):
            why = check_image(im, v)
            if why is not None:
                log.warning("openpose: %s; keypoints of this view are missing", why)
            usable.append(None if why else to_bgr(im))
        idx = [v for v, im in enumerate(usable) if im is not None]
        per_view = [np.zeros((0, self.n_joints, 3)) for _ in views]
        if idx:
            hm, paf, s, sizes = self._body_maps([usable[v] for v in idx], timer)
            with timer("postprocess"):
                for v, people in zip(idx, self._decode(hm, paf, s, sizes)):
                    per_view[v] = people
            if self.heatmap_dir is not None:
                self._save_maps(hm, paf, s, idx, frame_index)
        parts = self._hands_and_face(usable, per_view, timer) if (self.hand or self.face) else {}
        sizes_wh = np.array([(im.shape[1], im.shape[0]) if im is not None else (0, 0) for im in usable], int)
        self._frame = (frame_index if frame_index is not None else self._frame) + 1
        return Detections(pose=stack_people(per_view, self.n_joints), image_size_wh=sizes_wh,
                          timings_s=timer.result(), keypoint_set=self.keypoint_set, **parts)

    def _save_maps(self, hm, paf, s, idx, frame_index) -> None:
        frame = frame_index if frame_index is not None else self._frame
        self.heatmap_dir.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(self.heatmap_dir / f"maps_{int(frame):012d}.npz", heatmaps=hm.cpu().numpy().astype(np.float16),
                            pafs=paf.cpu().numpy().astype(np.float16), views=np.array(idx), resize_factor=s,
                            stride=self.body.arch.stride, paf_pairs=np.array(self.body.arch.paf_pairs),
                            paf_channels=np.array(self.body.arch.paf_channels))
