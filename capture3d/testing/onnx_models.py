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
