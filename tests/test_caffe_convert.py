"""Caffe -> torch conversion without Caffe: a small network of OpenPose's layer types (3x3/1x1/7x7
convolutions, ReLU, PReLU, MAX pooling, dense-block concatenation), written as prototxt text and as a
caffemodel binary encoded here by hand (protobuf wire format), converted, loaded into capture3d's torch
network and compared with a direct numpy implementation of the Caffe layers."""
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from capture3d.detect import create_detector  # noqa: E402
from capture3d.detect.caffe_convert import architecture_from_prototxt, convert_caffe  # noqa: E402
from capture3d.detect.caffe_format import parse_prototxt, read_caffemodel  # noqa: E402
from capture3d.detect.openpose_arch import Act, Conv, get_architecture  # noqa: E402
from capture3d.detect.openpose_net import OpenPoseNet  # noqa: E402
from capture3d.errors import DetectorError  # noqa: E402

PROTOTXT = """
name: "tiny OpenPose-like"  # comment
input: "image"
input_dim: 1
input_dim: 3
input_dim: 16
input_dim: 16
layer { name: "conv1_1" type: "Convolution" bottom: "image" top: "conv1_1"
        convolution_param { num_output: 8 pad: 1 kernel_size: 3 } }
layer { name: "relu1_1" type: "ReLU" bottom: "conv1_1" top: "conv1_1" }
layer { name: "pool1_stage1" type: "Pooling" bottom: "conv1_1" top: "pool1_stage1"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "conv2_1" type: "Convolution" bottom: "pool1_stage1" top: "conv2_1"
        convolution_param { num_output: 6 pad: 1 kernel_size: 3 } }
layer { name: "prelu2_1" type: "PReLU" bottom: "conv2_1" top: "conv2_1" }
layer { name: "Mconv1_0" type: "Convolution" bottom: "conv2_1" top: "Mconv1_0"
        convolution_param { num_output: 4 pad: 1 kernel_size: 3 } }
layer { name: "Mprelu1_0" type: "PReLU" bottom: "Mconv1_0" top: "Mconv1_0" }
layer { name: "Mconv1_1" type: "Convolution" bottom: "Mconv1_0" top: "Mconv1_1"
        convolution_param { num_output: 4 pad: 1 kernel_size: 3 } }
layer { name: "Mprelu1_1" type: "PReLU" bottom: "Mconv1_1" top: "Mconv1_1" }
layer { name: "Mconv1_concat" type: "Concat" bottom: "Mconv1_0" bottom: "Mconv1_1" top: "Mconv1_concat"
        concat_param { axis: 1 } }
layer { name: "Mconv6" type: "Convolution" bottom: "Mconv1_concat" top: "Mconv6"
        convolution_param { num_output: 10 pad: 0 kernel_size: 1 } }
layer { name: "Mrelu6" type: "ReLU" bottom: "Mconv6" top: "Mconv6" }
layer { name: "Mconv7_paf" type: "Convolution" bottom: "Mconv6" top: "Mconv7_paf"
        convolution_param { num_output: 4 pad: 0 kernel_size: 1 } }
layer { name: "concat_stage1" type: "Concat" bottom: "conv2_1" bottom: "Mconv7_paf" top: "concat_stage1"
        concat_param { axis: 1 } }
layer { name: "Mconv1_stage1" type: "Convolution" bottom: "concat_stage1" top: "Mconv1_stage1"
        convolution_param { num_output: 5 pad: 3 kernel_size: 7 } }
"""


# ------------------------------------------------------------------ a minimal protobuf encoder (test only)
def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num, wt, payload):
    key = _varint((num << 3) | wt)
    if wt == 2:
        return key + _varint(len(payload)) + payload
    return key + payload


def _blob(arr, legacy=False):
    arr = np.asarray(arr, np.float32)
    if legacy:  # num / channels / height / width + non-packed floats
        dims = list(arr.shape) + [1] * (4 - arr.ndim) if arr.ndim > 1 else [1, 1, 1, arr.size]
        head = b"".join(_field(i + 1, 0, _varint(d)) for i, d in enumerate(dims))
        return head + b"".join(_field(5, 5, struct.pack("<f", v)) for v in arr.ravel())
    shape = _field(1, 2, b"".join(_varint(d) for d in arr.shape))
    return _field(7, 2, shape) + _field(5, 2, arr.astype("<f4").tobytes())


