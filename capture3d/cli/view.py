"""``capture3d view``: replay a 3D result (CSV/JSON/TRC) in the viewer, with the rig when available."""
from __future__ import annotations

import argparse
from pathlib import Path
from capture3d.cli.numbers import int_in, person_id

_EXAMPLE = """\
examples:
  capture3d view demo_out                          a result folder: keypoints3d.csv/.json/.trc + rig.toml
  capture3d view pose3d.trc --rig rig.toml         a file, with the cameras of a rig
  capture3d view demo_out --frame 120 --screenshot frame120.png   render one frame to a PNG and exit
  capture3d view take.csv --person 2               every person of a take (--people all), person 2 picked

keys: Space play/pause, Left/Right one frame, Home/End; mouse: left drag orbit, middle drag
(or Ctrl + left drag) pan, wheel zoom.
"""

#: Result files looked for in a folder, in this order.
RESULT_NAMES = ("keypoints3d.csv", "keypoints3d.json", "keypoints3d.trc", "keypoints3d.c3d", "keypoints3d.bvh")
RIG_NAME = "rig.toml"


def register(sub) -> None:
    p = sub.add_parser("view", help="replay a 3D result in the viewer (timeline, play/pause, speed, stepping)",
                       description="Play a 3D keypoint result (CSV, JSON or TRC written by capture3d) in the 3D "
                                   "viewer, with the rig's cameras when a rig is given or found beside it.",
                       epilog=_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", metavar="RESULT_DIR_OR_FILE",
                   help=f"a result folder (with one of {', '.join(RESULT_NAMES)}) or a 3D keypoint file "
                        "(any format read_keypoints3d reads)")
    p.add_argument("--rig", help=f"rig TOML (default: {RIG_NAME} in the result folder / beside the file)")
    p.add_argument("--frame", type=int_in(0, 10**8), default=0, help="first frame shown, 0-based (default 0)")
    p.add_argument("--person", type=person_id, default=None, metavar="ID",
                   help="a CSV/JSON of several people (--people all) shows every person in the colour of its id; "
                        "this picks one: drawn larger, its figures shown")
    p.add_argument("--screenshot", metavar="PNG", help="render --frame to this PNG and exit")
    p.set_defaults(func=run)


def find_result(path: Path) -> tuple[Path, Path | None]:
    """(3D keypoint file, rig file or None) for a result folder or file. KeypointFileError if none."""
    from capture3d.errors import KeypointFileError

    if path.is_dir():
        for name in RESULT_NAMES:
            if (path / name).is_file():
                rig = path / RIG_NAME
                return path / name, rig if rig.is_file() else None
        raise KeypointFileError(f"{path}: no 3D result found; expected one of {', '.join(RESULT_NAMES)}")
    if path.is_file():
        rig = path.parent / RIG_NAME
        return path, rig if rig.is_file() else None
    raise KeypointFileError(f"{path}: no such file or folder (expected a result folder or a .csv/.json/.trc/.c3d/.bvh file)")


def run(args) -> int:
    import sys

    from capture3d.errors import ConfigError
    from capture3d.export import format_of
    from capture3d.export.people import ONE_FILE, read_people, read_person, select_person
    from capture3d.io.rig_files import load_rig

    if args.screenshot is not None and Path(args.screenshot).suffix.lower() != ".png":
        raise ConfigError(f"--screenshot must name a .png file, found {args.screenshot!r}")
    result, rig_path = find_result(Path(args.path))
    if args.rig:
        rig_path = Path(args.rig)
    people = None
    if format_of(result) in ONE_FILE:  # CSV, JSON: every person of the take
        people = read_people(result)
        kp = select_person(people, args.person, result) if args.person is not None else people[min(people)]
        if list(people) == [0]:  # a one-person file: OpenPose's colours
            people = None
    else:
        kp = read_person(result, args.person)
    if not 0 <= args.frame < kp.n_frames:
        raise ConfigError(f"--frame must be in 0..{kp.n_frames - 1} for {result} ({kp.n_frames} frames), "
                          f"found {args.frame}")
    rig = load_rig(rig_path) if rig_path is not None else None
    print(f"capture3d view: {result} ({kp.n_frames} frames, {kp.keypoint_set.name}, {kp.fps:g} fps)"
          + (f", rig {rig_path} ({len(rig)} cameras)" if rig is not None else ", no rig: cameras not shown"))
    if people is not None:
        print(f"  {len(people)} {'person' if len(people) == 1 else 'people'} (ids {', '.join(map(str, people))}), each in the colour of its id"
              + (f"; person {args.person} picked" if args.person is not None else ""))

    from capture3d import viewer
    from capture3d.viewer.app import check_result_against_rig

    for problem in check_result_against_rig(kp, rig):
        print(f"capture3d view: warning: {problem}", file=sys.stderr)
    if not viewer.has_display():
        raise viewer.ViewerUnavailable("no display to open the viewer on (DISPLAY/WAYLAND_DISPLAY unset); "
                                       "'capture3d view' needs one: run it on a desktop or under xvfb-run, "
                                       "and use --no-viewer with demo/live to run headless")
    rc = viewer.run_replay(kp, rig=rig, frame=args.frame, screenshot=args.screenshot, people=people,
                           person=args.person)
    if args.screenshot:
        print(f"  screenshot: {args.screenshot}")
    return rc
