"""Real-footage benchmark: the 2D -> 3D chain of capture3d vs Pose2Sim and aniposelib on the same inputs.

Data: the Pose2Sim demo sessions in ../shared/data/pose2sim (4 synchronized 1088x1920 cameras at 60 fps,
Qualisys calibration Calib.qca.txt) with MediaPipe detections saved as OpenPose JSON folders (BODY_25), one
folder per camera (made with `capture3d detect VIDEOS... -o OUT`). No ground truth exists, so the table
shows what can be measured, for every method on the same 2D JSON and the same calibration:

  held-out px    triangulate from all views but one, project into the held-out view, distance to that
                 view's own detection (median, p95 over joints, frames and held-out views)
  reproj px      the final output projected into every view vs the detections (median, p95)
  bone CV %      coefficient of variation over frames of each bone's length, median over bones (rows
                 marked * constrain bone lengths, so their CV says little about the triangulation)
  fast %         joint-frames moving faster than 10 m/s
  vs views       frames where the output labels an arm or leg against most of the views that see it
                 (its projected left joint nearer their detected right one and vice versa)
  to P2S mm      distance to Pose2Sim's filtered 3D of the clean input (median, p95; no ground truth: a
                 difference, not an error, but the number the first bug report measured)
  LR swaps       3D left/right swap events of a limb between consecutive frames (whole take / in the
                 window of the injected 2D swap)
  coverage %     joint-frames reconstructed
Every number is over the joints that some view detects and every method outputs (MediaPipe gives no small
toes; Pose2Sim's BODY_25 skeleton has no eyes or ears), the same joints for every row.
Detections are compared where their score is >= 0.3 (Pose2Sim's likelihood threshold for these sessions).
Inputs: the detections as they are ("clean") and the same with one view's legs swapped left <-> right
(hip, knee, ankle, heel, toes) for 30 frames ("leg swap"); the references are always the clean detections.

Rows:
  capture3d raw          capture3d.geometry.triangulate.triangulate on the highest-score person per view
  capture3d live         Reconstructor.process frame by frame (tracking, left/right repair, live filter)
  capture3d filter only  the same offline filter chain with tracking off (highest-score person per view)
  capture3d offline      Reconstructor.process_sequence (tracking + offline filter chain)
  aniposelib             CameraGroup.triangulate (from the same rig; detections with score < 0.3 dropped)
  Pose2Sim triangulation Pose2Sim.triangulation.triangulate_all with the session's own Config.toml
  Pose2Sim + filtering   then Pose2Sim.filtering.filter_all (its Hampel + Butterworth settings)
Pose2Sim runs in a temporary project folder (Config.toml, calibration/ with the rig written as TOML by
capture3d, pose/camNN_json/); its TRC output (Y up) is read back into the rig's Z-up world.

  bash tools/bench/setup_env.sh && .bench-venv/bin/python tools/bench/bench_realdata.py --csv out/realdata.csv
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TQDM_DISABLE", "1")  # Pose2Sim's per-frame progress bars
os.environ.setdefault("MPLBACKEND", "Agg")

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tomllib  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from capture3d.body.bones import tree_bones  # noqa: E402
from capture3d.body.keypoint_sets import BODY_25  # noqa: E402
from capture3d.geometry.triangulate import triangulate  # noqa: E402
from capture3d.io.openpose_json import list_frame_files  # noqa: E402
from capture3d.io.rig_files import load_rig, save_rig  # noqa: E402
from capture3d.config import FilterConfig, TrackingConfig  # noqa: E402
from capture3d.reconstruct.folders import load_views  # noqa: E402
from capture3d.reconstruct.quality import fast_fraction, side_disagreements, view_errors_px  # noqa: E402
from capture3d.reconstruct.reconstructor import Reconstructor, select_by_score  # noqa: E402
from capture3d.reconstruct.track import gather_people  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "pose2sim"
DETECTIONS = REPO.parent / "rd"  # where `capture3d detect` wrote the 2D detections (not in the repo)
SESSIONS = {  # name -> (session folder holding Config.toml, trial folder, detections folder name)
    "Trial_2": ("Demo_Batch", "Demo_Batch/Trial_2", "trial2_mp"),
    "Trial_1": ("Demo_Batch", "Demo_Batch/Trial_1", "trial1_mp"),
}
FPS = 60.0
SCORE_MIN = 0.3
FAST_MPS = 10.0
LEG_JOINTS = ("Hip", "Knee", "Ankle", "Heel", "BigToe", "SmallToe")
ARM_JOINTS = ("Shoulder", "Elbow", "Wrist")
NAMES = BODY_25.names
LEG_SWAP = np.arange(len(NAMES))
for _j in LEG_JOINTS:
    _l, _r = NAMES.index("L" + _j), NAMES.index("R" + _j)
    LEG_SWAP[_l], LEG_SWAP[_r] = _r, _l


# ----------------------------------------------------------------------------------------------- inputs

class Inputs:
    """One session's 2D input: kp (V, T, P, J, 3), the raw JSON of every frame, and per-view blanking."""

    def __init__(self, folders: list[Path], rig):
        self.folders = folders
        self.kp, ids, kps = load_views(folders, len(rig))
        if kps is not BODY_25:
            raise SystemExit(f"{folders[0]}: expected BODY_25 detections")
        self.files = [list_frame_files(f) for f in folders]
        self.json = [[json.loads(p.read_text()) for p in files] for files in self.files]
        self.swap = None  # (view, first frame, n frames) of the injected leg swap

    @property
    def shape(self):
        return self.kp.shape

    def with_leg_swap(self, view: int, start: int, length: int) -> "Inputs":
        out = object.__new__(Inputs)
        out.folders, out.files = self.folders, self.files
        out.kp = self.kp.copy()
        sl = slice(start, start + length)
        out.kp[view, sl] = self.kp[view, sl][..., LEG_SWAP, :]
        out.json = [[dict(d) for d in cam] for cam in self.json]
        for t in range(start, min(start + length, len(out.json[view]))):
            d = out.json[view][t]
            people = []
            for p in d.get("people", []):
                p = dict(p)
                flat = p.get("pose_keypoints_2d") or []
                if len(flat) == 3 * len(NAMES):
                    arr = np.asarray(flat, dtype=object).reshape(len(NAMES), 3)
                    p["pose_keypoints_2d"] = arr[LEG_SWAP].reshape(-1).tolist()
                people.append(p)
            d["people"] = people
        out.swap = (view, start, length)
        return out

    def kp_without(self, view: int | None) -> np.ndarray:
        kp = self.kp.copy()
        if view is not None:
            kp[view] = np.nan
            kp[view, ..., 2] = 0.0
        return kp

    def write_json(self, pose_dir: Path, view: int | None) -> None:
        """OpenPose folders camNN_json as Pose2Sim wants them; the held-out view gets empty frames."""
        for v, (files, frames) in enumerate(zip(self.files, self.json)):
            d = pose_dir / f"{self.folders[v].name}_json"
            d.mkdir(parents=True)
            for p, data in zip(files, frames):
                (d / p.name).write_text(json.dumps({"version": 1.3, "people": []} if v == view else data))


