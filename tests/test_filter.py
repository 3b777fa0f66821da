"""Temporal filters: one-euro, spike gate, Hampel, gap filling, Butterworth, and their settings."""
import numpy as np
import pytest

from capture3d.config import AppConfig, FilterConfig, config_from_dict
from capture3d.errors import ConfigError
from capture3d.reconstruct.filters import (OneEuroFilter, SpikeGate, butterworth, check_cutoff, fill_gaps, hampel, jitter)


def test_one_euro_lag_on_a_ramp_is_below_one_frame_at_60fps(rng):
    cfg = FilterConfig()
    f = OneEuroFilter(cfg.one_euro_min_cutoff_hz, cfg.one_euro_beta, cfg.one_euro_d_cutoff_hz)
    fps, speed = 60.0, 1.0  # a joint moving at 1 m/s, measured with 3 mm noise
    t = np.arange(240) / fps
    x = speed * t
    noisy = x + rng.normal(0.0, 0.003, t.size)
    y = np.array([f(np.array([v]), ti)[0] for v, ti in zip(noisy, t)])
    lag_frames = (x[120:] - y[120:]).mean() / speed * fps
    assert 0 <= lag_frames <= 1.0
    # and it filters: the frame-to-frame jitter around the ramp drops (an identity filter keeps all of it)
    jitter_in = np.std(np.diff(noisy[120:] - x[120:]))
    jitter_out = np.std(np.diff(y[120:] - x[120:]))
    assert jitter_out < 0.7 * jitter_in, (jitter_out, jitter_in)


def test_one_euro_reduces_noise_at_rest_and_keeps_nan(rng):
    f = OneEuroFilter(1.0, 10.0, 1.0)
    fps = 60.0
    x = rng.normal(0.0, 0.004, size=(600, 25, 3))  # 4 mm noise around a still pose
    x[300:310, 3] = np.nan
    y = np.stack([f(xi, i / fps) for i, xi in enumerate(x)])
    assert np.isnan(y[300:310, 3]).all() and np.isfinite(y[300:310, 4]).all()
    assert np.isfinite(y[310:, 3]).all()  # resumes after the gap
    assert np.nanstd(y[60:]) < 0.5 * np.nanstd(x[60:])
    assert jitter(y[60:], fps) < 0.25 * jitter(x[60:], fps)


def test_one_euro_rejects_bad_settings():
    with pytest.raises(ConfigError, match="min_cutoff_hz"):
        OneEuroFilter(min_cutoff_hz=0.0)


def test_spike_gate_rejects_a_jump_then_follows_a_real_move():
    g = SpikeGate(threshold_m=0.25, max_rejects=3)
    pose = np.zeros((2, 3))
    out = [g(pose, 0.0)]
    moved = pose.copy()
    moved[0, 0] = 0.6  # joint 0 jumps 0.6 m and stays there
    for k in range(1, 6):
        out.append(g(moved, k / 60))
    out = np.array(out)
    assert np.isnan(out[1:4, 0]).all()          # three rejections
    assert out[4, 0, 0] == pytest.approx(0.6)   # then accepted
    assert np.isfinite(out[:, 1]).all()          # the other joint never touched


def test_hampel_finds_injected_spikes_only(rng):
    t = np.arange(400) / 30.0
    x = np.sin(2 * np.pi * 0.5 * t)[:, None] * 0.3 + rng.normal(0, 0.003, (400, 1))
    idx = rng.choice(np.arange(10, 390), 12, replace=False)
    x_spiky = x.copy()
    x_spiky[idx, 0] += rng.choice([-1, 1], 12) * rng.uniform(0.1, 0.3, 12)
    cleaned, mask = hampel(x_spiky, 5, 3.0, 0.02)
    found = set(np.flatnonzero(mask[:, 0]))
    assert set(idx) <= found  # every spike
    extra = found - set(idx)  # a spike shifts its neighbours' window median by one step of a steep motion
    assert len(extra) <= 3 and all(np.abs(idx - e).min() <= 5 for e in extra)
    assert np.isnan(cleaned[idx, 0]).all()
    _, mask_clean = hampel(x, 5, 3.0, 0.02)
    assert mask_clean.sum() == 0


def test_fill_gaps_linear_cubic_and_limits():
    t = np.arange(50, dtype=float)
    line = np.stack([2 * t + 1, t ** 2 / 100], axis=1)
    x = line.copy()
    x[10:14] = np.nan      # 4-frame gap: filled
    x[30:40] = np.nan      # 10-frame gap: too long for max_gap=5
    x[:2] = np.nan         # leading: never filled
    lin = fill_gaps(x, 5, "linear")
    assert np.allclose(lin[10:14, 0], line[10:14, 0])
    assert np.isnan(lin[30:40]).all() and np.isnan(lin[:2]).all()
    cub = fill_gaps(x, 5, "cubic")
    assert np.abs(cub[10:14, 1] - line[10:14, 1]).max() < 1e-3  # a quadratic, nearly exact
    with pytest.raises(ConfigError, match="max_gap"):
        fill_gaps(x, -1)


def test_butterworth_zero_lag_and_noise_removal():
    fps = 60.0
    t = np.arange(600) / fps
    slow = 0.2 * np.sin(2 * np.pi * 1.0 * t)
    fast = 0.02 * np.sin(2 * np.pi * 20.0 * t)
    x = (slow + fast)[:, None, None] * np.ones((1, 2, 3))
    x[200:205, 1] = np.nan
    y = butterworth(x, fps, 6.0, 2)
    inner = slice(60, 540)
    assert np.abs(y[inner, 0, 0] - slow[inner]).max() < 2e-3  # 20 Hz gone, 1 Hz kept, no phase lag
    assert np.isnan(y[200:205, 1]).all() and np.isfinite(y[205:, 1]).all()
    assert np.abs(y[300:500, 1, 0] - slow[300:500]).max() < 2e-3  # runs after a gap are filtered too


def test_cutoff_above_nyquist_is_a_config_error():
    with pytest.raises(ConfigError, match="Nyquist frequency 15 Hz"):
        butterworth(np.zeros((100, 3)), 30.0, 16.0)
    with pytest.raises(ConfigError, match="Nyquist"):
        check_cutoff(30.0, 60.0)
    with pytest.raises(ConfigError, match="butterworth_cutoff_hz"):
        FilterConfig(butterworth_cutoff_hz=20.0).check_rate(30.0)
    FilterConfig(butterworth_cutoff_hz=20.0).check_rate(60.0)  # fine at 60 fps


def test_filter_and_tracking_config_sections_from_toml_dict():
    cfg = config_from_dict({"filter": {"causal": True, "butterworth_cutoff_hz": 8.0, "gap_method": "linear"},
                            "tracking": {"policy": "largest", "hold_s": 1.5}})
    assert isinstance(cfg, AppConfig)
    assert cfg.filter.causal and cfg.filter.butterworth_cutoff_hz == 8.0 and cfg.tracking.policy == "largest"
    with pytest.raises(ConfigError, match="max_gap_s must be >= 0"):
        config_from_dict({"filter": {"max_gap_s": -0.1}})
    with pytest.raises(ConfigError, match="tracking.policy"):
        config_from_dict({"tracking": {"policy": "tallest"}})
    with pytest.raises(ConfigError, match="unknown key"):
        config_from_dict({"filter": {"cutoff": 6.0}})
    with pytest.raises(ConfigError, match="gap_method"):
        config_from_dict({"filter": {"gap_method": "spline"}})
