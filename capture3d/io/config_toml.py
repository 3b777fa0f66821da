"""TOML tables -> frozen dataclasses, checking types: the loader behind ``capture3d.config`` (bool, int,
float, str, tuple[...], Optional, dict and nested dataclass fields; an unknown key is a ConfigError that
lists the allowed ones)."""
from __future__ import annotations

import dataclasses
import math
import types
import typing

from capture3d.errors import ConfigError
from capture3d.io.toml_write import toml_value


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value, tp, where: str):
    """Check/convert a TOML value to the annotated type (bool, int, float, str, tuple[...], Optional,
    nested dataclass)."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, found {type(value).__name__}")
        return build_dataclass(tp, value, where)
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


def build_dataclass(cls, data: dict, where: str):
    hints = typing.get_type_hints(cls)
    allowed = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in allowed]
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(repr(k) for k in unknown)}; "
                          f"allowed keys: {', '.join(allowed)}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}" if where else k) for k, v in data.items()}
    return cls(**kwargs)


def config_to_toml(cfg, prefix: str = "") -> str:
    """Serialize a config dataclass to TOML (tables for nested dataclasses; None values are omitted)."""
    scalars, tables = [], []
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if dataclasses.is_dataclass(v):
            tables.append(config_to_toml(v, f"{prefix}{f.name}."))
        elif isinstance(v, dict):
            tables.append(f"[{prefix}{f.name}]\n" + "".join(f"{k} = {toml_value(x)}\n" for k, x in v.items()))
        elif v is not None:
            scalars.append(f"{f.name} = {toml_value(v)}")
    head = f"[{prefix[:-1]}]\n" if prefix and scalars else ""
    body = head + "\n".join(scalars) + ("\n" if scalars else "")
    return "\n".join([body] + tables) if tables else body