def _caffemodel(weights, legacy=False):
    out = [_field(1, 2, b"tiny")]
    for name, blobs in weights.items():
        if legacy:  # V1LayerParameter in NetParameter.layers (2): name 4, blobs 6
            body = _field(4, 2, name.encode()) + _field(5, 0, _varint(4)) + b"".join(_field(6, 2, _blob(b, True)) for b in blobs)
            out.append(_field(2, 2, body))
        else:  # LayerParameter in NetParameter.layer (100): name 1, type 2, blobs 7
            body = _field(1, 2, name.encode()) + _field(2, 2, b"Convolution") + b"".join(_field(7, 2, _blob(b)) for b in blobs)
            body += _field(3, 2, b"some_bottom") + _field(99, 5, b"\x00\x00\x80\x3f")  # fields a reader must skip
            out.append(_field(100, 2, body))
    return b"".join(out)


def _random_weights(arch, rng):
    w = {}
    for op in arch.ops:
        if isinstance(op, Conv):
            w[op.name] = [rng.normal(0, 0.3, (op.cout, op.cin, op.kernel, op.kernel)), rng.normal(0, 0.1, op.cout)]
        elif isinstance(op, Act) and op.kind == "prelu":
            w[op.name] = [rng.uniform(0.05, 0.5, op.channels)]
    return w


# ------------------------------------------------------------------ Caffe semantics in numpy (reference)
def _conv(x, w, b, pad):
    C, H, W = x.shape
    k = w.shape[-1]
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    Ho, Wo = H + 2 * pad - k + 1, W + 2 * pad - k + 1
    out = np.zeros((w.shape[0], Ho, Wo))
    for dy in range(k):
        for dx in range(k):
            out += np.einsum("oc,chw->ohw", w[:, :, dy, dx], xp[:, dy:dy + Ho, dx:dx + Wo])
    return out + b[:, None, None]


