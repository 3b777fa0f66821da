"""Configuration: TOML files -> frozen dataclasses whose defaults are the only defaults.

Every section is a frozen dataclass; ``load_config(path, AppConfig)`` fills it from TOML, checking
types, and an unknown key is an error that lists the allowed ones. ``config_to_toml`` writes the
resolved configuration back (saved beside every recording and result).

Sections add themselves by being fields of ``AppConfig`` (one dataclass per stage, kept small).
"""
from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError


@dataclass(frozen=True)
class SyntheticConfig:
    """The synthetic rig, subject and 2D detector-error model (demo, tests, benchmarks)."""

    cameras: int = 4
    frames: int = 600
    fps: float = 30.0
    seed: int = 0
    width: int = 1920
    height: int = 1080
    whole_body: bool = False
    noise_px: float = 2.0
    missing: float = 0.10
    outliers: float = 0.05
    swaps: float = 0.02

    def validate(self) -> None:
        if not 2 <= self.cameras <= 16:
            raise ConfigError(f"synthetic.cameras must be 2..16, found {self.cameras}")
        if self.frames < 1 or self.fps <= 0 or self.width < 16 or self.height < 16:
            raise ConfigError("synthetic.frames, fps, width and height must be positive "
                              f"(found {self.frames}, {self.fps}, {self.width}, {self.height})")
        for k in ("missing", "outliers", "swaps"):
            if not 0 <= getattr(self, k) <= 1:
                raise ConfigError(f"synthetic.{k} must be a probability in [0, 1], found {getattr(self, k)}")
        if self.noise_px < 0:
            raise ConfigError(f"synthetic.noise_px must be >= 0, found {self.noise_px}")


@dataclass(frozen=True)
class TriangulationConfig:
    """Robust triangulation settings (see capture3d.triangulate)."""

    robust: bool = True
    threshold_px: float = 15.0
    min_views: int = 2
    min_score: float = 0.05
    refine_iterations: int = 1

    def validate(self) -> None:
        if self.threshold_px <= 0:
            raise ConfigError(f"triangulation.threshold_px must be > 0, found {self.threshold_px}")
        if self.min_views < 2:
            raise ConfigError(f"triangulation.min_views must be >= 2, found {self.min_views}")
        if not 0 <= self.min_score < 1:
            raise ConfigError(f"triangulation.min_score must be in [0, 1), found {self.min_score}")
        if not 0 <= self.refine_iterations <= 10:
            raise ConfigError(f"triangulation.refine_iterations must be 0..10, found {self.refine_iterations}")


@dataclass(frozen=True)
class ExportConfig:
    """Which 3D files a run writes."""

    formats: tuple[str, ...] = ("csv", "json", "trc")


@dataclass(frozen=True)
class AppConfig:
    """The whole application configuration (one TOML file, one table per section)."""

    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    triangulation: TriangulationConfig = field(default_factory=TriangulationConfig)
    export: ExportConfig = field(default_factory=ExportConfig)

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            section = getattr(self, f.name)
            if hasattr(section, "validate"):
                section.validate()


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value, tp, where: str):
    """Check/convert a TOML value to the annotated type (bool, int, float, str, tuple[...], Optional,
    nested dataclass)."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, found {type(value).__name__}")
        return _build(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, found {value!r}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} values, found {len(value)}")
        return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, found {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, found {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{where}: expected a finite number, found {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, found {value!r}")
        return value
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, found {value!r}")
        return dict(value)
    raise ConfigError(f"{where}: unsupported setting type {_type_name(tp)}")


def _build(cls, data: dict, where: str):
    hints = typing.get_type_hints(cls)
    allowed = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in allowed]
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(repr(k) for k in unknown)}; "
                          f"allowed keys: {', '.join(allowed)}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}" if where else k) for k, v in data.items()}
    return cls(**kwargs)


def config_from_dict(data: dict, cls=AppConfig, where: str = ""):
    """Build and validate a config dataclass from a plain dict (e.g. parsed TOML)."""
    cfg = _build(cls, data, where or cls.__name__)
    if hasattr(cfg, "validate"):
        cfg.validate()
    return cfg


def load_config(path: str | os.PathLike, cls=AppConfig):
    """Load a TOML config file into ``cls``; missing keys take the dataclass defaults."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return config_from_dict(data, cls, str(path))


def _toml_scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_scalar(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def config_to_toml(cfg, prefix: str = "") -> str:
    """Serialize a config dataclass to TOML (tables for nested dataclasses; None values are omitted)."""
    scalars, tables = [], []
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if dataclasses.is_dataclass(v):
            tables.append(config_to_toml(v, f"{prefix}{f.name}."))
        elif v is not None and not isinstance(v, dict):
            scalars.append(f"{f.name} = {_toml_scalar(v)}")
    head = f"[{prefix[:-1]}]\n" if prefix and scalars else ""
    body = head + "\n".join(scalars) + ("\n" if scalars else "")
    return "\n".join([body] + tables) if tables else body