def best_person(kp: np.ndarray) -> np.ndarray:
    """(V, T, P, J, 3) -> (V, T, J, 3): the highest-score detection of each view and frame."""
    chosen = select_by_score(kp)
    return np.stack([gather_people(kp[:, t], chosen[:, t]) for t in range(kp.shape[1])], axis=1)


# ---------------------------------------------------------------------------------------------- methods

def run_raw(rig, inp: Inputs, view, ctx) -> np.ndarray:
    return triangulate(rig, best_person(inp.kp_without(view))).xyz_world


def run_live(rig, inp: Inputs, view, ctx) -> np.ndarray:
    rec = Reconstructor(rig, BODY_25)
    kp = inp.kp_without(view)
    return np.stack([rec.process(kp[:, t], t / FPS).xyz_world for t in range(kp.shape[1])])


def run_offline(rig, inp: Inputs, view, ctx) -> np.ndarray:
    kp = inp.kp_without(view)
    return Reconstructor(rig, BODY_25).process_sequence(kp, np.arange(kp.shape[1]) / FPS, FPS).xyz_world


def run_filter_only(rig, inp: Inputs, view, ctx) -> np.ndarray:
    """Tracking off (the highest-score detection per view, no left/right repair), offline filter on."""
    kp = inp.kp_without(view)
    rec = Reconstructor(rig, BODY_25, tracking=TrackingConfig(enabled=False), filtering=FilterConfig())
    return rec.process_sequence(kp, np.arange(kp.shape[1]) / FPS, FPS).xyz_world