def _caffe_forward(text, weights, image):
    net = parse_prototxt(text)
    blobs = {"image": image.astype(np.float64)}
    for layer in net["layer"]:
        t, name = layer["type"][0], layer["name"][0]
        bottom, top = layer["bottom"], layer["top"][0]
        if t == "Convolution":
            p = layer["convolution_param"][0]
            blobs[top] = _conv(blobs[bottom[0]], weights[name][0], weights[name][1], p.get("pad", [0])[0])
        elif t == "ReLU":
            blobs[top] = np.maximum(blobs[top], 0)
        elif t == "PReLU":
            a = weights[name][0][:, None, None]
            blobs[top] = np.where(blobs[top] > 0, blobs[top], a * blobs[top])
        elif t == "Pooling":
            x = blobs[bottom[0]]
            C, H, W = x.shape
            blobs[top] = x.reshape(C, H // 2, 2, W // 2, 2).max(axis=(2, 4))
        elif t == "Concat":
            blobs[top] = np.concatenate([blobs[b] for b in bottom], axis=0)
    return blobs


def test_prototxt_parser_reads_nested_messages():
    net = parse_prototxt(PROTOTXT)
    assert net["input"] == ["image"] and net["input_dim"] == [1, 3, 16, 16]
    assert len(net["layer"]) == 15
    assert net["layer"][2]["pooling_param"][0]["pool"] == ["MAX"]
    assert net["layer"][9]["bottom"] == ["Mconv1_0", "Mconv1_1"]


@pytest.mark.parametrize("legacy", [False, True])
def test_converted_network_reproduces_the_caffe_outputs(tmp_path, legacy):
    rng = np.random.default_rng(21)
    arch = architecture_from_prototxt(PROTOTXT, heatmaps="Mconv1_stage1", pafs="Mconv7_paf")
    weights = _random_weights(arch, rng)
    (tmp_path / "tiny.prototxt").write_text(PROTOTXT)
    (tmp_path / "tiny.caffemodel").write_bytes(_caffemodel(weights, legacy))
    blobs = read_caffemodel((tmp_path / "tiny.caffemodel").read_bytes())
    for name, ws in weights.items():
        for got, exp in zip(blobs[name], ws):
            np.testing.assert_array_equal(got.reshape(exp.shape), np.float32(exp))
    arch2, state = convert_caffe(tmp_path / "tiny.prototxt", tmp_path / "tiny.caffemodel")
    net = OpenPoseNet(architecture_from_prototxt(PROTOTXT, heatmaps="Mconv1_stage1", pafs="Mconv7_paf"))
    net.load_state_dict(state, strict=True)
    image = rng.normal(0, 1, (3, 16, 16))
    with torch.inference_mode():
        hm, paf = net(torch.from_numpy(image[None]).float())
    ref = _caffe_forward(PROTOTXT, {k: [np.float32(a) for a in v] for k, v in weights.items()}, image)
    assert hm.shape == (1, 5, 8, 8) and paf.shape == (1, 4, 8, 8)
    scale = np.abs(ref["Mconv1_stage1"]).max()
    assert np.abs(hm[0].numpy() - ref["Mconv1_stage1"]).max() < 1e-5 * scale
    assert np.abs(paf[0].numpy() - ref["Mconv7_paf"]).max() < 1e-5 * np.abs(ref["Mconv7_paf"]).max()


def test_converter_errors(tmp_path):
    rng = np.random.default_rng(22)
    arch = architecture_from_prototxt(PROTOTXT)
    weights = _random_weights(arch, rng)
    (tmp_path / "tiny.prototxt").write_text(PROTOTXT)
    (tmp_path / "tiny.caffemodel").write_bytes(_caffemodel(weights))
    with pytest.raises(DetectorError, match="is not the body_25 network: .* parameter"):
        convert_caffe(tmp_path / "tiny.prototxt", tmp_path / "tiny.caffemodel", "body_25")
    del weights["Mconv6"]
    (tmp_path / "missing.caffemodel").write_bytes(_caffemodel(weights))
    with pytest.raises(DetectorError, match="no weights for layer 'Mconv6'"):
        convert_caffe(tmp_path / "tiny.prototxt", tmp_path / "missing.caffemodel")
    data = (tmp_path / "tiny.caffemodel").read_bytes()
    (tmp_path / "cut.caffemodel").write_bytes(data[: len(data) // 2])
    with pytest.raises(DetectorError, match="not a valid caffemodel"):
        convert_caffe(tmp_path / "tiny.prototxt", tmp_path / "cut.caffemodel")
    (tmp_path / "bad.prototxt").write_text(PROTOTXT.replace('type: "ReLU"', 'type: "Sigmoid"', 1))
    with pytest.raises(DetectorError, match="unsupported type 'Sigmoid'"):
        convert_caffe(tmp_path / "bad.prototxt", tmp_path / "tiny.caffemodel")


def _prototxt_of(arch):
    """Emit a Caffe prototxt for a built-in architecture (as OpenPose's files are laid out)."""
    from capture3d.detect.openpose_arch import Concat, Pool
    lines = ['input: "image"', "input_dim: 1", "input_dim: 3", "input_dim: 16", "input_dim: 16"]
    for op in arch.ops:
        if isinstance(op, Conv):
            lines.append(f'layer {{ name: "{op.name}" type: "Convolution" bottom: "{op.bottom}" top: "{op.top}" '
                         f"convolution_param {{ num_output: {op.cout} pad: {op.pad} kernel_size: {op.kernel} }} }}")
        elif isinstance(op, Act):
            t = "ReLU" if op.kind == "relu" else "PReLU"
            lines.append(f'layer {{ name: "{op.name}" type: "{t}" bottom: "{op.blob}" top: "{op.blob}" }}')
        elif isinstance(op, Pool):
            lines.append(f'layer {{ name: "{op.name}" type: "Pooling" bottom: "{op.bottom}" top: "{op.top}" '
                         "pooling_param { pool: MAX kernel_size: 2 stride: 2 } }")
        elif isinstance(op, Concat):
            bottoms = " ".join(f'bottom: "{b}"' for b in op.bottoms)
            lines.append(f'layer {{ name: "{op.name}" type: "Concat" {bottoms} top: "{op.top}" concat_param {{ axis: 1 }} }}')
    return "\n".join(lines)


@pytest.mark.slow
def test_convert_tool_full_body25_then_detector_loads_it(tmp_path):
    """tools/convert_caffe.py on a full-size BODY_25 caffemodel (random weights, ~105 MB), then the detector."""
    arch = get_architecture("body_25")
    rng = np.random.default_rng(23)
    weights = {k: [np.float32(a) for a in v] for k, v in _random_weights(arch, rng).items()}
    (tmp_path / "pose_deploy.prototxt").write_text(_prototxt_of(arch))
    (tmp_path / "pose_iter_1.caffemodel").write_bytes(_caffemodel(weights))
    out = tmp_path / "models" / "body_25"
    tool = Path(__file__).resolve().parents[1] / "tools" / "convert_caffe.py"
    r = subprocess.run([sys.executable, str(tool), "--prototxt", str(tmp_path / "pose_deploy.prototxt"),
                        "--caffemodel", str(tmp_path / "pose_iter_1.caffemodel"), "--arch", "body_25",
                        "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "26.17 M parameters" in r.stdout
    det = create_detector("openpose", models_dir=tmp_path / "models", device="cpu")
    sd = det.body.net.state_dict()
    np.testing.assert_array_equal(sd["layers.Mconv7_stage1_L1.weight"].numpy(), weights["Mconv7_stage1_L1"][0])
    np.testing.assert_array_equal(sd["acts.prelu4_2.weight"].numpy(), weights["prelu4_2"][0])
