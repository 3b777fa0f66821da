"""Caffe files without Caffe: a protobuf text-format parser (``.prototxt``) and a minimal protobuf wire
decoder for ``.caffemodel`` weights (NetParameter -> {layer name: [blob arrays]}).

Only what OpenPose's models use is read: ``NetParameter.layer`` (field 100, LayerParameter: name 1,
type 2, blobs 7) and the legacy ``NetParameter.layers`` (field 2, V1LayerParameter: name 4, blobs 6);
``BlobProto``: shape 7 (BlobShape.dim 1), data 5 (float), double_data 8, legacy num/channels/height/width
1-4. Unknown fields are skipped by wire type, as protobuf does.
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np

# ------------------------------------------------------------------------------------ wire decoding
_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """The bytes are not a valid protobuf message."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise WireError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint longer than 10 bytes")


def iter_fields(buf: bytes):
    """Yield (field number, wire type, value) of a message: value is an int (varint), bytes (length-
    delimited) or raw little-endian bytes (fixed32/fixed64)."""
    pos, n = 0, len(buf)
    while pos < n:
        key, pos = _varint(buf, pos)
        field, wt = key >> 3, key & 7
        if wt == _VARINT:
            val, pos = _varint(buf, pos)
        elif wt == _LEN:
            ln, pos = _varint(buf, pos)
            if pos + ln > n:
                raise WireError(f"field {field}: length {ln} runs past the end of the message")
            val, pos = buf[pos:pos + ln], pos + ln
        elif wt == _FIXED32:
            val, pos = buf[pos:pos + 4], pos + 4
        elif wt == _FIXED64:
            val, pos = buf[pos:pos + 8], pos + 8
        else:
            raise WireError(f"field {field}: unsupported wire type {wt}")
        if pos > n:
            raise WireError("message truncated")
        yield field, wt, val


def _packed_varints(buf: bytes) -> list[int]:
    out, pos = [], 0
    while pos < len(buf):
        v, pos = _varint(buf, pos)
        out.append(v)
    return out


def decode_blob(buf: bytes) -> np.ndarray:
    """BlobProto -> float32 array with its shape (shape field, else legacy num/channels/height/width)."""
    dims: list[int] = []
    legacy = {}
    chunks: list[np.ndarray] = []
    for field, wt, val in iter_fields(buf):
        if field == 7 and wt == _LEN:  # BlobShape
            for f2, wt2, v2 in iter_fields(val):
                if f2 == 1:
                    dims.extend(_packed_varints(v2) if wt2 == _LEN else [v2])
        elif field == 5:  # float data, packed or not
            chunks.append(np.frombuffer(val, "<f4") if wt in (_LEN, _FIXED32) else np.zeros(0, "<f4"))
        elif field == 8:  # double data
            chunks.append(np.frombuffer(val, "<f8").astype(np.float32))
        elif field in (1, 2, 3, 4) and wt == _VARINT:
            legacy[field] = val
    data = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if not dims and legacy:
        dims = [legacy.get(k, 1) for k in (1, 2, 3, 4)]  # num, channels, height, width
    if dims and int(np.prod(dims)) != data.size:
        raise WireError(f"blob has shape {dims} but {data.size} values")
    return data.reshape(dims) if dims else data


def read_caffemodel(data: bytes) -> dict[str, list[np.ndarray]]:
    """Decode a .caffemodel (NetParameter) -> {layer name: [blobs]} for layers that have blobs."""
    out: dict[str, list[np.ndarray]] = {}
    for field, wt, val in iter_fields(data):
        if wt != _LEN or field not in (100, 2):
            continue
        name_f, blob_f = (1, 7) if field == 100 else (4, 6)
        name, blobs = None, []
        for f2, wt2, v2 in iter_fields(val):
            if f2 == name_f and wt2 == _LEN:
                name = v2.decode("utf-8")
            elif f2 == blob_f and wt2 == _LEN:
                blobs.append(decode_blob(v2))
        if name is not None and blobs:
            out[name] = blobs
    return out


# ------------------------------------------------------------------------------------ text format
_TOKEN = re.compile(r'\s*(?:(#[^\n]*)|("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|([{}:\[\],])|([^\s{}:\[\],"\'#]+))')


def _tokens(text: str):
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip():
                raise ValueError(f"prototxt: cannot parse near {text[pos:pos + 30]!r}")
            return
        pos = m.end()
        if m.group(1):
            continue
        if m.group(2):
            yield ("str", m.group(2)[1:-1])
        elif m.group(3):
            yield ("sym", m.group(3))
        elif m.group(4):
            yield ("word", m.group(4))


def _scalar(tok: tuple[str, str]) -> Any:
    kind, s = tok
    if kind == "str":
        return s
    for conv in (int, float):
        try:
            return conv(s)
        except ValueError:
            pass
    if s in ("true", "false"):
        return s == "true"
    return s  # enum name such as MAX


def parse_prototxt(text: str) -> dict[str, list]:
    """Parse protobuf text format into {field: [values]} (every field a list; messages are dicts)."""
    toks = list(_tokens(text))
    pos = 0

    def message(end: str | None) -> dict[str, list]:
        nonlocal pos
        msg: dict[str, list] = {}
        while pos < len(toks):
            tok = toks[pos]
            if tok == ("sym", "}"):
                if end != "}":
                    raise ValueError("prototxt: unbalanced '}'")
                pos += 1
                return msg
            if tok[0] != "word":
                raise ValueError(f"prototxt: expected a field name, found {tok[1]!r}")
            key = tok[1]
            pos += 1
            if pos < len(toks) and toks[pos] == ("sym", ":"):
                pos += 1
            if pos < len(toks) and toks[pos] == ("sym", "{"):
                pos += 1
                msg.setdefault(key, []).append(message("}"))
            elif pos < len(toks) and toks[pos] == ("sym", "["):
                pos += 1
                while toks[pos] != ("sym", "]"):
                    if toks[pos] != ("sym", ","):
                        msg.setdefault(key, []).append(_scalar(toks[pos]))
                    pos += 1
                pos += 1
            else:
                if pos >= len(toks):
                    raise ValueError(f"prototxt: field {key!r} has no value")
                msg.setdefault(key, []).append(_scalar(toks[pos]))
                pos += 1
        if end is not None:
            raise ValueError("prototxt: missing '}'")
        return msg

    return message(None)
