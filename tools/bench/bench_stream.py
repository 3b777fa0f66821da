"""Benchmark the live streams (capture3d.stream).

1. Added latency: from the 3D result handed to the streams (``StreamHub.offer``) to the packet received by
   a loopback client, per protocol alone and with all four on: VMC and OSC (a UDP socket), LSL (a pylsl
   StreamInlet), WebSocket (a websockets client). Each client runs in a process of its own (as real
   receivers do), timed on the shared monotonic clock. Frames: the whole-body synthetic walker
   (WHOLEBODY_135), offered at --fps (60) frame sets/s for --seconds. Reported: p50 / p95 / max ms, frames
   received / offered.
2. The pipeline with and without all four streams in the same run (each stream with a receiving client):
   synthetic cameras paced at --fps, synthetic detector, 3D; frame sets, 3D results, p50 / p95 latency
   exposure -> 3D result.
Both run with the 1 ms thread switch interval ``capture3d live`` sets.

    PYTHONPATH=. python tools/bench/bench_stream.py              # ~2 min
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from capture3d.runtime.app import thread_switch_interval
from capture3d.stream import StreamFrame, open_streams
from capture3d.synth import walking_motion

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))


def _index_of(time_s: float, fps: float) -> int:
    """Frames are offered at ``fps`` with time_s = i / fps, so a receiver can tell which one it got."""
    return int(round(time_s * fps))


# ------------------------------------------------------------------------------------ the receiver process
def receiver_main() -> None:
    """``bench_stream.py --receiver KINDS FPS LSL_NAME``: loopback clients in a process of their own (as
    VSeeFace, LabRecorder or a browser are), so their parsing does not compete with the streams (or with each
    other) for an interpreter lock. Protocol (JSON lines): prints {"ports": {vmc, osc}}; reads
    {"ws_port"}; connects, prints {"ready": true}; reads {"stop": true}; prints {"got": {kind: [[index,
    perf_counter at receipt], ...]}}. time.perf_counter is the system's monotonic clock, shared by both
    processes."""
    kinds = [k for k in sys.argv[2].split(",") if k in ("vmc", "osc", "lsl", "ws")]
    fps, lsl_name = float(sys.argv[3]), sys.argv[4]
    stop = threading.Event()
    got: dict[str, list] = {k: [] for k in kinds}
    ports, threads = {}, []
    for k in kinds:
        if k in ("vmc", "osc"):
            ports[k], t = _udp_receiver(k, fps, got[k], stop)
            threads.append(t)
    print(json.dumps({"ports": ports}), flush=True)
    ws_port = json.loads(sys.stdin.readline())["ws_port"]
    if "lsl" in kinds:
        threads.append(_lsl_receiver(lsl_name, fps, got["lsl"], stop))
    if "ws" in kinds:
        threads.append(_ws_receiver(ws_port, got["ws"], stop))
    for t in threads:
        t.start()
    time.sleep(0.5)  # the clients connected and subscribed
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.readline()
    stop.set()
    for t in threads:
        t.join(5)
    print(json.dumps({"got": got}), flush=True)


def _udp_receiver(kind: str, fps: float, out: list, stop: threading.Event):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)

    def run():
        while not stop.is_set():
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            now = time.perf_counter()
            if kind == "osc":  # /capture3d/frame is the bundle's first message: its int32 index at byte 48
                i = struct.unpack_from(">i", data, 48)[0]
            else:  # /VMC/Ext/T is the last message: its float32 (seconds since the first frame) ends the packet
                i = _index_of(struct.unpack_from(">f", data, len(data) - 4)[0], fps)
            out.append((i, now))
        sock.close()

    return sock.getsockname()[1], threading.Thread(target=run, daemon=True)


def _lsl_receiver(name: str, fps: float, out: list, stop: threading.Event):
    import pylsl  # noqa: PLC0415
    from capture3d.stream.base import monotonic_to  # noqa: PLC0415
    inlet = pylsl.StreamInlet(pylsl.resolve_byprop("name", name, 1, 10.0)[0], max_buflen=2)
    inlet.open_stream(10.0)
    offset = monotonic_to(pylsl.local_clock)  # LSL clock - monotonic clock: the same in both processes

    def run():
        while not stop.is_set():
            s, ts = inlet.pull_sample(timeout=0.2)
            if s is not None:
                out.append((_index_of(ts - offset, fps), time.perf_counter()))
        inlet.close_stream()

    return threading.Thread(target=run, daemon=True)


def _ws_receiver(port: int, out: list, stop: threading.Event):
    from websockets.sync.client import connect  # noqa: PLC0415

    def run():
        with connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
            while not stop.is_set():
                try:
                    text = ws.recv(timeout=0.2)
                except TimeoutError:
                    continue
                except Exception:  # noqa: BLE001 - the server closed at the end
                    return
                now = time.perf_counter()
                msg = json.loads(text)
                if msg["type"] == "frame":
                    out.append((msg["index"], now))

    return threading.Thread(target=run, daemon=True)


class _ReceiverProcess:
    """One receiver process for stream kinds ``kinds`` (see receiver_main)."""

    def __init__(self, kinds, fps: float, lsl_name: str) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        self.proc = subprocess.Popen([sys.executable, __file__, "--receiver", ",".join(kinds) or "none", str(fps),
                                      lsl_name], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.ports = self.read()["ports"]

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("a receiver process ended early")
        return json.loads(line)

    def write(self, msg: dict) -> None:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()


class Receivers:
    """The loopback clients of stream kinds ``kinds``, one process each (as separate applications are):
    ``urls`` to stream to; ``connect(hub)`` once the streams are open (waits until the clients are ready);
    ``finish()`` -> {kind: [(index, t_received)]}."""

    def __init__(self, kinds, fps: float) -> None:
        self.kinds = list(kinds)
        self.lsl_name = f"bench-{os.getpid()}-{time.monotonic_ns()}"
        self.procs = {k: _ReceiverProcess([k], fps, self.lsl_name) for k in self.kinds}

    @property
    def urls(self) -> list[str]:
        urls = [f"{k}://127.0.0.1:{self.procs[k].ports[k]}" for k in self.kinds if k in ("vmc", "osc")]
        urls += [f"lsl://{self.lsl_name}"] if "lsl" in self.kinds else []
        return urls + (["ws://127.0.0.1:0"] if "ws" in self.kinds else [])

    def connect(self, hub) -> None:
        ws = [s for s in hub.sinks if s.label.startswith("ws")]
        for p in self.procs.values():
            p.write({"ws_port": ws[0].port if ws else 0})
        for p in self.procs.values():
            p.read()  # ready

    def finish(self) -> dict[str, list]:
        got = {}
        for p in self.procs.values():
            p.write({"stop": True})
        for p in self.procs.values():
            got.update(p.read()["got"])
            p.proc.wait(10)
        return got


# ------------------------------------------------------------------------------------ the capturing process
def latency_run(kinds: list[str], fps: float, seconds: float) -> dict[str, tuple]:
    """Offer frames to the streams ``kinds`` at fps; per kind (p50, p95, max ms, received, offered)."""
    motion = walking_motion(int(fps * seconds), fps, whole_body=True)
    kps = motion.keypoint_set
    rx = Receivers(kinds, fps)
    hub = open_streams(rx.urls, kps, fps)
    rx.connect(hub)
    J = kps.n_joints
    conf, zeros, views = np.full(J, 0.9), np.zeros(J), np.full(J, 3)
    handed: dict[int, float] = {}
    t_start = time.perf_counter()
    n = motion.n_frames
    for i in range(n):
        due = t_start + i / fps
        while time.perf_counter() < due:
            time.sleep(max(0.0, min(0.002, due - time.perf_counter())))
        handed[i] = time.perf_counter()
        hub.offer_frame(StreamFrame(i, i / fps, motion.xyz_world[i], conf, zeros, views, handed[i]))
    time.sleep(0.5)
    hub.close()
    got = rx.finish()
    out = {}
    for k in kinds:
        lat = np.array([1e3 * (now - handed[i]) for i, now in got[k] if i in handed])
        lat = lat[10:]  # warm-up (the VMC rest pose is measured on the first frames)
        out[k] = (np.percentile(lat, 50), np.percentile(lat, 95), lat.max(), len(got[k]), n) if len(lat) else None
    return out


def pipeline_run(on: bool, fps: float, seconds: float, whole_body: bool):
    """The live pipeline (the tests' live run: synthetic cameras + detector) with all four streams, each with
    a receiving client (in its own process), or with none."""
    from stream_helpers import live_run  # noqa: PLC0415
    rx = Receivers(["vmc", "osc", "lsl", "ws"] if on else [], fps)
    try:
        run = live_run(rx.urls, frames=int(fps * seconds), whole_body=whole_body, fps=fps, before_start=rx.connect)
    finally:
        got = rx.finish()
    return run.pipeline.stats(), run.hub.stats(), {k: len(v) for k, v in got.items()}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--receiver":
        receiver_main()
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fps", type=float, default=60.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with thread_switch_interval():  # as ``capture3d live`` runs (1 ms thread switches instead of Python's 5 ms)
        _report(args)


def _report(args) -> None:
    print(f"added latency, 3D result -> packet at a loopback client (WHOLEBODY_135, {args.fps:g} frame sets/s, "
          f"{args.seconds:g} s)")
    print(f"{'stream':<22} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'received':>10}")
    for kinds in (["vmc"], ["osc"], ["lsl"], ["ws"], ["vmc", "osc", "lsl", "ws"]):
        res = latency_run(kinds, args.fps, args.seconds)
        for k, r in res.items():
            label = k if len(kinds) == 1 else f"{k} (all four on)"
            if r is None:
                print(f"{label:<22} nothing received")
                continue
            print(f"{label:<22} {r[0]:8.2f} {r[1]:8.2f} {r[2]:8.2f} {r[3]:>5d}/{r[4]:<4d}")
    print(f"\npipeline, streams off vs all four on, each with a receiving client ({args.fps:g} fps, 3 synthetic "
          f"cameras, {args.seconds:g} s each)")
    print(f"{'keypoints':<16} {'streams':<8} {'sets':>6} {'3D results':>11} {'latency p50 ms':>15} "
          f"{'latency p95 ms':>15}  received (vmc osc lsl ws)")
    for whole_body in (False, True):
        for on in (False, True):
            st, _, got = pipeline_run(on, args.fps, args.seconds, whole_body)
            rec = " ".join(str(got[k]) for k in ("vmc", "osc", "lsl", "ws")) if on else ""
            print(f"{'WHOLEBODY_135' if whole_body else 'BODY_25':<16} {'on' if on else 'off':<8} {st.sets:>6d} "
                  f"{st.processed:>11d} {st.latency_ms_p50:>15.1f} {st.latency_ms_p95:>15.1f}  {rec}")


if __name__ == "__main__":
    main()
