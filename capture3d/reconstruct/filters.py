"""Temporal filters for 3D keypoint sequences, all NaN-aware.

Live (causal, one frame set at a time, state kept between calls):
- ``ConstantVelocityKalman``: a constant-velocity Kalman filter per joint coordinate (no lag on steady
  motion), vectorized over joints, gating outliers by the innovation.
- ``OneEuroFilter``: the 1-euro filter per coordinate (an adaptive low-pass whose cutoff rises with speed,
  so it smooths at rest and follows fast moves with little lag).
- ``SpikeGate``: rejects a joint that jumps further from its predicted position than any plausible move.

Offline (whole sequence, zero lag):
- ``hampel``: centred rolling-median spike rejection (outliers -> NaN).
- ``fill_gaps``: linear or cubic interpolation of interior gaps up to a maximum length.
- ``butterworth``: zero-phase low-pass (``scipy.signal.sosfiltfilt``), cutoff in Hz for a given frame rate,
  applied to each finite run separately.

Chains (one setting object, ``FilterConfig``): ``CausalPoseFilter`` (Kalman, or spike gate -> one-euro, then
bone lengths from the poses so far imposed by ``BoneLengthProjector``), used live and for ``causal``
replays; ``offline_pose_filter`` (Hampel -> gap filling -> Butterworth -> bone lengths of the whole sequence).

Shapes: sequences are (T, ...) with time on axis 0 (typically (T, J, 3) metres); live samples are (...)
(typically (J, 3)). NaN marks a missing value everywhere; nothing on these paths raises for missing data.
"""
from __future__ import annotations

import math

import numpy as np

from capture3d.body.bones import BoneLengthProjector, IncrementalBoneLengths, estimate_bone_lengths, stabilize_bone_lengths
from capture3d.config import FilterConfig, check_cutoff
from capture3d.nanstats import quiet_nan_warnings
from capture3d.errors import ConfigError
from capture3d.reconstruct.kalman import ConstantVelocityKalman


_INFO_SMOOTH_S = 0.25  # time scale over which the bone-length metric (reprojection information) is averaged
_KALMAN_GATE_MIN_M = 0.03  # live gating: never reject a joint within 3 cm of its prediction
_BONE_STEP_M = 3e-5       # live bone lengths follow their running median by at most 0.03 mm per frame
_KALMAN_MAX_REJECTS = 6    # ... and restart it from its measurement after 6 rejections in a row (0.1 s at 60 fps)


def _smoothing_factor(dt_s: np.ndarray, cutoff_hz: np.ndarray) -> np.ndarray:
    """Exponential smoothing factor of a first-order low-pass with ``cutoff_hz`` over ``dt_s``."""
    r = 2.0 * math.pi * cutoff_hz * dt_s
    return r / (r + 1.0)


