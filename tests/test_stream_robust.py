"""Streams never stall capture: a VMC/OSC receiver that disappears and comes back, a WebSocket client that
never reads and an LSL inlet that never pulls leave the live pipeline's rate and latency as without streams,
and nothing queues up (memory stays flat)."""
import base64
import os
import socket
import threading
import time

import pytest

from stream_helpers import live_run

pytest.importorskip("pylsl")
pytest.importorskip("websockets")

FRAMES = 180  # 3 s at 60 frame sets/s, BODY_25 (a pipeline with room to spare on a small machine: the test
# compares with and without streams, so the 3D stage must keep up without them)


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class _VanishingReceiver:
    """UDP on 127.0.0.1: receives 20 datagrams, closes (gone) until ``back`` is set, then listens again on
    the same port and counts what arrives."""

    def __init__(self, back: threading.Event) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.before = self.after = 0
        self.back = back
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.sock.settimeout(10)
        while self.before < 20:
            self.sock.recv(65536)
            self.before += 1
        self.sock.close()  # gone: the stream's sends now fail (ICMP port unreachable)
        self.back.wait(20)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.settimeout(2)
        try:
            while True:
                self.sock.recv(65536)
                self.after += 1
        except (TimeoutError, OSError):
            pass
        self.sock.close()


def _stuck_ws_client(port: int) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads a byte."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    return s


def test_gone_receivers_and_stuck_clients_do_not_slow_capture():
    import pylsl
    from websockets.sync.client import connect

    baseline = live_run([], frames=FRAMES, whole_body=False).pipeline.stats()
    back, mid = threading.Event(), threading.Event()
    vmc_rx, osc_rx = _VanishingReceiver(back), _VanishingReceiver(back)
    name = f"capture3d-robust-{os.getpid()}"
    box = {"count": 0, "frames": []}

    def before_start(hub):
        ws_sink = next(s for s in hub.sinks if s.label.startswith("ws"))
        box["stuck"] = _stuck_ws_client(ws_sink.port)
        box["inlet"] = pylsl.StreamInlet(pylsl.resolve_byprop("name", name, 1, 10.0)[0], max_buflen=1)
        box["inlet"].open_stream(10.0)  # ... and never pulls a sample
        deadline = time.monotonic() + 10
        while ws_sink.clients < 1 and time.monotonic() < deadline:  # the handshake has been served
            time.sleep(0.01)
        box["reader_cm"] = connect(f"ws://127.0.0.1:{ws_sink.port}/", open_timeout=10)
        reader = box["reader_cm"].__enter__()

        def read():
            try:
                while True:
                    box["frames"].append(reader.recv(timeout=10))
            except Exception:  # noqa: BLE001 - closed at the end of the run
                pass

        box["reader"] = threading.Thread(target=read, daemon=True)
        box["reader"].start()

    def tap(_snapshot):
        box["count"] += 1
        if box["count"] == 60:
            box["rss_mid"] = _rss_mb()
            mid.set()
        if box["count"] == 100:
            back.set()  # the UDP receivers come back

    run = live_run([f"vmc://127.0.0.1:{vmc_rx.port}", f"osc://127.0.0.1:{osc_rx.port}", f"lsl://{name}",
                    "ws://127.0.0.1:0"], frames=FRAMES, whole_body=False, before_start=before_start, tap=tap)
    rss_end = _rss_mb()
    box["reader"].join(15)
    box["stuck"].close()
    for rx in (vmc_rx, osc_rx):
        rx.thread.join(15)
    st = run.pipeline.stats()
    stats = run.hub.stats()
    # capture never waited for a stream: every frame set was assembled, none was mis-paired or late for it
    assert st.sets == baseline.sets == FRAMES and st.mispaired == 0, (st.sets, baseline.sets)
    # the 3D stage kept its pace. The streams' own encoding competes for the interpreter on a small machine
    # (the bench measures it: no change at all on BODY_25 in a quiet run), hence the margins here
    assert st.processed >= 0.8 * st.sets, (st.processed, baseline.processed)
    assert st.latency_ms_p95 < baseline.latency_ms_p95 + 25.0, (st.latency_ms_p95, baseline.latency_ms_p95)
    # the UDP streams noticed the receivers were gone, went on, and reached them again
    for rx, label in ((vmc_rx, "vmc"), (osc_rx, "osc")):
        s = next(v for k, v in stats.items() if k.startswith(label))
        assert rx.before == 20 and rx.after >= 20 and s["errors"] >= 1, (label, rx.before, rx.after, s)
    # the reading WebSocket client was not held up by the stuck one: it got frames to the end of the run
    last = max(i for i, _ in run.pipeline.results)
    import json
    got = [json.loads(m) for m in box["frames"]]
    frames = [g for g in got if g["type"] == "frame"]
    assert len(frames) >= FRAMES // 3 and frames[-1]["index"] >= last - 10, (len(frames), frames[-1]["index"], last)
    # nothing queued up: memory flat from the middle of the run to its end
    assert rss_end - box["rss_mid"] < 25.0, (box["rss_mid"], rss_end)
    box["reader_cm"].__exit__(None, None, None)
