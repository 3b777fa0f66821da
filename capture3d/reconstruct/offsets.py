"""Per-camera time offsets of unsynchronized views: the offsets file and applying it to 2D keypoints.

Convention: camera v's offset o_v (frames, may be fractional) means that what camera 0 (the first
camera) shows at its frame t, camera v shows at its frame t + o_v. Aligning the views therefore samples
view v at t + o_v, linearly interpolating the 2D keypoints between frames at sub-frame offsets (the score
is the lower of the two; a joint missing in either frame, or a time outside the view's frames, is missing).

The file (written by ``capture3d sync``) is TOML::

    [offsets]            # camera name = offset in frames relative to the first camera
    cam01 = 0.0
    cam02 = 12.04
    [confidence]         # 0..1 per camera (1: one clear optimum; low: the motion did not decide)
    cam02 = 0.93
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from capture3d.errors import ConfigError
from capture3d.io.camera_match import name_key


def read_offsets(path: str | os.PathLike, names: list[str]) -> tuple[np.ndarray, dict]:
    """Offsets (V,) in frames for cameras ``names`` (matched exactly, else ignoring case and punctuation:
    cam01 is cam_01) and the file's other tables. ConfigError naming what is missing or wrong."""
    import tomllib

    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read the offsets file: {exc}") from None
    table = data.get("offsets")
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"{p}: expected an [offsets] table (camera name = offset in frames), found "
                          f"{sorted(data) or 'nothing'}")
    by_key = {name_key(k): v for k, v in table.items()}
    out = []
    for n in names:
        v = table.get(n, by_key.get(name_key(n)))
        if v is None:
            raise ConfigError(f"{p}: no offset for camera {n!r} (the file has {', '.join(table)})")
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v):
            raise ConfigError(f"{p}: the offset of camera {n!r} must be a number of frames, found {v!r}")
        out.append(float(v))
    return np.array(out), {k: v for k, v in data.items() if k != "offsets"}


def offsets_toml(names: list[str], offsets: np.ndarray, confidence: np.ndarray, info: dict) -> str:
    """The offsets file's text (see the module docstring); info: values of a [sync] table."""
    from capture3d.io.toml_write import toml_key, toml_value

    lines = ["# capture3d sync: camera v shows at its frame t + offset what the first camera shows at frame t",
             "[offsets]"]
    lines += [f"{toml_key(n)} = {round(float(o), 3)}" for n, o in zip(names, offsets)]
    lines += ["", "[confidence]"] + [f"{toml_key(n)} = {round(float(c), 3)}" for n, c in zip(names, confidence)]
    lines += ["", "[sync]"] + [f"{toml_key(k)} = {toml_value(v)}" for k, v in info.items()]
    return "\n".join(lines) + "\n"


def sample_view(kp: np.ndarray, shift: float) -> np.ndarray:
    """One view's keypoints (T, ..., 3) sampled at frames t + shift (linear interpolation; see the module
    docstring). Returns a new array of the same shape."""
    kp = np.asarray(kp, float)
    T = kp.shape[0]
    out = np.full(kp.shape, np.nan)
    out[..., 2] = 0.0
    t = np.arange(T) + float(shift)
    i0 = np.floor(t + 1e-9).astype(int)
    a = t - i0
    if abs(a[0]) < 1e-9 or abs(a[0] - 1) < 1e-9:  # whole frames: a plain shift
        i0 = np.round(t).astype(int)
        ok = (i0 >= 0) & (i0 < T)
        out[ok] = kp[i0[ok]]
        return out
    ok = (i0 >= 0) & (i0 + 1 < T)
    lo, hi = kp[i0[ok]], kp[i0[ok] + 1]
    if kp.ndim == 4 and kp.shape[1] > 1:  # several people: pair each with the nearest one a frame later
        hi = _match_people(lo, hi)
    w = a[ok].reshape((-1,) + (1,) * (kp.ndim - 1))
    xy = (1 - w) * lo[..., :2] + w * hi[..., :2]
    score = np.minimum(np.nan_to_num(lo[..., 2]), np.nan_to_num(hi[..., 2]))
    missing = ~(np.isfinite(xy).all(axis=-1)) | (score <= 0)
    xy[missing] = np.nan
    out[ok, ..., :2] = xy
    out[ok, ..., 2] = np.where(missing, 0.0, score)
    return out


def _match_people(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(T, P, J, 3) x2 -> hi with its people reordered to the nearest (mean joint distance) of lo's, greedily."""
    out = hi.copy()
    P = lo.shape[1]
    with np.errstate(invalid="ignore"):
        d = np.nanmean(np.linalg.norm(lo[:, :, None, :, :2] - hi[:, None, :, :, :2], axis=-1), axis=-1)
    d = np.where(np.isfinite(d), d, np.inf)  # (T, P, P)
    for t in range(lo.shape[0]):
        free = list(range(P))
        for p in np.argsort(d[t].min(axis=1)):
            q = min(free, key=lambda k: d[t, p, k])
            free.remove(q)
            out[t, p] = hi[t, q]
    return out


def apply_offsets(keypoints2d: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Align unsynchronized views: (V, T, ..., 3) -> the same shape with view v sampled at t + offsets[v]
    (frames of the first camera; never modifies its input)."""
    kp = np.asarray(keypoints2d, float)
    off = np.asarray(offsets, float).ravel()
    if off.shape != (kp.shape[0],):
        raise ValueError(f"expected one offset per view ({kp.shape[0]}), got {off.shape[0]}")
    return np.stack([sample_view(kp[v], off[v]) for v in range(kp.shape[0])])
