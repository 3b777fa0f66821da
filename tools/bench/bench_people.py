"""Benchmark: every person in 3D (cross-view association + multi-person tracking) on synthetic crowds.

Takes: ``capture3d.synth.crowd_motion`` (N walkers on crossing figure-eights, never closer than 0.5 m, often
passing behind each other) seen by a synthetic rig through ``observe_crowd`` (2 px noise, 10% missed joints,
5% outliers, 2% left/right swaps, occlusion by nearer people, 5% merges, 5% leg swaps, 1% splits,
0.1 false detections per view-frame; detections in random order).

Table 1, accuracy (``--frames`` frame sets per take): switches = identity switches (a person's track id
changes, or a track id moves to another person); ids = distinct ids per person (1 = never lost its id);
MPJPE mm of the matched (track, frame) pairs; gross % = matched joints > 0.1 m off; single mm = MPJPE of the same motions reconstructed one
person at a time from that person's own detections (the single-person tracker, no other people in the
views: the reference); false % = frame sets with a track that matches nobody; cover % = (person, frame)
pairs with a matched track (a person is matched by its median joint error < 0.2 m). passes = times two
people came within 1 m of each other. Raw triangulations (no temporal filter) on both sides.

Table 2, cost per frame set (CPU time, ``time.process_time``, median over the frame sets after the first
30): all people = PeopleTracker.update (association + triangulation + tracking of everybody);
single = the single-person SubjectTracker.update on the same frame sets (the old path, one subject).

    PYTHONPATH=. python tools/bench/bench_people.py [--frames 600] [--timing-frames 200] [--quick]
        [--only accuracy|timing]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from capture3d.config import TrackingConfig
from capture3d.reconstruct.people import PeopleTracker
from capture3d.reconstruct.track import SubjectTracker
from capture3d.synth import make_rig
from capture3d.synth.crowd import crowd_motion
from capture3d.synth.crowd_noise import CrowdErrorModel, observe_crowd
from capture3d.synth.people_score import score_people, single_person_mpjpe_m


def run_people(rig, kps, kp: np.ndarray, fps: float):
    """kp (V, T, S, J, 3) -> (ids per frame, xyz per frame, CPU seconds per frame (T,))."""
    tr = PeopleTracker(rig, kps, TrackingConfig(people="all"))
    ids, xyz, cpu = [], [], []
    for t in range(kp.shape[1]):
        t0 = time.process_time()
        r = tr.update(kp[:, t], t / fps)
        cpu.append(time.process_time() - t0)
        ids.append(r.ids)
        xyz.append(r.tri.xyz_world)
    return ids, xyz, np.array(cpu)


def take(n_people: int, n_cams: int, frames: int, fps: float, seed: int):
    crowd = crowd_motion(n_people, frames, fps, seed=seed)
    rig = make_rig(n_cams, seed=seed)
    obs = observe_crowd(rig, crowd.xyz_world, crowd.keypoint_set, CrowdErrorModel(), seed=seed + 100)
    return crowd, rig, obs


def accuracy_table(frames: int, fps: float, people: list[int], cams: list[int], seed: int) -> None:
    print(f"\nAccuracy: {frames} frame sets at {fps:g} fps per take")
    print(f"{'people':>6} {'cams':>4} {'passes':>6} {'switches':>8} {'ids':>13} {'MPJPE mm':>8} {'single mm':>9} "
          f"{'gross %':>7} {'false %':>7} {'cover %':>7}")
    for n in people:
        for v in cams:
            crowd, rig, obs = take(n, v, frames, fps, seed)
            ids, xyz, _ = run_people(rig, crowd.keypoint_set, obs.keypoints2d, fps)
            sc = score_people(ids, xyz, crowd.xyz_world)
            ref = 1000 * single_person_mpjpe_m(rig, crowd.xyz_world, obs.keypoints2d, obs.identity, fps,
                                                crowd.keypoint_set)
            print(f"{n:>6} {v:>4} {crowd.close_passes(1.0):>6} {sc.id_switches:>8} "
                  f"{' '.join(map(str, sc.ids_per_person)):>13} {sc.mpjpe_m * 1000:>8.1f} {ref:>9.1f} "
                  f"{100 * sc.gross_joints:>7.2f} {100 * sc.false_sets:>7.2f} {100 * sc.coverage:>7.1f}")


def timing_table(frames: int, fps: float, people: list[int], cams: list[int], seed: int) -> None:
    print(f"\nCost per frame set, CPU ms (median over frame sets 30..{frames})")
    print(f"{'people':>6} " + " ".join(f"{f'{v} cams all':>12} {f'{v} cams single':>15}" for v in cams))
    for n in people:
        cells = []
        for v in cams:
            crowd, rig, obs = take(n, v, frames, fps, seed)
            _, _, cpu = run_people(rig, crowd.keypoint_set, obs.keypoints2d, fps)
            st = SubjectTracker(rig, crowd.keypoint_set)
            single = []
            for t in range(frames):
                t0 = time.process_time()
                st.update(obs.keypoints2d[:, t], t / fps)
                single.append(time.process_time() - t0)
            cells.append(f"{1000 * np.median(cpu[30:]):>12.2f} {1000 * np.median(single[30:]):>15.2f}")
        print(f"{n:>6} " + " ".join(cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=600, help="frame sets per accuracy take")
    ap.add_argument("--timing-frames", type=int, default=200, help="frame sets per timing take")
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="fewer configurations (2 and 4 people, 4 and 8 cameras)")
    ap.add_argument("--only", choices=("accuracy", "timing"), default=None, help="run one of the two tables")
    args = ap.parse_args()
    acc_people = [2, 4] if args.quick else [2, 3, 4, 5, 6]
    time_people = [1, 4] if args.quick else [1, 2, 3, 4, 5, 6]
    time_cams = [4, 8] if args.quick else [4, 8, 16]
    print(f"bench_people: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    if args.only != "timing":
        accuracy_table(args.frames, args.fps, acc_people, [4, 8], args.seed)
    if args.only != "accuracy":
        timing_table(args.timing_frames, args.fps, time_people, time_cams, args.seed)


if __name__ == "__main__":
    main()
