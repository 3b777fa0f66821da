"""The OpenPose networks in torch: a module that runs an Architecture graph (capture3d.detect.openpose_arch).

Parameters are named after the Caffe layers (``layers.<conv>.weight/bias``, ``acts.<prelu>.weight``) so that
converted official weights load one-to-one. Imports torch: only load this module when the openpose
backend is used.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from capture3d.detect.openpose_arch import Act, Architecture, Concat, Conv, Pool


class OpenPoseNet(nn.Module):
    """forward(image (B, 3, H, W) normalized) -> (heatmaps (B, K, H/8, W/8), pafs (B, 2L, H/8, W/8) or None).

    H and W must be multiples of the stride (8); K includes the background channel.
    """

    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        self.arch = arch
        self.layers = nn.ModuleDict()
        self.acts = nn.ModuleDict()
        for op in arch.ops:
            if isinstance(op, Conv):
                self.layers[op.name] = nn.Conv2d(op.cin, op.cout, op.kernel, op.stride, op.pad, op.dilation, bias=op.bias)
            elif isinstance(op, Act) and op.kind == "prelu":
                self.acts[op.name] = nn.PReLU(op.channels)

    def forward(self, image: torch.Tensor):
        blobs = {self.arch.input_blob: image}
        for op in self.arch.ops:
            if isinstance(op, Conv):
                blobs[op.top] = self.layers[op.name](blobs[op.bottom])
            elif isinstance(op, Act):
                x = blobs[op.blob]
                blobs[op.blob] = F.relu(x) if op.kind == "relu" else self.acts[op.name](x)
            elif isinstance(op, Pool):
                x = blobs[op.bottom]
                # Caffe rounds pooled sizes up; pad so odd sizes give the same shape (stride-8 inputs never need it)
                pad_h = (-x.shape[2]) % op.stride
                pad_w = (-x.shape[3]) % op.stride
                if pad_h or pad_w:
                    x = F.pad(x, (0, pad_w, 0, pad_h), value=float("-inf"))
                blobs[op.top] = F.max_pool2d(x, op.kernel, op.stride)
            elif isinstance(op, Concat):
                blobs[op.top] = torch.cat([blobs[b] for b in op.bottoms], dim=1)
        pafs = blobs[self.arch.pafs] if self.arch.pafs else None
        return blobs[self.arch.heatmaps], pafs


def check_state_dict(arch: Architecture, state: dict) -> list[str]:
    """Differences between a state_dict and an architecture: missing keys, unexpected keys, wrong shapes."""
    expected = arch.param_shapes()
    problems = []
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing:
        problems.append(f"{len(missing)} missing parameter(s), e.g. {', '.join(missing[:3])}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected parameter(s), e.g. {', '.join(unexpected[:3])}")
    for k, shape in expected.items():
        if k in state and tuple(state[k].shape) != shape:
            problems.append(f"{k}: expected shape {shape}, found {tuple(state[k].shape)}")
            if len(problems) > 6:
                break
    return problems
