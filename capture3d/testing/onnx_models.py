"""Small ONNX models with the input and output signatures of the real RTMPose / RTMO / YOLOX exports, whose
outputs are known exactly (for tests), and an RTMPose-m-sized network with random weights (for benchmarks).

Needs the ``onnx`` package (test extra). Every writer returns the path written and, with ``card``, writes
the model card beside it (sha256 filled in), so ``create_detector("rtmpose", model=folder)`` loads it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from capture3d.detect.model_card import card_toml, sha256_of

OPSET = 13
RTM_MEAN, RTM_STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


def _input(hw, batch):
    return helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch or "N", 3, hw[0], hw[1]])


def _out(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def _const(name, arr, dtype=np.float32):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(arr, dtype), name))


def _batch_shape(nodes, tail, name):
    """Nodes making the int64 shape [N, *tail] (N: the input's batch) as tensor ``name``."""
    nodes += [helper.make_node("Shape", ["input"], [name + "_s"]),
              _const(name + "_0", [0], np.int64), _const(name + "_1", [1], np.int64),
              helper.make_node("Slice", [name + "_s", name + "_0", name + "_1"], [name + "_n"]),
              _const(name + "_t", list(tail), np.int64),
              helper.make_node("Concat", [name + "_n", name + "_t"], [name], axis=0)]


def _save(nodes, inputs, outputs, path, initializers=()) -> Path:
    graph = helper.make_graph(nodes, "capture3d_test", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def _broadcast(nodes, const_name, arr, out_name, tail):
    nodes.append(_const(const_name, np.asarray(arr, np.float32)[None]))
    _batch_shape(nodes, tail, out_name + "_shape")
    nodes.append(helper.make_node("Expand", [const_name, out_name + "_shape"], [out_name]))


def constant_simcc_model(path, simcc_x: np.ndarray, simcc_y: np.ndarray, hw=(256, 192), batch=None) -> Path:
    """RTMPose signature; every crop gets the same simcc_x (K, Wx) and simcc_y (K, Wy)."""
    K = simcc_x.shape[0]
    nodes: list = []
    _broadcast(nodes, "cx", simcc_x, "simcc_x", simcc_x.shape)
    _broadcast(nodes, "cy", simcc_y, "simcc_y", simcc_y.shape)
    n = batch or "N"
    return _save(nodes, [_input(hw, batch)], [_out("simcc_x", [n, K, simcc_x.shape[1]]),
                                              _out("simcc_y", [n, K, simcc_y.shape[1]])], path)


def _profile(nodes, axis_reduced, name, n_keypoints, ratio):
    """simcc of every keypoint = channel 0 of the input, max over one axis, each value repeated ratio times."""
    nodes += [helper.make_node("ReduceMax", ["ch0"], [name + "_p"], axes=[axis_reduced], keepdims=0),  # (N, L)
              _const(name + "_ax", [2], np.int64),
              helper.make_node("Unsqueeze", [name + "_p", name + "_ax"], [name + "_u"]),  # (N, L, 1)
              helper.make_node("Concat", [name + "_u"] * ratio, [name + "_r"], axis=2),  # (N, L, ratio)
              _const(name + "_flat", [0, 1, -1], np.int64)]
    # (N, L, ratio) -> (N, 1, L * ratio): bins [v0, v0, v1, v1, ...]; the first maximum is bin ratio * i
    nodes.append(helper.make_node("Reshape", [name + "_r", name + "_flat"], [name + "_1"]))


def dot_simcc_model(path, n_keypoints: int, hw=(256, 192), ratio: int = 2, batch=None) -> Path:
    """RTMPose signature computed from the crop: every keypoint is at the brightest pixel of input channel 0
    (the first maximum along x and along y), scored by that normalised value."""
    H, W = hw
    nodes = [_const("c0", [0], np.int64), helper.make_node("Gather", ["input", "c0"], ["ch0g"], axis=1),
             helper.make_node("Squeeze", ["ch0g", "c0_1"], ["ch0"])]  # (N, H, W)
    nodes.insert(1, _const("c0_1", [1], np.int64))
    _profile(nodes, 1, "px", n_keypoints, ratio)
    _profile(nodes, 2, "py", n_keypoints, ratio)
    _batch_shape(nodes, [n_keypoints, W * ratio], "sx_shape")
    _batch_shape(nodes, [n_keypoints, H * ratio], "sy_shape")
    nodes += [helper.make_node("Expand", ["px_1", "sx_shape"], ["simcc_x"]),
              helper.make_node("Expand", ["py_1", "sy_shape"], ["simcc_y"])]
    n = batch or "N"
    return _save(nodes, [_input(hw, batch)], [_out("simcc_x", [n, n_keypoints, W * ratio]),
                                              _out("simcc_y", [n, n_keypoints, H * ratio])], path)


def constant_person_model(path, dets: np.ndarray, labels: np.ndarray | None = None, hw=(640, 640), batch=None) -> Path:
    """YOLOX / RTMDet (MMDeploy, NMS inside) signature: every image gets dets (D, 5) [and labels (D,)]."""
    D = dets.shape[0]
    nodes: list = []
    _broadcast(nodes, "cd", dets, "dets", dets.shape)
    outputs = [_out("dets", [batch or "N", D, 5])]
    if labels is not None:
        _broadcast(nodes, "cl", np.asarray(labels, np.float32), "labels_f", (D,))
        nodes.append(helper.make_node("Cast", ["labels_f"], ["labels"], to=TensorProto.INT64))
        outputs.append(helper.make_tensor_value_info("labels", TensorProto.INT64, [batch or "N", D]))
    return _save(nodes, [_input(hw, batch)], outputs, path)


def _extent(nodes, name, reduce_axis, length):
    """First and last index (float, (N, 1)) where channel 2 of the input is above 127, along one axis."""
    nodes += [helper.make_node("ReduceMax", ["bright"], [name + "_m"], axes=[reduce_axis], keepdims=0),  # (N, L)
              helper.make_node("ArgMax", [name + "_m"], [name + "_first"], axis=1, keepdims=1),
              _const(name + "_st", [-1], np.int64), _const(name + "_en", [-length - 1], np.int64),
              _const(name + "_ax", [1], np.int64), _const(name + "_step", [-1], np.int64),
              helper.make_node("Slice", [name + "_m", name + "_st", name + "_en", name + "_ax", name + "_step"],
                               [name + "_rev"]),
              helper.make_node("ArgMax", [name + "_rev"], [name + "_lastr"], axis=1, keepdims=1),
              helper.make_node("Cast", [name + "_first"], [name + "_lo"], to=TensorProto.FLOAT),
              helper.make_node("Cast", [name + "_lastr"], [name + "_lr"], to=TensorProto.FLOAT),
              _const(name + "_L", [float(length - 1)]),
              helper.make_node("Sub", [name + "_L", name + "_lr"], [name + "_hi"])]


def extent_person_model(path, hw=(640, 640), margin: float = 10.0) -> Path:
    """YOLOX signature computed from the letterboxed input (mean 0, std 1, BGR): one box per image around the
    pixels whose red channel is above 127, enlarged by margin px, score 1 (no bright pixel: the whole input)."""
    H, W = hw
    nodes = [_const("c2", 2, np.int64), helper.make_node("Gather", ["input", "c2"], ["red"], axis=1),  # (N, H, W)
             _const("thr", [127.0]), helper.make_node("Greater", ["red", "thr"], ["bright_b"]),
             helper.make_node("Cast", ["bright_b"], ["bright"], to=TensorProto.FLOAT)]
    _extent(nodes, "x", 1, W)
    _extent(nodes, "y", 2, H)
    nodes += [_const("margin", [margin]), helper.make_node("Sub", ["x_lo", "margin"], ["x1"]),
              helper.make_node("Sub", ["y_lo", "margin"], ["y1"]), helper.make_node("Add", ["x_hi", "margin"], ["x2"]),
              helper.make_node("Add", ["y_hi", "margin"], ["y2"]),
              helper.make_node("Sub", ["x_lo", "x_lo"], ["zero"]), _const("one", [1.0]),
              helper.make_node("Add", ["zero", "one"], ["score"]),
              helper.make_node("Concat", ["x1", "y1", "x2", "y2", "score"], ["box"], axis=1),  # (N, 5)
              _const("ax1", [1], np.int64), helper.make_node("Unsqueeze", ["box", "ax1"], ["dets"])]
    return _save(nodes, [_input(hw, None)], [_out("dets", ["N", 1, 5])], path)


def constant_rtmo_model(path, dets: np.ndarray, keypoints: np.ndarray, hw=(640, 640), batch=None) -> Path:
    """RTMO signature: every image gets dets (D, 5) and keypoints (D, K, 3) in input px."""
    nodes: list = []
    _broadcast(nodes, "cd", dets, "dets", dets.shape)
    _broadcast(nodes, "ck", keypoints, "keypoints", keypoints.shape)
    n = batch or "N"
    return _save(nodes, [_input(hw, batch)], [_out("dets", [n, *dets.shape]), _out("keypoints", [n, *keypoints.shape])],
                 path)


def write_card(folder, architecture: str, weights: str, keypoints: str = "COCO_17", input_size=(256, 192),
               mean=RTM_MEAN, std=RTM_STD, channel_order: str = "RGB", **extra) -> Path:
    """model.toml for the ONNX file ``folder/weights`` (its sha256 filled in); extra: architecture keys."""
    folder = Path(folder)
    card = {"name": folder.name, "architecture": architecture, "keypoints": keypoints,
            "input_size": list(input_size), "mean": list(mean), "std": list(std), "channel_order": channel_order,
            "weights": weights, "sha256": sha256_of(folder / weights), "source": "generated by capture3d tests",
            "licence": "test data", "simcc_split_ratio": 2.0, "box_padding": 1.25, "pad_value": 114, **extra}
    path = folder / "model.toml"
    path.write_text(card_toml(card), encoding="utf-8")
    return path


class _Builder:
    """Nodes + random initializers of a conv net, counting parameters and multiply-adds."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.params, self.macs, self.n = [], [], 0, 0, 0

    def _name(self, kind):
        self.n += 1
        return f"{kind}{self.n}"

    def weight(self, shape, fan_in):
        name = self._name("w")
        w = (self.rng.standard_normal(shape) * np.sqrt(1.0 / fan_in)).astype(np.float32)
        self.inits.append(numpy_helper.from_array(w, name))
        self.params += w.size
        return name

    def conv(self, x, cin, cout, hw, k=3, stride=1, groups=1, act=True):
        """x: (N, cin, H, W) -> (N, cout, H / stride, W / stride); hw: the OUTPUT size."""
        w = self.weight((cout, cin // groups, k, k), cin // groups * k * k)
        b = self.weight((cout,), 1e6)
        y = self._name("conv")
        self.nodes.append(helper.make_node("Conv", [x, w, b], [y], kernel_shape=[k, k], strides=[stride, stride],
                                           pads=[k // 2] * 4, group=groups))
        self.macs += hw[0] * hw[1] * cout * (cin // groups) * k * k
        return self.silu(y) if act else y

    def silu(self, x):
        s, y = self._name("sig"), self._name("silu")
        self.nodes += [helper.make_node("Sigmoid", [x], [s]), helper.make_node("Mul", [x, s], [y])]
        return y

    def op(self, kind, inputs, **attrs):
        y = self._name(kind.lower())
        self.nodes.append(helper.make_node(kind, list(inputs), [y], **attrs))
        return y

    def matmul(self, x, n_tokens, cin, cout):
        self.macs += n_tokens * cin * cout
        return self.op("MatMul", [x, self.weight((cin, cout), cin)])


def _csp_stage(g, x, cin, cout, hw, blocks, residual=True):
    """CSPNeXt-like stage: 3x3 stride-2 conv, split into two 1x1 branches, blocks of (3x3 conv + depthwise
    5x5 + 1x1) on one, concatenated and mixed by a 1x1 conv."""
    x = g.conv(x, cin, cout, hw, 3, 2)
    half = cout // 2
    main, short = g.conv(x, cout, half, hw, 1), g.conv(x, cout, half, hw, 1)
    for _ in range(blocks):
        y = g.conv(main, half, half, hw, 3)
        y = g.conv(y, half, half, hw, 5, groups=half)
        y = g.conv(y, half, half, hw, 1)
        main = g.op("Add", [main, y]) if residual else y
    return g.conv(g.op("Concat", [main, short], axis=1), cout, cout, hw, 1)


def rtmpose_m_like_model(path, n_keypoints: int = 17, seed: int = 0) -> tuple[Path, dict]:
    """An RTMPose-m-sized network with random weights (timing only): CSPNeXt-m-like backbone (widen 0.75,
    deepen 0.67: channels 48-768, 2/4/4/2 blocks) and an RTMCC-like head (7x7 conv to K maps, 48 -> 256
    token MLP, one gated attention unit over the K tokens, 256 -> 384 / 512 SimCC classifiers), input
    (N, 3, 256, 192) -> simcc_x (N, K, 384), simcc_y (N, K, 512). Returns (path, {"params", "macs"})."""
    g, K = _Builder(seed), n_keypoints
    x = g.conv("input", 3, 24, (128, 96), 3, 2)
    x = g.conv(x, 24, 24, (128, 96))
    x = g.conv(x, 24, 48, (128, 96))
    for cin, cout, hw, blocks in ((48, 96, (64, 48), 2), (96, 192, (32, 24), 4), (192, 384, (16, 12), 4)):
        x = _csp_stage(g, x, cin, cout, hw, blocks)
    x = _csp_stage(g, x, 384, 768, (8, 6), 2, residual=False)
    maps = g.conv(x, 768, K, (8, 6), 7, act=False)                       # (N, K, 8, 6)
    tokens = g.op("Reshape", [maps, _init(g, "flat", [0, K, 48])])       # (N, K, 48)
    t = g.matmul(tokens, K, 48, 256)                                     # (N, K, 256)
    uvb = g.silu(g.matmul(t, K, 256, 2 * 512 + 128))
    u, v, base = (g.op("Slice", [uvb, _init(g, "s", [a]), _init(g, "e", [b]), _init(g, "ax", [2])])
                  for a, b in ((0, 512), (512, 1024), (1024, 1152)))
    kT = g.op("Transpose", [base], perm=[0, 2, 1])
    attn = g.op("MatMul", [base, kT])                                    # (N, K, K)
    g.macs += K * K * 128 + K * K * 512
    attn = g.op("Relu", [g.op("Mul", [attn, _init(g, "scale", [1.0 / np.sqrt(128)], np.float32)])])
    attn = g.op("Mul", [attn, attn])
    t = g.op("Add", [t, g.matmul(g.op("Mul", [u, g.op("MatMul", [attn, v])]), K, 512, 256)])
    g.nodes += [helper.make_node("MatMul", [t, g.weight((256, 384), 256)], ["simcc_x"]),
                helper.make_node("MatMul", [t, g.weight((256, 512), 256)], ["simcc_y"])]
    g.macs += K * 256 * (384 + 512)
    path = _save(g.nodes, [_input((256, 192), None)], [_out("simcc_x", ["N", K, 384]), _out("simcc_y", ["N", K, 512])],
                 path, g.inits)
    return path, {"params": g.params, "macs": g.macs}


def _init(g: _Builder, kind: str, values, dtype=np.int64) -> str:
    name = g._name(kind)
    g.inits.append(numpy_helper.from_array(np.asarray(values, dtype), name))
    return name
