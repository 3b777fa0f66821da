#!/usr/bin/env python
"""Convert an official OpenPose Caffe model (prototxt + caffemodel) to a capture3d model folder.

    python tools/convert_caffe.py --prototxt pose_deploy.prototxt --caffemodel pose_iter_584000.caffemodel \
        --arch body_25 -o models/body_25

Writes models/<name>/<weights>.pt (a torch state_dict) and models/<name>/model.toml (with its sha256). An
existing model.toml keeps its source and licence. No Caffe needed: the caffemodel protobuf is decoded by
capture3d.detect.caffe_format. See models/README.md for where to get the official files.
"""
from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from capture3d.detect.caffe_convert import convert_caffe, save_model  # noqa: E402
from capture3d.detect.openpose_arch import ARCHITECTURES  # noqa: E402
from capture3d.errors import DetectorError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prototxt", required=True, type=Path)
    p.add_argument("--caffemodel", required=True, type=Path)
    p.add_argument("--arch", required=True, choices=sorted(ARCHITECTURES), help="built-in architecture")
    p.add_argument("-o", "--out", required=True, type=Path, help="model folder, e.g. models/body_25")
    p.add_argument("--weights", help="weights file name (default: <caffemodel stem>.pt)")
    p.add_argument("--source", default=None, help="where the weights come from (kept from model.toml if absent)")
    p.add_argument("--licence", default=None, help="licence text (kept from model.toml if absent)")
    args = p.parse_args(argv)
    old = {}
    card = args.out / "model.toml"
    if card.is_file():
        old = tomllib.loads(card.read_text(encoding="utf-8"))
    try:
        arch, state = convert_caffe(args.prototxt, args.caffemodel, args.arch)
        path = save_model(args.out, args.arch, state, name=old.get("name", args.out.name),
                          weights=args.weights or f"{args.caffemodel.stem}.pt",
                          source=args.source or old.get("source", str(args.caffemodel.name)),
                          licence=args.licence or old.get("licence", "see the original model's licence"))
    except (DetectorError, OSError) as exc:
        print(f"convert_caffe: error: {exc}", file=sys.stderr)
        return 1
    n = sum(int(t.numel()) for t in state.values())
    print(f"{args.arch}: {len(state)} tensors, {n / 1e6:.2f} M parameters -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
