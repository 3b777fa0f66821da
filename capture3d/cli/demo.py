"""``capture3d demo``: the synthetic end-to-end run with ground truth."""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import sys
from capture3d.cli.numbers import int_in

_EXAMPLE = """\
examples:
  capture3d demo                                  4 cameras, 600 frames; opens the viewer if there is a display
  capture3d demo --cameras 8 --frames 1800 --seed 3 --out demo8 --no-viewer
  capture3d demo --config configs/demo.toml       settings from a file (flags override it)

writes into --out: rig.toml, keypoints3d.csv/.json/.trc, report.json, config.toml
"""


def register(sub) -> None:
    p = sub.add_parser("demo", help="synthetic rig -> 2D -> robust 3D -> exports, with accuracy vs ground truth",
                       description="Run the whole 3D pipeline on a synthetic rig and a walking subject with a "
                                   "realistic 2D detector-error model (noise, misses, outliers, left/right swaps), "
                                   "then report accuracy against the known truth.",
                       epilog=_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="TOML config file (see configs/demo.toml)")
    p.add_argument("--cameras", type=int_in(2, 16), help="number of cameras, 2-16 (default 4)")
    p.add_argument("--frames", type=int_in(1, 10**6), help="number of frames (default 600 = 20 s at 30 fps)")
    p.add_argument("--seed", type=int_in(0, 2**32 - 1), help="random seed of rig, motion and detector errors (default 0)")
    p.add_argument("--whole-body", action="store_true", help="135 keypoints: body, hands and face")
    p.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    p.add_argument("--no-viewer", action="store_true", help="do not open the 3D viewer")
    p.set_defaults(func=run)


def run(args) -> int:
    from capture3d.config import AppConfig, load_config
    from capture3d.demo import run_demo

    cfg = load_config(args.config) if args.config else AppConfig()
    overrides = {k: v for k, v in (("cameras", args.cameras), ("frames", args.frames), ("seed", args.seed)) if v is not None}
    if args.whole_body:
        overrides["whole_body"] = True
    if overrides:
        cfg = dataclasses.replace(cfg, synthetic=dataclasses.replace(cfg.synthetic, **overrides))
        cfg.validate()
    res = run_demo(cfg, args.out)
    r = res.report
    print(f"capture3d demo: {r['frames']} frames, {r['cameras']} cameras, {r['joints']} joints ({r['keypoint_set']})")
    print(f"  3D stage:        {r['stage_3d_frames_per_s']:,.0f} frame sets/s ({r['stage_3d_seconds'] * 1000:.1f} ms total)")
    m = r["mpjpe_mm"]
    print(f"  MPJPE vs truth:  median {m['median']:.1f} mm, p95 {m['p95']:.1f} mm")
    parts = r["mpjpe_mm_by_part"]
    if len(parts) > 1:
        print("  MPJPE by part:   " + ", ".join(f"{p} median {a['median']:.1f} mm (p95 {a['p95']:.1f})"
                                                 for p, a in parts.items()))
    print(f"  reprojection:    mean {r['reproj_err_px_mean']:.2f} px")
    print(f"  reconstructed:   {100 * r['reconstructed_fraction']:.1f}% of joints")
    print(f"  outputs:         {args.out}/ ({', '.join(r.get('outputs', []))})")
    if not args.no_viewer and importlib.util.find_spec("capture3d.viewer") is not None:
        from capture3d import viewer

        if viewer.has_display():
            viewer.run_replay(res.keypoints3d, rig=res.rig)
        else:
            print("  (no display: viewer not opened; view later with 'capture3d view " + args.out + "')",
                  file=sys.stderr)
    return 0