def aniposelib_group(rig):
    """aniposelib CameraGroup of the rig, warmed up (its first triangulation compiles with numba)."""
    from aniposelib.cameras import Camera, CameraGroup

    group = CameraGroup([Camera(name=c.name, size=list(c.size_wh), matrix=c.K, dist=c.dist, rvec=c.rvec,
                                tvec=c.tvec) for c in rig.cameras])
    grid = np.stack(np.meshgrid(*[np.linspace(-1.0, 1.0, 4)] * 2, [0.5, 1.5]), -1).reshape(-1, 3)
    xy = rig.project(grid)
    xy[0, :4] = np.nan  # the path for points missing in some views compiles too
    group.triangulate(xy, undistort=True, progress=False)
    return group


def run_aniposelib(rig, inp: Inputs, view, ctx) -> np.ndarray:
    kp = best_person(inp.kp_without(view))  # (V, T, J, 3)
    xy = np.where((kp[..., 2] >= SCORE_MIN)[..., None], kp[..., :2], np.nan)
    V, T, J = xy.shape[:3]
    if "anipose" not in ctx:
        ctx["anipose"] = aniposelib_group(rig)
    group = ctx["anipose"]
    out = group.triangulate(xy.reshape(V, T * J, 2), undistort=True, progress=False)
    return out.reshape(T, J, 3)


class Pose2SimRunner:
    """Pose2Sim's triangulate_all (+ filter_all) on one input, in a temporary project folder."""

    def __init__(self, rig, config_path: Path, workdir: Path):
        from Pose2Sim import filtering, triangulation

        self.triangulation, self.filtering = triangulation, filtering
        self.rig, self.workdir, self.n, self.base_path = rig, workdir, 0, config_path
        with open(config_path, "rb") as f:
            self.base = tomllib.load(f)
        self.cache: dict = {}

    def config(self, project: Path) -> dict:
        cfg = json.loads(json.dumps(self.base))
        cfg.setdefault("project", {}).update(project_dir=str(project), multi_person=False, frame_rate=int(FPS),
                                             frame_range="all")
        cfg.setdefault("pose", {})["pose_model"] = "BODY_25"
        cfg.setdefault("triangulation", {}).update(make_c3d=False, show_interp_indices=False)
        cfg.setdefault("filtering", {}).update(display_figures=False, save_filt_plots=False, make_c3d=False)
        return cfg

    def run(self, inp: Inputs, view) -> tuple[np.ndarray, np.ndarray, float, float]:
        """(unfiltered (T, J, 3), filtered (T, J, 3), triangulation s, filtering s), cached per input+view."""
        key = (id(inp), view)
        if key in self.cache:
            return self.cache[key]
        self.n += 1
        session = self.workdir / f"run{self.n:03d}"
        project = session / "trial"
        (session / "calibration").mkdir(parents=True)
        save_rig(session / "calibration" / "Calib_capture3d.toml", self.rig)
        shutil.copy(self.base_path, session / "Config.toml")
        inp.write_json(project / "pose", view)
        cfg = self.config(project)
        t0 = time.perf_counter()
        self.triangulation.triangulate_all(cfg)
        t1 = time.perf_counter()
        self.filtering.filter_all(cfg)
        t2 = time.perf_counter()
        T = inp.shape[1]
        trc = sorted((project / "pose-3d").glob("*.trc"))
        raw = [p for p in trc if "filt" not in p.name]
        filt = [p for p in trc if "filt" in p.name]
        out = (read_trc(raw[0], T) if raw else np.full((T, len(NAMES), 3), np.nan),
               read_trc(filt[0], T) if filt else np.full((T, len(NAMES), 3), np.nan), t1 - t0, t2 - t1)
        self.cache[key] = out
        shutil.rmtree(session, ignore_errors=True)
        return out


