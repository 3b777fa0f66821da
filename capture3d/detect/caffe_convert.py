"""Convert Caffe models (prototxt + caffemodel) to capture3d model folders (state_dict + model.toml).

The prototxt is read as a layer graph (Convolution, ReLU, PReLU, Pooling MAX, Concat; Input or
``input``/``input_dim``) and checked against the built-in architecture of the same name, so a
converted model can only load into the network it was made for. Weights are decoded from the
caffemodel with capture3d's own protobuf wire reader (no Caffe, no generated protobuf classes).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from capture3d.errors import DetectorError
from capture3d.io.atomic import atomic_write_text
from capture3d.detect.caffe_format import WireError, parse_prototxt, read_caffemodel
from capture3d.detect.model_card import card_toml, sha256_of
from capture3d.detect.openpose_arch import Act, Architecture, Concat, Conv, Pool, get_architecture


def _one(msg: dict, key: str, default=None):
    vals = msg.get(key)
    return vals[-1] if vals else default


def architecture_from_prototxt(text: str, name: str = "prototxt", heatmaps: str | None = None,
                               pafs: str | None = None, keypoints: str = "") -> Architecture:
    """Read a prototxt into an Architecture. heatmaps / pafs: output blob names (default: the top of
    the last convolution as heatmaps, no PAFs)."""
    try:
        net = parse_prototxt(text)
    except ValueError as exc:
        raise DetectorError(f"prototxt: {exc}") from None
    if "layers" in net and "layer" not in net:
        raise DetectorError("prototxt uses the legacy 'layers' (V1) format; upgrade it with Caffe's upgrade_net_proto_text")
    channels: dict[str, int] = {}
    input_blob = _one(net, "input")
    if input_blob is not None:
        dims = net.get("input_dim") or (_one(net, "input_shape", {}) or {}).get("dim", [])
        channels[input_blob] = int(dims[1]) if len(dims) > 1 else 3
    ops: list = []
    last_conv_top = None
    for layer in net.get("layer", []):
        lname, ltype = _one(layer, "name"), _one(layer, "type")
        bottoms, tops = layer.get("bottom", []), layer.get("top", [])
        if ltype == "Input":
            shape = _one(_one(layer, "input_param", {}), "shape", {})
            dims = shape.get("dim", [1, 3])
            input_blob = tops[0]
            channels[input_blob] = int(dims[1])
            continue
        missing = [b for b in bottoms if b not in channels]
        if missing:
            raise DetectorError(f"prototxt layer {lname!r}: unknown input blob(s) {missing}")
        if ltype == "Convolution":
            p = _one(layer, "convolution_param", {})
            k = int(_one(p, "kernel_size", 1))
            op = Conv(lname, bottoms[0], tops[0], channels[bottoms[0]], int(_one(p, "num_output")), k,
                      int(_one(p, "pad", 0)), int(_one(p, "stride", 1)), int(_one(p, "dilation", 1)),
                      bool(_one(p, "bias_term", True)))
            if int(_one(p, "group", 1)) != 1:
                raise DetectorError(f"prototxt layer {lname!r}: grouped convolutions are not supported")
            ops.append(op)
            channels[tops[0]] = op.cout
            last_conv_top = tops[0]
        elif ltype in ("ReLU", "PReLU"):
            if bottoms[0] != tops[0]:
                raise DetectorError(f"prototxt layer {lname!r}: only in-place activations are supported")
            if ltype == "ReLU" and float(_one(_one(layer, "relu_param", {}), "negative_slope", 0.0)) != 0.0:
                raise DetectorError(f"prototxt layer {lname!r}: leaky ReLU is not supported")
            ops.append(Act(lname, tops[0], "relu" if ltype == "ReLU" else "prelu", channels[tops[0]]))
        elif ltype == "Pooling":
            p = _one(layer, "pooling_param", {})
            if _one(p, "pool", "MAX") != "MAX":
                raise DetectorError(f"prototxt layer {lname!r}: only MAX pooling is supported")
            ops.append(Pool(lname, bottoms[0], tops[0], int(_one(p, "kernel_size", 2)), int(_one(p, "stride", 2))))
            channels[tops[0]] = channels[bottoms[0]]
        elif ltype == "Concat":
            axis = int(_one(_one(layer, "concat_param", {}), "axis", 1))
            if axis != 1:
                raise DetectorError(f"prototxt layer {lname!r}: only channel concatenation (axis 1) is supported")
            ops.append(Concat(lname, tuple(bottoms), tops[0]))
            channels[tops[0]] = sum(channels[b] for b in bottoms)
        else:
            raise DetectorError(f"prototxt layer {lname!r}: unsupported type {ltype!r} "
                                f"(supported: Convolution, ReLU, PReLU, Pooling, Concat, Input)")
    if input_blob is None or last_conv_top is None:
        raise DetectorError("prototxt: expected an input blob and at least one Convolution layer")
    for blob in (heatmaps, pafs):
        if blob is not None and blob not in channels:
            raise DetectorError(f"prototxt: output blob {blob!r} not found")
    return Architecture(name, tuple(ops), heatmaps=heatmaps or last_conv_top, pafs=pafs, keypoints=keypoints,
                        input_blob=input_blob)


def state_dict_from_blobs(arch: Architecture, blobs: dict[str, list[np.ndarray]]) -> dict:
    """Caffe blobs {layer: [weight, bias]} -> {param name: torch tensor} for arch. Imports torch."""
    import torch  # noqa: PLC0415
    out = {}
    shapes = arch.param_shapes()
    for key, shape in shapes.items():
        kind, layer, what = key.split(".")
        if layer not in blobs:
            raise DetectorError(f"caffemodel has no weights for layer {layer!r} (expected {key} {shape})")
        i = 0 if what == "weight" else 1
        if i >= len(blobs[layer]):
            raise DetectorError(f"caffemodel layer {layer!r} has {len(blobs[layer])} blob(s), expected a {what}")
        arr = blobs[layer][i]
        if arr.size != int(np.prod(shape)):
            raise DetectorError(f"caffemodel layer {layer!r} {what}: expected {shape} "
                                f"({int(np.prod(shape))} values), found {arr.shape} ({arr.size} values)")
        out[key] = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32).reshape(shape))
    return out


def compare_architectures(found: Architecture, expected: Architecture) -> list[str]:
    """Parameter-shape differences between a prototxt's graph and a built-in architecture."""
    a, b = found.param_shapes(), expected.param_shapes()
    diffs = [f"{k}: prototxt {a.get(k)}, built-in {b.get(k)}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return diffs


def convert_caffe(prototxt: str | os.PathLike, caffemodel: str | os.PathLike, architecture: str | None = None):
    """Read a Caffe model -> (Architecture, state_dict). With architecture (a built-in name), the prototxt
    must have exactly that network's parameters (else DetectorError listing the differences)."""
    text = Path(prototxt).read_text(encoding="utf-8")
    found = architecture_from_prototxt(text)
    arch = found
    if architecture is not None:
        try:
            arch = get_architecture(architecture)
        except ValueError as exc:
            raise DetectorError(str(exc)) from None
        diffs = compare_architectures(found, arch)
        if diffs:
            raise DetectorError(f"{prototxt} is not the {architecture} network: {len(diffs)} parameter(s) differ, "
                                f"e.g. {'; '.join(diffs[:4])}")
    try:
        blobs = read_caffemodel(Path(caffemodel).read_bytes())
    except WireError as exc:
        raise DetectorError(f"{caffemodel}: not a valid caffemodel (protobuf): {exc}") from None
    return arch, state_dict_from_blobs(arch, blobs)


_DEFAULTS = {
    "body_25": dict(keypoints="BODY_25", input_size=[368, -1]),
    "coco": dict(keypoints="COCO_18", input_size=[368, -1]),
    "hand": dict(keypoints="HAND_21", input_size=[368, 368]),
    "face": dict(keypoints="FACE_70", input_size=[368, 368]),
}


def save_model(folder: str | os.PathLike, architecture: str, state: dict, name: str | None = None,
               weights: str | None = None, source: str = "", licence: str = "",
               mean=(128.0, 128.0, 128.0), std=(256.0, 256.0, 256.0)) -> Path:
    """Write ``folder/<weights>`` (torch.save of the state_dict) and ``folder/model.toml`` with its sha256.
    Returns the card path. Imports torch."""
    import torch  # noqa: PLC0415
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = name or folder.name
    weights = weights or f"{name}.pt"
    torch.save(state, folder / weights)
    d = _DEFAULTS[architecture]
    card = {"name": name, "architecture": architecture, "keypoints": d["keypoints"], "input_size": d["input_size"],
            "stride": 8, "mean": list(mean), "std": list(std), "channel_order": "BGR", "weights": weights,
            "sha256": sha256_of(folder / weights), "source": source, "licence": licence}
    return atomic_write_text(folder / "model.toml", card_toml(card))
