"""OpenPose network architectures as layer graphs (no torch here), as published in OpenPose's prototxt files.

An Architecture is the Caffe graph: a list of ops (Conv, Act, Pool, Concat) on named blobs, with the
layer names of the official models, so converted Caffe weights map one-to-one onto parameters
(``layers.<conv name>.weight/bias``, ``acts.<prelu name>.weight``).

Published numbers (all stride 8, input normalized as (BGR / 256) - 0.5):

- BODY_25 (``pose/body_25/pose_deploy.prototxt``): VGG-19 to conv4_2 + conv4_3_CPM (256) + conv4_4_CPM (128),
  PReLU from conv4_2 on; 4 PAF stages (L2; stage 0 blocks of 3 x 96, later 3 x 128, each conv 3x3 with its
  three outputs concatenated, five blocks, then 1x1 256/512, 1x1 52) then 2 heat-map stages (L1; 26 out).
  Output: 26 heat maps (25 parts + background) + 52 PAF channels (26 limbs x (x, y)) = 78.
- COCO (``pose/coco/pose_deploy_linevec.prototxt``): VGG-19 to conv4_2 + conv4_3_CPM + conv4_4_CPM, ReLU;
  6 stages, two branches (L1: 38 PAF channels, L2: 19 heat maps); stage 1: 3 x (3x3, 128), 1x1 512, 1x1 out;
  stages 2-6: 5 x (7x7, 128), 1x1 128, 1x1 out on concat(L1, L2, features) (185 channels). Output 19 + 38 = 57.
- hand (``hand/pose_deploy.prototxt``) and face (``face/pose_deploy.prototxt``): convolutional pose machine:
  VGG-19 to conv4_4 + conv5_1, conv5_2 (512) + conv5_3_CPM (128), conv6_1_CPM (1x1, 512), conv6_2_CPM
  (1x1, N); stages 2-6 on concat(previous maps, conv5_3_CPM): 5 x (7x7, 128), 1x1 128, 1x1 N.
  N = 22 for the hand (21 keypoints + background), 71 for the face (70 + background).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Conv:
    name: str
    bottom: str
    top: str
    cin: int
    cout: int
    kernel: int
    pad: int
    stride: int = 1
    dilation: int = 1
    bias: bool = True


@dataclass(frozen=True)
class Act:
    """In-place activation: kind "relu" or "prelu" (one slope per channel, named like the Caffe layer)."""

    name: str
    blob: str
    kind: str
    channels: int


@dataclass(frozen=True)
class Pool:
    name: str
    bottom: str
    top: str
    kernel: int = 2
    stride: int = 2


@dataclass(frozen=True)
class Concat:
    name: str
    bottoms: tuple[str, ...]
    top: str


@dataclass(frozen=True)
class Architecture:
    """A network: ops in execution order; heatmaps/pafs name the output blobs (pafs None for hand/face).

    keypoints: the keypoint set of the heat maps (their last channel is the background).
    paf_pairs: (a, b) joint index pairs of the limbs, in OpenPose's assembly order (parents first).
    paf_channels: the (x, y) PAF channels of each limb (within the PAF block).
    redundant_limbs: limbs that close a loop of the tree (e.g. shoulder-ear): they confirm people but
      never start a new one.
    """

    name: str
    ops: tuple
    heatmaps: str
    pafs: str | None
    keypoints: str
    stride: int = 8
    input_blob: str = "image"
    paf_pairs: tuple[tuple[int, int], ...] = ()
    paf_channels: tuple[tuple[int, int], ...] = ()
    redundant_limbs: tuple[int, ...] = ()
    meta: dict = field(default_factory=dict, compare=False)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """{state_dict key: shape} of every parameter."""
        out: dict[str, tuple[int, ...]] = {}
        for op in self.ops:
            if isinstance(op, Conv):
                out[f"layers.{op.name}.weight"] = (op.cout, op.cin, op.kernel, op.kernel)
                if op.bias:
                    out[f"layers.{op.name}.bias"] = (op.cout,)
            elif isinstance(op, Act) and op.kind == "prelu":
                out[f"acts.{op.name}.weight"] = (op.channels,)
        return out

    def n_params(self) -> int:
        n = 0
        for shape in self.param_shapes().values():
            k = 1
            for d in shape:
                k *= d
            n += k
        return n


class _Builder:
    def __init__(self) -> None:
        self.ops: list = []
        self.channels: dict[str, int] = {"image": 3}

    def conv(self, name: str, bottom: str, cout: int, k: int, act: str | None, act_name: str | None = None,
             top: str | None = None) -> str:
        top = top or name
        self.ops.append(Conv(name, bottom, top, self.channels[bottom], cout, k, k // 2))
        self.channels[top] = cout
        if act:
            self.ops.append(Act(act_name or f"relu_{name}", top, act, cout))
        return top

    def pool(self, name: str, bottom: str) -> str:
        self.ops.append(Pool(name, bottom, name))
        self.channels[name] = self.channels[bottom]
        return name

    def concat(self, name: str, bottoms: list[str]) -> str:
        self.ops.append(Concat(name, tuple(bottoms), name))
        self.channels[name] = sum(self.channels[b] for b in bottoms)
        return name


def _vgg(b: _Builder, last: str, act_from_4_2: str = "relu") -> str:
    """VGG-19 layers conv1_1 .. `last` (conv4_2 or conv4_4); pools after conv1_2, conv2_2, conv3_4."""
    x = "image"
    plan = [("conv1_1", 64), ("conv1_2", 64), ("pool1_stage1", 0), ("conv2_1", 128), ("conv2_2", 128),
            ("pool2_stage1", 0), ("conv3_1", 256), ("conv3_2", 256), ("conv3_3", 256), ("conv3_4", 256),
            ("pool3_stage1", 0), ("conv4_1", 512), ("conv4_2", 512), ("conv4_3", 512), ("conv4_4", 512)]
    for name, c in plan:
        if c == 0:
            x = b.pool(name, x)
            continue
        if name == "conv4_2" and act_from_4_2 == "prelu":
            x = b.conv(name, x, c, 3, "prelu", "prelu4_2")
        else:
            x = b.conv(name, x, c, 3, "relu", f"relu{name[4:]}")
        if name == last:
            return x
    return x


# ----------------------------------------------------------------------------------------- BODY_25
BODY_25_PAF_PAIRS = ((1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (8, 12),
                     (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (2, 17), (5, 18), (14, 19),
                     (19, 20), (14, 21), (11, 22), (22, 23), (11, 24))
#: PAF channel (x, y) of each pair above, within the 52 PAF channels (OpenPose's map index minus 26).
BODY_25_PAF_CHANNELS = ((0, 1), (14, 15), (22, 23), (16, 17), (18, 19), (24, 25), (26, 27), (6, 7), (2, 3), (4, 5),
                        (8, 9), (10, 11), (12, 13), (30, 31), (32, 33), (36, 37), (34, 35), (38, 39), (20, 21),
                        (28, 29), (40, 41), (42, 43), (44, 45), (46, 47), (48, 49), (50, 51))
COCO_PAF_PAIRS = ((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12),
                  (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17), (2, 16), (5, 17))
#: OpenPose's COCO map index minus 19 (the heat maps come first in the network output).
COCO_PAF_CHANNELS = ((12, 13), (20, 21), (14, 15), (16, 17), (22, 23), (24, 25), (0, 1), (2, 3), (4, 5), (6, 7),
                     (8, 9), (10, 11), (28, 29), (30, 31), (34, 35), (32, 33), (36, 37), (18, 19), (26, 27))


def _dense_stage(b: _Builder, x: str, stage: int, branch: str, width: int, mid: int, cout: int) -> str:
    for blk in range(1, 6):
        outs = []
        y = x
        for k in range(3):
            y = b.conv(f"Mconv{blk}_stage{stage}_{branch}_{k}", y, width, 3, "prelu", f"Mprelu{blk}_stage{stage}_{branch}_{k}")
            outs.append(y)
        x = b.concat(f"Mconv{blk}_stage{stage}_{branch}_concat", outs)
    x = b.conv(f"Mconv6_stage{stage}_{branch}", x, mid, 1, "prelu", f"Mprelu6_stage{stage}_{branch}")
    return b.conv(f"Mconv7_stage{stage}_{branch}", x, cout, 1, None)


def body25_architecture(paf_stages: int = 4, heatmap_stages: int = 2) -> Architecture:
    """BODY_25 as published (4 PAF stages, 2 heat-map stages); 26 heat maps + 52 PAFs at stride 8."""
    b = _Builder()
    x = _vgg(b, "conv4_2", act_from_4_2="prelu")
    x = b.conv("conv4_3_CPM", x, 256, 3, "prelu", "prelu4_3_CPM")
    feat = b.conv("conv4_4_CPM", x, 128, 3, "prelu", "prelu4_4_CPM")
    paf = _dense_stage(b, feat, 0, "L2", 96, 256, 52)
    for s in range(1, paf_stages):
        paf = _dense_stage(b, b.concat(f"concat_stage{s}_L2", [feat, paf]), s, "L2", 128, 512, 52)
    hm = _dense_stage(b, b.concat("concat_stage0_L1", [feat, paf]), 0, "L1", 96, 256, 26)
    for s in range(1, heatmap_stages):
        hm = _dense_stage(b, b.concat(f"concat_stage{s}_L1", [feat, hm, paf]), s, "L1", 128, 512, 26)
    return Architecture("body_25", tuple(b.ops), heatmaps=hm, pafs=paf, keypoints="BODY_25",
                        paf_pairs=BODY_25_PAF_PAIRS, paf_channels=BODY_25_PAF_CHANNELS, redundant_limbs=(18, 19))


def coco_architecture(stages: int = 6) -> Architecture:
    """COCO (pose_deploy_linevec) as published: 6 stages; 19 heat maps + 38 PAFs at stride 8."""
    b = _Builder()
    x = _vgg(b, "conv4_2")
    x = b.conv("conv4_3_CPM", x, 256, 3, "relu", "relu4_3_CPM")
    feat = b.conv("conv4_4_CPM", x, 128, 3, "relu", "relu4_4_CPM")
    outs = {}
    for br, n in (("L1", 38), ("L2", 19)):
        y = feat
        for k in range(1, 4):
            y = b.conv(f"conv5_{k}_CPM_{br}", y, 128, 3, "relu", f"relu5_{k}_CPM_{br}")
        y = b.conv(f"conv5_4_CPM_{br}", y, 512, 1, "relu", f"relu5_4_CPM_{br}")
        outs[br] = b.conv(f"conv5_5_CPM_{br}", y, n, 1, None)
    for s in range(2, stages + 1):
        cat = b.concat(f"concat_stage{s}", [outs["L1"], outs["L2"], feat])
        for br, n in (("L1", 38), ("L2", 19)):
            y = cat
            for k in range(1, 6):
                y = b.conv(f"Mconv{k}_stage{s}_{br}", y, 128, 7, "relu", f"Mrelu{k}_stage{s}_{br}")
            y = b.conv(f"Mconv6_stage{s}_{br}", y, 128, 1, "relu", f"Mrelu6_stage{s}_{br}")
            outs[br] = b.conv(f"Mconv7_stage{s}_{br}", y, n, 1, None)
    return Architecture("coco", tuple(b.ops), heatmaps=outs["L2"], pafs=outs["L1"], keypoints="COCO_18",
                        paf_pairs=COCO_PAF_PAIRS, paf_channels=COCO_PAF_CHANNELS, redundant_limbs=(17, 18))


def _cpm_architecture(name: str, n_maps: int, keypoints: str, stages: int = 6) -> Architecture:
    b = _Builder()
    x = _vgg(b, "conv4_4")
    x = b.conv("conv5_1", x, 512, 3, "relu", "relu5_1")
    x = b.conv("conv5_2", x, 512, 3, "relu", "relu5_2")
    feat = b.conv("conv5_3_CPM", x, 128, 3, "relu", "relu5_3_CPM")
    y = b.conv("conv6_1_CPM", feat, 512, 1, "relu", "relu6_1_CPM")
    out = b.conv("conv6_2_CPM", y, n_maps, 1, None)
    for s in range(2, stages + 1):
        y = b.concat(f"concat_stage{s}", [out, feat])
        for k in range(1, 6):
            y = b.conv(f"Mconv{k}_stage{s}", y, 128, 7, "relu", f"Mrelu{k}_stage{s}")
        y = b.conv(f"Mconv6_stage{s}", y, 128, 1, "relu", f"Mrelu6_stage{s}")
        out = b.conv(f"Mconv7_stage{s}", y, n_maps, 1, None)
    return Architecture(name, tuple(b.ops), heatmaps=out, pafs=None, keypoints=keypoints)


def hand_architecture() -> Architecture:
    """OpenPose hand network: 22 maps (HAND_21 + background) at stride 8, 6 stages."""
    return _cpm_architecture("hand", 22, "HAND_21")


def face_architecture() -> Architecture:
    """OpenPose face network: 71 maps (FACE_70 + background) at stride 8, 6 stages."""
    return _cpm_architecture("face", 71, "FACE_70")


ARCHITECTURES = {"body_25": body25_architecture, "coco": coco_architecture, "hand": hand_architecture,
                 "face": face_architecture}


def get_architecture(name: str) -> Architecture:
    """A built-in architecture by name; ValueError lists the names."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; built in: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]()