def read_trc(path: Path, T: int) -> np.ndarray:
    """Pose2Sim TRC (Y up: X_trc = Y, Y_trc = Z, Z_trc = X) -> (T, J, 3) in the rig's Z-up world; joints
    and frames it does not write, and the (0, 0, 0) it writes for joints never triangulated, are NaN."""
    lines = path.read_text().splitlines()
    markers = [m for m in lines[3].split("\t")[2:] if m]
    data = np.loadtxt(lines[5:], delimiter="\t", ndmin=2) if len(lines) > 5 else np.zeros((0, 2))
    out = np.full((T, len(NAMES), 3), np.nan)
    for k, name in enumerate(markers):
        j = NAMES.index("MidHip" if name == "CHip" else name)
        xyz_trc = data[:, 2 + 3 * k: 5 + 3 * k]
        frames = data[:, 0].astype(int)
        ok = (frames >= 0) & (frames < T)
        out[frames[ok], j] = xyz_trc[ok][:, [2, 0, 1]]
    out[(out == 0).all(-1)] = np.nan  # Pose2Sim writes 0, 0, 0 where it has no value to fill a gap with
    return out


def run_pose2sim(rig, inp: Inputs, view, ctx) -> np.ndarray:
    return ctx["pose2sim"].run(inp, view)[0]


def run_pose2sim_filt(rig, inp: Inputs, view, ctx) -> np.ndarray:
    return ctx["pose2sim"].run(inp, view)[1]


METHODS = [  # (label, function, constrains bone lengths)
    ("capture3d raw triangulation", run_raw, False),
    ("capture3d tracking + live filter", run_live, True),
    ("capture3d filter only (no tracking)", run_filter_only, True),
    ("capture3d tracking + offline filter", run_offline, True),
    ("aniposelib triangulate", run_aniposelib, False),
    ("Pose2Sim triangulation", run_pose2sim, False),
    ("Pose2Sim triangulation + filtering", run_pose2sim_filt, False),
]


# ---------------------------------------------------------------------------------------------- metrics

def med_p95(e: np.ndarray) -> tuple[float, float]:
    e = e[np.isfinite(e)]
    return (float(np.median(e)), float(np.percentile(e, 95))) if e.size else (np.nan, np.nan)


def bone_cv(xyz: np.ndarray) -> float:
    b = tree_bones(BODY_25)
    L = np.linalg.norm(xyz[:, b[:, 0]] - xyz[:, b[:, 1]], axis=-1)  # (T, B)
    cvs = []
    for k in range(L.shape[1]):
        x = L[np.isfinite(L[:, k]), k]
        if x.size >= 10:
            cvs.append(100 * x.std() / x.mean())
    return float(np.median(cvs)) if cvs else np.nan


def limb_pairs() -> list[list[tuple[int, int]]]:
    limbs = []
    for joints in (LEG_JOINTS, ARM_JOINTS):
        limbs.append([(NAMES.index("L" + j), NAMES.index("R" + j)) for j in joints])
    return limbs


def swap_events(xyz: np.ndarray) -> np.ndarray:
    """(T,) bool: a limb (leg or arm) exchanges its left and right labels between frame t-1 and t, i.e. for
    most of its joints seen in both frames, L(t) is nearer R(t-1) than L(t-1) and R(t) nearer L(t-1)."""
    T = xyz.shape[0]
    ev = np.zeros(T, bool)
    d = lambda a, b: np.linalg.norm(a - b, axis=-1)  # noqa: E731
    for pairs in limb_pairs():
        l_idx, r_idx = [p[0] for p in pairs], [p[1] for p in pairs]
        L, R = xyz[:, l_idx], xyz[:, r_idx]  # (T, K, 3)
        with np.errstate(invalid="ignore"):
            ex = (d(L[1:], R[:-1]) < d(L[1:], L[:-1])) & (d(R[1:], L[:-1]) < d(R[1:], R[:-1]))
        seen = np.isfinite(L[1:]).all(-1) & np.isfinite(R[1:]).all(-1) & np.isfinite(L[:-1]).all(-1) & \
            np.isfinite(R[:-1]).all(-1)
        n_seen = seen.sum(axis=1)
        ev[1:] |= (n_seen > 0) & (2 * (ex & seen).sum(axis=1) > n_seen)
    return ev


