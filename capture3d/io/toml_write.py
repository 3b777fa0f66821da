"""The one TOML writer (Python's tomllib only reads): values, keys and tables.

Every file capture3d writes in TOML (rigs, configs, boards, model cards, recording metadata) goes through
here, so that what is written loads back with ``tomllib`` to the same values: strings are escaped as TOML
basic strings, floats keep every digit (``repr``), NaN and infinities use TOML's spelling, numpy scalars
and arrays become plain TOML numbers and (nested) arrays.
"""
from __future__ import annotations

import math
import re
from typing import Mapping

import numpy as np

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _string(s: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    """A TOML key: bare when it only holds A-Z a-z 0-9 _ -, else a quoted string. TypeError for a non-str."""
    if not isinstance(key, str):
        raise TypeError(f"TOML keys are strings, found {type(key).__name__} {key!r}")
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def toml_value(v) -> str:
    """One TOML value as text: bool, int, float (NaN and infinities in TOML spelling), str, list/tuple or
    numpy scalar/array (any shape, as nested arrays). TypeError for other types (None, dict, ...)."""
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not math.isfinite(f):
            return "nan" if math.isnan(f) else ("inf" if f > 0 else "-inf")
        return repr(f)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, np.ndarray):
        return toml_value(v.tolist())
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML (expected bool, int, float, str, list or array)")


def toml_table(items: Mapping[str, object], name: str | None = None) -> str:
    """``[name]`` followed by one ``key = value`` line per item, in the mapping's order; name None writes
    bare top-level keys (no header). Items whose value is None are left out (TOML has no null); a nested
    mapping is a TypeError (write it as its own table). Tables of one document are joined with blank lines,
    top-level keys (name None) first."""
    lines = [] if name is None else ["[" + ".".join(toml_key(part) for part in name.split(".")) + "]"]
    for key, value in items.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            raise TypeError(f"TOML key {key!r}: nested tables are written with their own toml_table call")
        lines.append(f"{toml_key(key)} = {toml_value(value)}")
    return "\n".join(lines) + "\n"
