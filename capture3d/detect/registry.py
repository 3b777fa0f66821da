"""Detector registry: backends chosen by name (config, CLI) -> ``create_detector(name, **options)``.

Backends are imported lazily, so naming one does not load torch, mediapipe or onnxruntime for the others.
"""
from __future__ import annotations

import importlib
import inspect
from typing import Callable

from capture3d.errors import DetectorError
from capture3d.detect.base import Detector

#: name -> "module:class" (module relative to capture3d.detect) or a factory registered at run time.
_BUILTIN = {
    "mediapipe": "mediapipe_backend:MediaPipeDetector",
    "openpose": "openpose_backend:OpenPoseDetector",
    "synthetic": "synthetic:SyntheticDetector",
    "openpose-json": "json_backend:OpenPoseJsonDetector",
    "rtmpose": "rtmpose_backend:RTMPoseDetector",
    "openpose-mobilenet": "openpose_dnn:OpenPoseDnnDetector",
}
_EXTRA: dict[str, Callable[..., Detector]] = {}

DEFAULT_DETECTOR = "mediapipe"

#: detector -> the keypoint sets it can output natively (its own landmarks, not converted from BODY_25)
NATIVE_SETS = {"mediapipe": ("MEDIAPIPE_33",)}


#: detectors that find hands and faces on request (hands=True, face=True)
PART_DETECTORS = ("mediapipe", "openpose", "synthetic")


def set_options(name: str, keypoint_set: str | None) -> dict:
    """The detector options an output keypoint set asks for: a whole-body set (hand / face joints) turns on
    the hands / face of the detectors that find them; a detector's native set keeps its own landmarks
    (``{"keypoint_set": "MEDIAPIPE_33"}`` for mediapipe). Options given explicitly go over these."""
    if keypoint_set is None:
        return {}
    if keypoint_set in NATIVE_SETS.get(name, ()):
        return {"keypoint_set": keypoint_set}
    out = {}
    if name in PART_DETECTORS:
        from capture3d.body.keypoint_sets import get_keypoint_set  # noqa: PLC0415
        try:
            names = get_keypoint_set(keypoint_set).names
        except KeyError:
            return {}
        if any(n.startswith(("LHand_", "RHand_")) for n in names):
            out["hands"] = True
        if any(n.startswith("Face_") for n in names):
            out["face"] = True
    return out


def detector_names() -> list[str]:
    """All registered detector names, built-in first."""
    return list(_BUILTIN) + [n for n in _EXTRA if n not in _BUILTIN]


def register_detector(name: str, factory: Callable[..., Detector]) -> None:
    """Add a backend: factory(**options) -> Detector. Replacing a built-in name is an error; registering a
    name again replaces its factory. ``unregister_detector(name)`` removes it."""
    if name in _BUILTIN:
        raise DetectorError(f"detector name {name!r} is built in; choose another name")
    _EXTRA[name] = factory


def unregister_detector(name: str) -> None:
    """Remove a backend added with register_detector. Built-in or unknown names are a DetectorError."""
    if name in _BUILTIN:
        raise DetectorError(f"detector name {name!r} is built in and cannot be removed")
    if name not in _EXTRA:
        raise DetectorError(f"detector {name!r} is not registered; registered at run time: "
                            f"{', '.join(_EXTRA) or 'none'}")
    del _EXTRA[name]


def _resolve(name: str) -> Callable[..., Detector]:
    if name in _EXTRA:
        return _EXTRA[name]
    if name not in _BUILTIN:
        raise DetectorError(f"unknown detector {name!r}; known detectors: {', '.join(detector_names())}")
    module, cls = _BUILTIN[name].split(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), cls)


def detector_options(name: str) -> list[str]:
    """The option names a detector's constructor accepts."""
    factory = _resolve(name)
    return [p for p in inspect.signature(factory).parameters if p not in ("self",)]


def create_detector(name: str = DEFAULT_DETECTOR, **options) -> Detector:
    """Create a detector by name. Unknown name or option -> DetectorError listing the valid ones."""
    factory = _resolve(name)
    params = inspect.signature(factory).parameters
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(options) - set(params))
        if unknown:
            raise DetectorError(f"detector {name!r}: unknown option(s) {', '.join(unknown)}; "
                                f"options: {', '.join(p for p in params if p != 'self')}")
    return factory(**options)