class OneEuroFilter:
    """The 1-euro filter (Casiez et al. 2012) applied elementwise to arrays of any fixed shape.

    min_cutoff_hz: cutoff at rest (lower = smoother, more lag when slow).
    beta: cutoff increase per unit of speed, Hz per (unit/s) (higher = less lag when fast).
    d_cutoff_hz: cutoff of the speed estimate.
    reset_after_s: an element missing for longer than this restarts from its next value.
    Missing (NaN) inputs give NaN outputs and leave that element's state untouched.
    """

    def __init__(self, min_cutoff_hz: float = 1.0, beta: float = 1.0, d_cutoff_hz: float = 1.0,
                 reset_after_s: float = 0.5):
        if min_cutoff_hz <= 0 or d_cutoff_hz <= 0 or beta < 0 or reset_after_s <= 0:
            raise ConfigError("one-euro filter needs min_cutoff_hz > 0, d_cutoff_hz > 0, beta >= 0 and "
                              f"reset_after_s > 0; found {min_cutoff_hz}, {d_cutoff_hz}, {beta}, {reset_after_s}")
        self.min_cutoff_hz = float(min_cutoff_hz)
        self.beta = float(beta)
        self.d_cutoff_hz = float(d_cutoff_hz)
        self.reset_after_s = float(reset_after_s)
        self.reset()

    def reset(self) -> None:
        """Forget all state (the next value of every element passes through unchanged)."""
        self._x = None      # last filtered value (...)
        self._dx = None     # last filtered derivative (...)
        self._t = None      # time of the last valid value of each element (...)

    def predict(self, t_s: float) -> np.ndarray | None:
        """Constant-velocity prediction of every element at time t_s (NaN where never seen), or None."""
        if self._x is None:
            return None
        return self._x + self._dx * (t_s - self._t)

    def __call__(self, x: np.ndarray, t_s: float) -> np.ndarray:
        """Filter one sample x (...) taken at time t_s seconds; returns the filtered sample (...)."""
        x = np.asarray(x, dtype=float)
        valid = np.isfinite(x)
        if self._x is None or self._x.shape != x.shape:
            self._x = np.where(valid, x, np.nan)
            self._dx = np.zeros_like(x)
            self._t = np.where(valid, t_s, -np.inf)
            return self._x.copy()
        dt = t_s - self._t
        fresh = valid & ~(dt <= self.reset_after_s)   # never seen, or missing for too long
        step = valid & ~fresh & (dt > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            dt_safe = np.where(step, dt, 1.0)
            dx = (x - self._x) / dt_safe
            a_d = _smoothing_factor(dt_safe, self.d_cutoff_hz)
            dx_hat = self._dx + a_d * (dx - self._dx)
            cutoff = self.min_cutoff_hz + self.beta * np.abs(dx_hat)
            a = _smoothing_factor(dt_safe, cutoff)
            x_hat = self._x + a * (x - self._x)
        self._x = np.where(step, x_hat, np.where(fresh, x, self._x))
        self._dx = np.where(step, dx_hat, np.where(fresh, 0.0, self._dx))
        self._t = np.where(step | fresh, t_s, self._t)
        out = np.where(valid, self._x, np.nan)
        # a repeated timestamp (dt == 0) returns the current estimate
        return out


class SpikeGate:
    """Causal spike rejection per joint: a 3D point further than ``threshold_m + speed_allow_s * |v|`` from
    its constant-velocity prediction is replaced by NaN; after ``max_rejects`` consecutive rejections the
    point is accepted again (the joint really moved).

    Samples are (J, 3); the prediction comes from the gate's own last accepted values.
    """

    def __init__(self, threshold_m: float = 0.25, max_rejects: int = 3, reset_after_s: float = 0.5):
        if threshold_m <= 0 or max_rejects < 0:
            raise ConfigError(f"spike gate needs threshold_m > 0 and max_rejects >= 0; found {threshold_m}, "
                              f"{max_rejects}")
        self.threshold_m = float(threshold_m)
        self.max_rejects = int(max_rejects)
        self.reset_after_s = float(reset_after_s)
        self.reset()

    def reset(self) -> None:
        self._x = None
        self._t = None
        self._rejects = None

    def __call__(self, xyz: np.ndarray, t_s: float) -> np.ndarray:
        """(J, 3) -> (J, 3) with rejected joints set to NaN."""
        xyz = np.asarray(xyz, dtype=float)
        valid = np.isfinite(xyz).all(axis=-1)
        if self._x is None or self._x.shape != xyz.shape:
            self._x = np.where(valid[:, None], xyz, np.nan)
            self._t = np.where(valid, t_s, -np.inf)
            self._rejects = np.zeros(valid.shape, np.int64)
            return self._x.copy()
        with np.errstate(invalid="ignore"):
            recent = (t_s - self._t) <= self.reset_after_s
            dist = np.linalg.norm(xyz - self._x, axis=-1)
            spike = valid & recent & (dist > self.threshold_m) & (self._rejects < self.max_rejects)
        accept = valid & ~spike
        self._rejects = np.where(spike, self._rejects + 1, 0)
        self._x = np.where(accept[:, None], xyz, self._x)
        self._t = np.where(accept, t_s, self._t)
        return np.where(accept[:, None], xyz, np.nan)


def _rolling_nanmedian(flat: np.ndarray, half_window: int) -> np.ndarray:
    """(T, C) -> (T, C) centred rolling median over 2 * half_window + 1 samples, NaN ignored."""
    pad = np.pad(flat, ((half_window, half_window), (0, 0)), constant_values=np.nan)
    win = np.lib.stride_tricks.sliding_window_view(pad, 2 * half_window + 1, axis=0)  # (T, C, w)
    with quiet_nan_warnings():
        return np.nanmedian(win, axis=-1)


def hampel(x: np.ndarray, half_window: int = 5, n_sigmas: float = 3.0, min_dev: float = 0.0):
    """Centred Hampel filter along axis 0: a value whose residual from the median of its window
    (2 * half_window + 1 samples) exceeds ``n_sigmas`` robust standard deviations of the window's
    residuals (1.4826 x their median absolute value) and ``min_dev`` becomes NaN.

    Scaling by the residuals (not the raw spread) keeps the test sensitive on moving signals: along a
    steady motion the window median follows the signal and only the noise is left.
    x: (T, ...). Returns (filtered copy (T, ...), outlier mask (T, ...) bool). NaN-aware.
    """
    x = np.asarray(x, dtype=float)
    T = x.shape[0]
    if half_window < 1 or T < 3:
        return x.copy(), np.zeros(x.shape, bool)
    flat = x.reshape(T, -1)
    resid = flat - _rolling_nanmedian(flat, half_window)
    scale = 1.4826 * _rolling_nanmedian(np.abs(resid), half_window)
    with np.errstate(invalid="ignore"):
        out = np.abs(resid) > np.maximum(n_sigmas * scale, min_dev)
    out &= np.isfinite(flat)
    res = np.where(out, np.nan, flat)
    return res.reshape(x.shape), out.reshape(x.shape)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(T,) bool -> [(start, stop)] of the True runs."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def fill_gaps(x: np.ndarray, max_gap: int, method: str = "linear") -> np.ndarray:
    """Interpolate interior NaN gaps of at most ``max_gap`` samples along axis 0.

    x: (T, ...). method: "linear" or "cubic" (a cubic spline through the finite samples of the column).
    Leading/trailing gaps and longer gaps stay NaN. A column is interpolated independently.
    """
    if max_gap < 0:
        raise ConfigError(f"max_gap must be >= 0 frames, found {max_gap}")
    if method not in ("linear", "cubic"):
        raise ConfigError(f"gap-filling method must be 'linear' or 'cubic', found {method!r}")
    x = np.asarray(x, dtype=float)
    T = x.shape[0]
    flat = x.reshape(T, -1).copy()
    if max_gap == 0 or T < 3:
        return flat.reshape(x.shape)
    t = np.arange(T, dtype=float)
    for c in range(flat.shape[1]):
        col = flat[:, c]
        ok = np.isfinite(col)
        n_ok = int(ok.sum())
        if n_ok < 2 or n_ok == T:
            continue
        gaps = [(a, b) for a, b in _runs(~ok) if a > 0 and b < T and b - a <= max_gap]
        if not gaps:
            continue
        fill = np.zeros(T, bool)
        for a, b in gaps:
            fill[a:b] = True
        if method == "cubic" and n_ok >= 4:
            from scipy.interpolate import CubicSpline  # noqa: PLC0415  (0.6 s to import: only when used)
            col[fill] = CubicSpline(t[ok], col[ok])(t[fill])
        else:
            col[fill] = np.interp(t[fill], t[ok], col[ok])
    return flat.reshape(x.shape)


def butterworth(x: np.ndarray, fps: float, cutoff_hz: float, order: int = 4) -> np.ndarray:
    """Zero-lag (forward-backward) Butterworth low-pass along axis 0.

    x: (T, ...) sampled at ``fps``; cutoff_hz must be below fps / 2 (ConfigError otherwise). Each finite
    run of each column is filtered on its own; runs too short to pad are left unchanged; NaN stays NaN.
    The forward-backward pass doubles the order and gives a -6 dB point at cutoff_hz.
    """
    check_cutoff(cutoff_hz, fps)
    if order < 1:
        raise ConfigError(f"Butterworth order must be >= 1, found {order}")
    from scipy.signal import butter, sosfiltfilt  # noqa: PLC0415  (0.5 s to import: only when used)
    sos = butter(order, cutoff_hz, btype="low", fs=fps, output="sos")
    x = np.asarray(x, dtype=float)
    T = x.shape[0]
    flat = x.reshape(T, -1).copy()
    ok = np.isfinite(flat)
    padlen = 3 * (2 * len(sos) + 1)
    full = ok.all(axis=0)
    if T > padlen and full.any():  # columns without gaps: one vectorized call
        flat[:, full] = sosfiltfilt(sos, flat[:, full], axis=0)
    for c in np.flatnonzero(~full):
        for a, b in _runs(ok[:, c]):
            n = b - a
            if n > 6:
                flat[a:b, c] = sosfiltfilt(sos, flat[a:b, c], padlen=min(padlen, n - 1))
    return flat.reshape(x.shape)


def jitter(xyz: np.ndarray, fps: float) -> float:
    """Mean joint acceleration magnitude (second difference x fps^2) over finite samples, units/s^2.

    xyz: (T, J, 3). A measure of high-frequency noise (jitter); NaN when nothing is finite.
    """
    xyz = np.asarray(xyz, dtype=float)
    if xyz.shape[0] < 3:
        return float("nan")
    acc = np.linalg.norm(xyz[2:] - 2 * xyz[1:-1] + xyz[:-2], axis=-1) * fps * fps
    acc = acc[np.isfinite(acc)]
    return float(acc.mean()) if acc.size else float("nan")


class CausalPoseFilter:
    """The live filter chain for one subject's poses (J, 3), one frame at a time.

    ``cfg.live_method`` "kalman" (default): ``ConstantVelocityKalman`` (outliers gated by the innovation);
    "one_euro": ``SpikeGate`` -> ``OneEuroFilter``. Then, with ``cfg.bone_lengths``, the bone lengths
    estimated from the filtered poses so far (``IncrementalBoneLengths``, from ``min_bone_frames`` poses on)
    are imposed by ``BoneLengthProjector`` (``cfg.live_bone_iterations`` Gauss-Newton steps). The same
    calls in the same order give bit-identical results, so a replay of a recording reproduces the live output.
    """

    def __init__(self, cfg: FilterConfig, bones: np.ndarray, min_bone_frames: int = 30):
        cfg.validate()
        self.cfg = cfg
        self.bones = np.asarray(bones, dtype=np.int64).reshape(-1, 2)
        reset_s = max(cfg.max_gap_s, 0.1)
        if cfg.live_method == "kalman":
            self.kalman = ConstantVelocityKalman(cfg.kalman_process_noise, cfg.kalman_measurement_noise_m,
                                                 cfg.kalman_gate_sigmas, gate_min_m=_KALMAN_GATE_MIN_M,
                                                 max_rejects=_KALMAN_MAX_REJECTS, reset_after_s=reset_s,
                                                 catchup_mps=cfg.kalman_catchup_mps)
            self.stages = (self.kalman,)
        else:
            self.gate = SpikeGate(cfg.spike_gate_m, max_rejects=3, reset_after_s=reset_s)
            self.euro = OneEuroFilter(cfg.one_euro_min_cutoff_hz, cfg.one_euro_beta, cfg.one_euro_d_cutoff_hz,
                                      reset_after_s=reset_s)
            self.stages = (self.gate, self.euro)
        self.min_bone_frames = min_bone_frames
        self._use_bones = bool(cfg.bone_lengths and cfg.live_bone_iterations and len(self.bones))
        self._projector = None
        self.reset()

    def reset(self) -> None:
        for stage in self.stages:
            stage.reset()
        self._lengths = None

    def __call__(self, xyz: np.ndarray, t_s: float) -> np.ndarray:
        """xyz (J, 3) metres at t_s seconds -> filtered (J, 3) (NaN where xyz is NaN)."""
        x = np.asarray(xyz, dtype=float)
        for stage in self.stages:
            x = stage(x, t_s)
        if not self._use_bones:
            return x
        if self._lengths is None:
            self._lengths = IncrementalBoneLengths(self.bones, self.min_bone_frames, _BONE_STEP_M)
        if self._projector is None or self._projector.n_joints != x.shape[0]:
            self._projector = BoneLengthProjector(self.bones, x.shape[0])
        self._lengths.add(x)
        L = self._lengths.lengths
        if np.isfinite(L).any():
            x = self._projector(x, L, self.cfg.live_bone_iterations)
        return x


def offline_pose_filter(xyz: np.ndarray, fps: float, cfg: FilterConfig, bones: np.ndarray | None = None,
                        information: np.ndarray | None = None) -> np.ndarray:
    """The offline chain on a whole sequence (T, J, 3) metres at ``fps``: Hampel spike rejection (of whole
    joints) ->
    gap filling up to cfg.max_gap_s -> zero-lag Butterworth -> bone-length stabilization (per-subject
    robust lengths of the sequence; information (T, J, 3, 3) weights the adjustment, see
    ``stabilize_bone_lengths``). ConfigError for settings impossible at this frame rate."""
    cfg.validate()
    cfg.check_rate(fps)
    x = np.asarray(xyz, dtype=float)
    if cfg.hampel_half_window > 0:
        x, spikes = hampel(x, cfg.hampel_half_window, cfg.hampel_n_sigmas, cfg.hampel_min_dev_m)
        x[spikes.any(axis=-1)] = np.nan  # a joint is whole or missing: one spiking coordinate drops the joint
    x = fill_gaps(x, int(round(cfg.max_gap_s * fps)), cfg.gap_method)
    x = butterworth(x, fps, cfg.butterworth_cutoff_hz, cfg.butterworth_order)
    if cfg.bone_lengths and cfg.bone_iterations and bones is not None and len(bones):
        lengths = estimate_bone_lengths(x, bones)
        if information is not None:  # views come and go frame to frame: average the metric over ~0.25 s
            from scipy.ndimage import uniform_filter1d  # noqa: PLC0415
            information = uniform_filter1d(np.nan_to_num(information), max(1, int(round(_INFO_SMOOTH_S * fps))),
                                           axis=0, mode="nearest")
        x = stabilize_bone_lengths(x, bones, lengths, information, cfg.bone_iterations, cfg.bone_tolerance)
    return x
