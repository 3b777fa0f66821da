"""Model folders: ``models/<name>/model.toml`` (the card) + a torch state_dict file, checked before use.

Card keys (TOML):

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

Loading checks, each failure a DetectorError saying what was expected and found: the card exists and
has every key with the right type; the weights file exists; its sha256 matches; ``torch.load`` with
``weights_only=True`` succeeds; the state_dict has exactly the architecture's parameters and shapes.
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

_KEYS = {"name": str, "architecture": str, "keypoints": str, "input_size": list, "stride": int, "mean": list,
         "std": list, "channel_order": str, "weights": str, "sha256": str, "source": str, "licence": str}


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
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise DetectorError(f"{path}: unknown key(s) {', '.join(unknown)}; keys: {', '.join(_KEYS)}")
    for key, typ in _KEYS.items():
        if key not in data:
            raise DetectorError(f"{path}: missing key {key!r} (expected {typ.__name__})")
        if not isinstance(data[key], typ):
            raise DetectorError(f"{path}: {key} must be a {typ.__name__}, found {type(data[key]).__name__}")
    if data["architecture"] not in ARCHITECTURES:
        raise DetectorError(f"{path}: unknown architecture {data['architecture']!r}; built in: {', '.join(ARCHITECTURES)}")
    if len(data["input_size"]) != 2 or len(data["mean"]) != 3 or len(data["std"]) != 3:
        raise DetectorError(f"{path}: expected input_size = [H, W], mean and std of 3 values")
    if data["channel_order"] not in ("BGR", "RGB"):
        raise DetectorError(f"{path}: channel_order must be 'BGR' or 'RGB', found {data['channel_order']!r}")
    return ModelCard(folder, data["name"], data["architecture"], data["keypoints"],
                     (int(data["input_size"][0]), int(data["input_size"][1])), data["stride"],
                     tuple(float(v) for v in data["mean"]), tuple(float(v) for v in data["std"]),
                     data["channel_order"], data["weights"], data["sha256"].lower(), data["source"], data["licence"])


def sha256_of(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_state_dict(card: ModelCard) -> dict:
    """Checked weights of a card (see the module docstring). Imports torch."""
    import pickle  # noqa: PLC0415
    import zipfile  # noqa: PLC0415

    import torch  # noqa: PLC0415

    from capture3d.detect.openpose_net import check_state_dict  # noqa: PLC0415

    path = card.weights_path
    if not path.is_file():
        raise DetectorError(f"model {card.name!r}: weights file not found: {path} (see models/README.md to get "
                            f"and convert the official weights)")
    found = sha256_of(path)
    if not card.sha256:
        raise DetectorError(f"model {card.name!r}: {card.folder / 'model.toml'} has no sha256 for {path.name}; "
                            f"convert the weights with tools/convert_caffe.py, which fills it in")
    if found != card.sha256:
        raise DetectorError(f"model {card.name!r}: checksum mismatch for {path}: expected sha256 {card.sha256}, "
                            f"found {found} (corrupt or different file)")
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
    return toml_table({key: card[key] for key in _KEYS})
