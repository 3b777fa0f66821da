"""Benchmark the live streams (capture3d.stream).

1. Added latency: from the 3D result handed to the streams (``StreamHub.offer``) to the packet received by
   a loopback client, per protocol alone and with all four on: VMC and OSC (a UDP socket), LSL (a pylsl
   StreamInlet), WebSocket (a websockets client). Frames: the whole-body synthetic walker (WHOLEBODY_135),
   offered at --fps (60) frame sets/s for --seconds. Reported: p50 / p95 / max ms, frames received / offered.
2. The pipeline with and without all four streams in the same run: synthetic cameras paced at --fps,
   synthetic detector, 3D; frame-set rate, 3D results, p95 latency exposure -> 3D result.
Both run with the 1 ms thread switch interval ``capture3d live`` sets.

    PYTHONPATH=. python tools/bench/bench_stream.py              # ~1 min
"""
from __future__ import annotations

import argparse
import json
import logging
import socket
import struct
import sys
import threading
import time
from pathlib import Path

import numpy as np

from capture3d.runtime.app import thread_switch_interval
from capture3d.stream import StreamFrame, open_streams
from capture3d.synth import walking_motion

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))


class Clock:
    """Frames offered at ``fps``: frame i has time_s = i / fps (so a receiver can tell which it got)."""

    def __init__(self, fps: float) -> None:
        self.fps = fps
        self.handed: dict[int, float] = {}

    def index_of(self, time_s: float) -> int:
        return int(round(time_s * self.fps))


def _udp_receiver(kind: str, clock: Clock, out: list, stop: threading.Event):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)

    def run():
        t0 = None
        while not stop.is_set():
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            now = time.perf_counter()
            if kind == "osc":  # /capture3d/frame is the bundle's first message: its int32 index at byte 48
                i = struct.unpack_from(">i", data, 48)[0]
            else:  # /VMC/Ext/T is the last message: its float32 (seconds since the first frame) ends the packet
                i = clock.index_of(struct.unpack_from(">f", data, len(data) - 4)[0]) + (t0 or 0)
            out.append((i, now))
        sock.close()

    return sock.getsockname()[1], threading.Thread(target=run, daemon=True)


def _lsl_receiver(name: str, clock: Clock, out: list, stop: threading.Event, offset_of):
    import pylsl  # noqa: PLC0415
    inlet = pylsl.StreamInlet(pylsl.resolve_byprop("name", name, 1, 10.0)[0], max_buflen=2)
    inlet.open_stream(10.0)

    def run():
        while not stop.is_set():
            s, ts = inlet.pull_sample(timeout=0.2)
            if s is not None:
                out.append((clock.index_of(ts - offset_of()), time.perf_counter()))
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


def latency_run(kinds: list[str], fps: float, seconds: float) -> dict[str, tuple]:
    """Offer frames to the streams ``kinds`` at fps; per kind (p50, p95, max ms, received, offered)."""
    motion = walking_motion(int(fps * seconds), fps, whole_body=True)
    kps = motion.keypoint_set
    clock, stop = Clock(fps), threading.Event()
    got: dict[str, list] = {k: [] for k in kinds}
    urls, threads = [], []
    ports = {}
    for k in kinds:
        if k in ("vmc", "osc"):
            ports[k], t = _udp_receiver(k, clock, got[k], stop)
            urls.append(f"{k}://127.0.0.1:{ports[k]}")
            threads.append(t)
    name = f"bench-{time.monotonic_ns()}"
    if "lsl" in kinds:
        urls.append(f"lsl://{name}")
    if "ws" in kinds:
        urls.append("ws://127.0.0.1:0")
    hub = open_streams(urls, kps, fps)
    sinks = {s.label.split(":")[0]: s for s in hub.sinks}
    if "lsl" in kinds:
        threads.append(_lsl_receiver(name, clock, got["lsl"], stop, lambda: sinks["lsl"].clock_offset_s))
    if "ws" in kinds:
        threads.append(_ws_receiver(sinks["ws"].port, got["ws"], stop))
    for t in threads:
        t.start()
    time.sleep(0.5)  # clients connected
    J = kps.n_joints
    conf, zeros, views = np.full(J, 0.9), np.zeros(J), np.full(J, 3)
    t_start = time.perf_counter()
    n = motion.n_frames
    for i in range(n):
        due = t_start + i / fps
        while time.perf_counter() < due:
            time.sleep(max(0.0, min(0.002, due - time.perf_counter())))
        handed = time.perf_counter()
        clock.handed[i] = handed
        hub.offer_frame(StreamFrame(i, i / fps, motion.xyz_world[i], conf, zeros, views, handed))
    time.sleep(0.5)
    stop.set()
    hub.close()
    for t in threads:
        t.join(5)
    out = {}
    for k in kinds:
        lat = np.array([1e3 * (now - clock.handed[i]) for i, now in got[k] if i in clock.handed])
        lat = lat[10:]  # warm-up (the VMC rest pose is measured on the first frames)
        out[k] = (np.percentile(lat, 50), np.percentile(lat, 95), lat.max(), len(got[k]), n) if len(lat) else None
    return out


def pipeline_run(urls, fps: float, seconds: float, whole_body: bool):
    from stream_helpers import live_run  # noqa: PLC0415  (the tests' live run: synthetic cameras + detector)
    run = live_run(urls, frames=int(fps * seconds), whole_body=whole_body, fps=fps)
    return run.pipeline.stats(), run.hub.stats()


def main() -> None:
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
    print(f"\npipeline, streams off vs all four on ({args.fps:g} fps, 3 synthetic cameras, {args.seconds:g} s each)")
    print(f"{'keypoints':<16} {'streams':<8} {'sets':>6} {'3D results':>11} {'latency p95 ms':>15}")
    for whole_body in (False, True):
        for on in (False, True):
            urls = ["vmc://127.0.0.1:39999", "osc://127.0.0.1:39998", f"lsl://bench-{time.monotonic_ns()}",
                    "ws://127.0.0.1:0"] if on else []
            st, _ = pipeline_run(urls, args.fps, args.seconds, whole_body)
            print(f"{'WHOLEBODY_135' if whole_body else 'BODY_25':<16} {'on' if on else 'off':<8} {st.sets:>6d} "
                  f"{st.processed:>11d} {st.latency_ms_p95:>15.1f}")


if __name__ == "__main__":
    main()
