"""ONNX networks of the ``rtmpose`` backend: a checked model card -> an onnxruntime session.

onnxruntime is imported lazily (the ``capture3d[rtmpose]`` extra). Execution providers are picked
automatically from what the installed onnxruntime offers, best first: TensorRT, CUDA, CPU
(``device="auto"``); ``device="cpu"`` / ``"cuda"`` / ``"tensorrt"`` asks for one (an unavailable one is an
error). Nothing is downloaded: the weights are the card's local file, checked by sha256 before loading.
"""
from __future__ import annotations

import logging
import os

import numpy as np

from capture3d.errors import DetectorError
from capture3d.detect.model_card import ModelCard, checked_weights, load_card, resolve_model_folder

log = logging.getLogger(__name__)

_PROVIDERS = {"tensorrt": "TensorrtExecutionProvider", "cuda": "CUDAExecutionProvider",
              "cpu": "CPUExecutionProvider"}


class InferenceFailed(DetectorError):
    """onnxruntime failed while running a batch (the frame's views get missing keypoints, the run goes on)."""


def _run_errors(ort) -> tuple[type, ...]:
    state = getattr(getattr(ort, "capi", None), "onnxruntime_pybind11_state", None)
    names = ("Fail", "InvalidArgument", "RuntimeException", "NotImplemented", "InvalidProtobuf", "EPFail")
    return (RuntimeError, ValueError, *(getattr(state, n) for n in names if hasattr(state, n)))


def import_onnxruntime():
    try:
        import onnxruntime  # noqa: PLC0415 (lazy: optional extra)
    except ImportError as exc:
        raise DetectorError(f"the rtmpose detector needs onnxruntime: pip install 'capture3d[rtmpose]' "
                            f"(or onnxruntime-gpu for CUDA / TensorRT): {exc}") from None
    return onnxruntime


def pick_providers(available: list[str], device: str = "auto") -> list[str]:
    """Execution providers for a device name, best first, always ending with the CPU one."""
    if device == "auto":
        return [p for p in _PROVIDERS.values() if p in available] or ["CPUExecutionProvider"]
    if device not in _PROVIDERS:
        raise DetectorError(f"rtmpose: device must be 'auto', {', '.join(map(repr, _PROVIDERS))}; found {device!r}")
    wanted = _PROVIDERS[device]
    if wanted not in available:
        raise DetectorError(f"rtmpose: device {device!r} needs onnxruntime's {wanted}, which this onnxruntime does "
                            f"not have (available: {', '.join(available)}); install onnxruntime-gpu or use "
                            f"device='cpu'")
    return list(dict.fromkeys([wanted, "CPUExecutionProvider"]))


class OnnxNet:
    """A card's network on onnxruntime: ``run(batch)`` -> list of outputs, in the model's output order.

    Batches larger than the model's fixed batch size (a model exported with batch 1) are run in chunks.
    """

    def __init__(self, model, models_dir=None, architectures: tuple[str, ...] = (), device: str = "auto",
                 threads: int = 0) -> None:
        self.card: ModelCard = load_card(resolve_model_folder(model, models_dir))
        if self.card.architecture not in architectures:
            raise DetectorError(f"model {self.card.name!r} is a {self.card.architecture} network; expected one "
                                f"of: {', '.join(architectures)}")
        path = checked_weights(self.card, hint=f"get it from: {self.card.source}; see models/README.md")
        ort = import_onnxruntime()
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        # no busy-waiting worker threads: the capture threads share the cores (measured on 2 loaded cores:
        # RTMPose-m-sized crops 103 vs 140 ms with spinning, batch 1)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            opts.intra_op_num_threads = int(threads)
        providers = pick_providers(ort.get_available_providers(), device)
        try:
            self.session = ort.InferenceSession(os.fspath(path), sess_options=opts, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types (Fail, InvalidGraph, ...)
            raise DetectorError(f"model {self.card.name!r}: {path} is not a loadable ONNX model: {exc}") from None
        self.providers = self.session.get_providers()
        self._errors = _run_errors(ort)
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            found = [(i.name, i.shape) for i in inputs]
            raise DetectorError(f"model {self.card.name!r}: expected one (N, 3, H, W) input, found {found}")
        self.input_name = inputs[0].name
        n, c, h, w = inputs[0].shape
        self.batch = n if isinstance(n, int) and n > 0 else 0  # 0: any batch size
        for axis, want, got in (("channels", 3, c), ("height", self.card.input_size[0], h),
                                ("width", self.card.input_size[1], w)):
            if isinstance(got, int) and got != want:
                raise DetectorError(f"model {self.card.name!r}: input {axis} is {got} in {path.name}, "
                                    f"but the card says {want}")
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.mean = np.asarray(self.card.mean, np.float32).reshape(1, 3, 1, 1)
        self.inv_std = (1.0 / np.asarray(self.card.std, np.float32)).reshape(1, 3, 1, 1)
        log.info("rtmpose: %s (%s) on %s", self.card.name, path.name, ", ".join(self.providers))

    def normalize(self, batch_bgr: np.ndarray) -> np.ndarray:
        """(B, H, W, 3) uint8 BGR -> (B, 3, H, W) float32: (pixel - mean) / std in the card's channel order."""
        x = batch_bgr.transpose(0, 3, 1, 2)
        if self.card.channel_order == "RGB":
            x = x[:, ::-1]
        return (x.astype(np.float32) - self.mean) * self.inv_std

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        """x: (B, 3, H, W) float32 -> the outputs, each with B first (chunked for fixed-batch models)."""
        if self.session is None:
            raise DetectorError(f"model {self.card.name!r}: the detector was closed")
        x = np.ascontiguousarray(x, np.float32)
        try:
            return self._run(x)
        except self._errors as exc:
            raise InferenceFailed(f"model {self.card.name!r} failed on a batch of {x.shape[0]}: {exc}") from None

    def _run(self, x: np.ndarray) -> list[np.ndarray]:
        if not self.batch or x.shape[0] == self.batch:
            return self.session.run(None, {self.input_name: x})
        n = x.shape[0]
        pad = -n % self.batch  # a fixed batch above 1: pad the last chunk, then drop the padding
        if pad:
            x = np.concatenate([x, np.zeros((pad, *x.shape[1:]), np.float32)])
        parts = [self.session.run(None, {self.input_name: x[i:i + self.batch]})
                 for i in range(0, x.shape[0], self.batch)]
        return [np.concatenate([p[k] for p in parts])[:n] for k in range(len(parts[0]))]