def run_method(rig, inp: Inputs, fn, ctx, hold_out: bool) -> dict:
    """One method on one input: its output (T, J, 3), the held-out-view outputs and one run's wall time."""
    wall = np.inf
    for _ in range(2):  # best of two (the first call of a library may compile or load code)
        t0 = time.perf_counter()
        xyz = fn(rig, inp, None, ctx)
        wall = min(wall, time.perf_counter() - t0)
    if fn in (run_pose2sim, run_pose2sim_filt):
        p = ctx["pose2sim"].run(inp, None)
        wall = p[2] + (p[3] if fn is run_pose2sim_filt else 0.0)
    held = [fn(rig, inp, v, ctx) for v in range(inp.shape[0])] if hold_out else []
    return {"xyz": xyz, "held": held, "wall_s": wall, "swap": inp.swap}


def measure(rig, out: dict, ref: np.ndarray, joints: np.ndarray) -> dict:
    """The table's numbers for one method's output, over the given joints (bool (J,))."""
    V = ref.shape[0]
    keep = np.where(joints[:, None], 1.0, np.nan)  # (J, 1): other joints count as not there
    xyz = out["xyz"] * keep
    held = np.stack([view_errors_px(rig, h * keep, ref, [v], SCORE_MIN)[0] for v, h in enumerate(out["held"])]) \
        if out["held"] else np.full(1, np.nan)
    ev = swap_events(xyz)
    row = dict(zip(("held_med", "held_p95"), med_p95(held)))
    row.update(zip(("reproj_med", "reproj_p95"), med_p95(view_errors_px(rig, xyz, ref, range(V), SCORE_MIN))))
    limbs = [p for pairs in limb_pairs() for p in pairs]
    against = int(side_disagreements(rig, xyz, ref, limbs, SCORE_MIN).any(axis=1).sum())
    row.update(bone_cv=bone_cv(xyz), fast=100 * fast_fraction(xyz, FPS, FAST_MPS), against=against, swaps=int(ev.sum()),
               coverage=float(100 * np.isfinite(xyz[:, joints]).all(-1).mean()), wall_s=out["wall_s"])
    if out["swap"] is not None:
        _, s, n = out["swap"]
        row["swaps_window"] = int(ev[s: s + n + 1].sum())
    return row


# ------------------------------------------------------------------------------------------------ table

COLS = [("held_med", "held-out px", "{:.1f}"), ("held_p95", "p95", "{:.1f}"),
        ("reproj_med", "reproj px", "{:.1f}"), ("reproj_p95", "p95", "{:.1f}"),
        ("bone_cv", "bone CV %", "{:.1f}"), ("fast", "fast %", "{:.2f}"), ("against", "vs views", "{:d}"),
        ("swaps", "LR swaps", "{:d}"), ("p2s_med", "to P2S mm", "{:.0f}"), ("p2s_p95", "p95", "{:.0f}"),
        ("swaps_window", "in window", "{:d}"), ("coverage", "coverage %", "{:.1f}"), ("wall_s", "time s", "{:.2f}")]


def fmt(v, f) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    return f.format(v)


def print_header() -> None:
    print(f"{'session':<12}{'input':<10}{'method':<38}" + "".join(f"{h:>12}" for _, h, _ in COLS), flush=True)


