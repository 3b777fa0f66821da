"""The figures of a running Pipeline (``Pipeline.stats``): rates, latencies, drops, sync and camera counters,
the limiting stage (``capture3d.runtime.meters.limiting_stage``), the recorder's and the replay gate's."""
from __future__ import annotations

import time

import numpy as np

from capture3d.runtime.meters import limiting_stage
from capture3d.types import LiveStats


def pipeline_stats(p, brief: bool = False) -> LiveStats:
    """The live figures of pipeline p now (see ``LiveStats``). brief: without the per-camera breakdown."""
    now = time.monotonic()
    sync = p.assembler.stats.as_dict()
    grab_rates = p._capture.grab_rates
    latest = p._latest
    err = float("nan")
    if latest is not None and latest.pose is not None and np.isfinite(latest.pose.reproj_err_px).any():
        err = float(np.nanmean(latest.pose.reproj_err_px))
    record = p._feed.stats() if p._feed is not None else {}
    per_camera = None
    if not brief:
        per_camera = sync["per_camera"]
        for name, r, stream in zip(p.names, grab_rates, p.source.streams):
            per_camera[name]["fps"] = r.rate(now)
            per_camera[name]["grabbed"] = r.count
            if hasattr(stream, "stats"):  # device counters (drops on the device, incomplete images, drift)
                per_camera[name].update(stream.stats())
    figures = p._stage.figures(now)
    lag_s = None if p.gate is None else p.gate.lag_s
    limit = "" if not figures["processed"] or p.detector is None else limiting_stage(  # capture only: no stage
        figures["fps_3d"], p.source.fps or 30.0, figures["detect_ms_p50"], figures["reconstruct_ms_p50"], lag_s)
    return LiveStats(
        elapsed_s=now - p._t_start if p._t_start else 0.0,
        fps_capture=float(np.mean([r.rate(now) for r in grab_rates])), fps_sets=p._set_rate.rate(now),
        frames=sum(r.count for r in grab_rates), sets=sync["sets"], **figures,
        drops=p._slot.drops, incomplete_sets=sync["incomplete"], missing_views=sync["missing"],
        late=sync["late"], mismatched=sync["mismatched"], mispaired=p.mispaired,
        incomplete_images=p.incomplete_images, cameras_failed=tuple(sorted(p.failed_cameras)),
        reproj_err_px=err, paused_sets=p.paused_sets if (p.paused_sets or p.paused) else None,
        dropped_sets=0 if p.gate is None else p.gate.dropped,
        replay_lag_ms=float("nan") if lag_s is None else 1000.0 * lag_s, limited_by=limit,
        **record, **(p.refiner.figures() if p.refiner is not None else {}), per_camera=per_camera)


#: the LiveStats fields of keyframes + tracking (None without)
KEYFRAME_FIELDS = ("keyframe_every", "views_detected", "views_tracked", "redetections", "keyframe_rate",
                   "points_dropped")


def keyframes_text(figures: dict) -> str:
    """The keyframe figures (``LiveStats.shown()``, or ``dataclasses.asdict``) in one line: the interval,
    views detected vs tracked, re-detections, per view the share of its frame sets detected."""
    rates = " ".join(f"{100 * r:.0f}%" for r in figures.get("keyframe_rate") or ())
    return (f"2D keyframe every {figures['keyframe_every']} sets: views detected {figures.get('views_detected', 0)}, "
            f"tracked {figures.get('views_tracked', 0)}, re-detected {figures.get('redetections', 0)}; "
            f"detected per view {rates}")