def print_row(r: dict) -> None:
    print(f"{r['session']:<12}{r['input']:<10}{r['method']:<38}" +
          "".join(f"{fmt(r.get(k), f):>12}" for k, _, f in COLS), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", nargs="+", default=["Trial_2", "Trial_1"], choices=sorted(SESSIONS))
    ap.add_argument("--detections", type=Path, default=DETECTIONS,
                    help="folder holding one detection folder per session (e.g. trial2_mp/cam01..cam04)")
    ap.add_argument("--swap-view", type=int, default=1, help="view whose legs are swapped (0-based)")
    ap.add_argument("--swap-start", type=int, default=35)
    ap.add_argument("--swap-frames", type=int, default=30)
    ap.add_argument("--no-pose2sim", action="store_true")
    ap.add_argument("--no-held-out", action="store_true", help="skip the held-out-view runs (faster)")
    ap.add_argument("--csv", type=Path, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)

    if not args.no_pose2sim:
        try:
            import Pose2Sim  # noqa: F401
        except ImportError as e:
            print(f"Pose2Sim rows skipped: cannot import Pose2Sim ({e}); run tools/bench/setup_env.sh")
            args.no_pose2sim = True
    methods = [m for m in METHODS if not (args.no_pose2sim and m[0].startswith("Pose2Sim"))]
    versions = {"capture3d": __import__("capture3d").__version__}
    for pkg in ("aniposelib", "pose2sim"):
        try:
            from importlib.metadata import version
            versions[pkg] = version(pkg)
        except Exception:  # noqa: BLE001 - a peer that is not installed is reported as such
            versions[pkg] = "not installed"
    print("Real-data benchmark: 2D (MediaPipe, BODY_25, OpenPose JSON) -> 3D, same inputs and calibration")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    rows = []
    t_start = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="bench_realdata_"))
    try:
        for name in args.sessions:
            sess_dir, trial_dir, det_name = SESSIONS[name]
            det_root = args.detections / det_name
            calib = DATA / sess_dir / "calibration" / "Calib.qca.txt"
            rig = load_rig(calib)
            folders = [det_root / c for c in rig.names]
            if not all(f.is_dir() for f in folders):
                raise SystemExit(f"{det_root}: expected one OpenPose JSON folder per camera ({', '.join(rig.names)}); "
                                 f"make them with: capture3d detect {DATA / trial_dir}/videos/cam0*.mp4 -o {det_root}")
            clean = Inputs(folders, rig)
            V, T, P, J, _ = clean.shape
            swapped = clean.with_leg_swap(args.swap_view, args.swap_start, args.swap_frames)
            ref = best_person(clean.kp)
            print(f"\nsession {name} ({DATA / trial_dir}): {T} frames at {FPS:.0f} fps, {V} cameras "
                  f"({', '.join(rig.names)}, {rig.cameras[0].size_wh[0]}x{rig.cameras[0].size_wh[1]}), "
                  f"calibration {calib.name}, detections {det_root}")
            print(f"leg swap: view {rig.names[args.swap_view]}, frames {args.swap_start}-"
                  f"{args.swap_start + args.swap_frames - 1} (LR swaps 'in window': transitions into, within "
                  f"and out of it)")
            ctx: dict = {"anipose": aniposelib_group(rig)}
            if not args.no_pose2sim:
                ctx["pose2sim"] = Pose2SimRunner(rig, DATA / sess_dir / "Config.toml", workdir)
            runs = [(label, inp, method, constrained, run_method(rig, inp, fn, ctx, not args.no_held_out))
                    for label, inp in (("clean", clean), ("leg swap", swapped)) for method, fn, constrained in methods]
            # joints that some view detects and every method outputs (Pose2Sim's BODY_25 has no eyes or ears)
            joints = (ref[..., 2] > 0).any(axis=(0, 1))
            for *_, out in runs:
                joints &= np.isfinite(out["xyz"]).all(-1).any(0)
            print(f"measured over {joints.sum()} of {J} joints (detected in some view and output by every "
                  f"method); left out: {', '.join(n for n, j in zip(NAMES, joints) if not j)}")
            print_header()
            peer = {label: out["xyz"] for label, _, method, _, out in runs
                    if method == "Pose2Sim triangulation + filtering"}
            for label, inp, method, constrained, out in runs:
                r = dict(session=name, frames=T, cameras=V, input=label, joints=int(joints.sum()),
                         method=method + (" *" if constrained else ""))
                r.update(measure(rig, out, ref, joints))
                if "clean" in peer:  # distance to Pose2Sim's filtered 3D of the clean input, mm
                    d = 1000 * np.linalg.norm((out["xyz"] - peer["clean"])[:, joints], axis=-1)
                    r["p2s_med"], r["p2s_p95"] = med_p95(d)
                rows.append(r)
                print_row(r)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n* constrains bone lengths (its bone CV is not a triangulation measure). held-out px: median, p95 over "
          "joints, frames and held-out views; reproj px: the output in every view; detections with score >= "
          f"{SCORE_MIN}; fast: > {FAST_MPS:.0f} m/s; time s: one full run, best of two (Pose2Sim: its "
          "triangulation, + its filtering, one run each, with their file reading and writing), held-out runs not "
          "counted. Pose2Sim settings: the session's Config.toml (it fills "
          "large gaps with the last value and trims the take to its valid sections).")
    print(f"total {time.perf_counter() - t_start:.0f} s")
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        keys = ["session", "frames", "cameras", "joints", "input", "method"] + [k for k, _, _ in COLS]
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow({k: r.get(k, "") for k in keys})
        print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
