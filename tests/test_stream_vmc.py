"""VMC and plain OSC streams (capture3d.stream) received by a real python-osc server on 127.0.0.1 from a
synthetic live run: every message parses, the VMC local rotations applied down the Unity humanoid hierarchy
point every tracked bone where the streamed joints are (< 1 degree), the OSC joints are the 3D results."""
import queue
import re
import threading

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from capture3d.config import config_from_dict
from capture3d.errors import ConfigError, StreamError
from capture3d.runtime.app import build_live
from capture3d.stream import parse_stream_url
from stream_helpers import live_run

pythonosc = pytest.importorskip("pythonosc", reason="python-osc is the test receiver: pip install 'capture3d[test]'")
from pythonosc.dispatcher import Dispatcher  # noqa: E402
from pythonosc.osc_server import BlockingOSCUDPServer  # noqa: E402

#: Unity (left-handed, Y up) <- capture3d world (Z up): written out here, independently of capture3d
UNITY_FROM_WORLD = np.array([[-1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])


def _unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def _bones_to_check():
    """bone -> (parent, from joint, to joint, rest direction in the T-pose, Unity frame)."""
    t = {"Hips": (None, "RHip", "LHip", (-1, 0, 0)), "Spine": ("Hips", "MidHip", "Neck", (0, 1, 0)),
         "Chest": ("Spine", "RShoulder", "LShoulder", (-1, 0, 0)), "Neck": ("Chest", "Neck", "Nose", (0, 0.8, 0.6))}
    for s, side, x in (("L", "Left", -1.0), ("R", "Right", 1.0)):
        t[f"{side}UpperLeg"] = ("Hips", f"{s}Hip", f"{s}Knee", (0, -1, 0))
        t[f"{side}LowerLeg"] = (f"{side}UpperLeg", f"{s}Knee", f"{s}Ankle", (0, -1, 0))
        t[f"{side}Shoulder"] = ("Chest", "Neck", f"{s}Shoulder", (x, 0, 0))
        t[f"{side}UpperArm"] = (f"{side}Shoulder", f"{s}Shoulder", f"{s}Elbow", (x, 0, 0))
        t[f"{side}LowerArm"] = (f"{side}UpperArm", f"{s}Elbow", f"{s}Wrist", (x, 0, 0))
        t[f"{side}Hand"] = (f"{side}LowerArm", None, None, None)
        for finger, ours in (("Index", "Index"), ("Middle", "Middle"), ("Ring", "Ring"), ("Little", "Pinky"),
                             ("Thumb", "Thumb")):
            parent = f"{side}Hand"
            for k, part in ((1, "Proximal"), (2, "Intermediate"), (3, "Distal")):
                rest = (x, 0, 0) if finger != "Thumb" or k == 1 else (x, 0, 0.8)
                if finger == "Thumb" and k == 1:
                    rest = None  # the thumb's first bone leaves the palm at an angle: not checked
                t[f"{side}{finger}{part}"] = (parent, f"{s}Hand_{ours}{k}", f"{s}Hand_{ours}{k + 1}", rest)
                parent = f"{side}{finger}{part}"
    return t


class _Receiver:
    """A python-osc server on 127.0.0.1 (ephemeral port) collecting the messages of each bundle; a frame
    ends with ``last`` (its address), then the frame's messages go into ``frames``."""

    def __init__(self, last: str) -> None:
        self.frames: queue.Queue = queue.Queue()
        self._cur: list = []
        self._last = last
        disp = Dispatcher()
        disp.set_default_handler(self._on)
        self.server = BlockingOSCUDPServer(("127.0.0.1", 0), disp)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def _on(self, address, *args):
        self._cur.append((address, args))
        if address == self._last:
            self.frames.put(self._cur)
            self._cur = []

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def drain(self):
        out = []
        while True:
            try:
                out.append(self.frames.get_nowait())
            except queue.Empty:
                return out


def _live_run(urls, frames=90, whole_body=True):
    """A live pipeline (synthetic cameras paced at 60 fps, synthetic detector) feeding the streams."""
    return live_run(urls, frames, whole_body)


def test_vmc_bundles_parse_and_reproduce_the_streamed_bone_directions():
    rx = _Receiver("/VMC/Ext/T")
    try:
        run = _live_run([f"vmc://127.0.0.1:{rx.port}"])
        sink = run.hub.sinks[0]
        # every frame set sent has reached the receiver once the run is over (loopback: no loss)
        got = [rx.frames.get(timeout=5.0) for _ in range(run.hub.stats()[sink.label]["sent"])]
    finally:
        rx.close()
    posed = [f for f in got if any(a == "/VMC/Ext/Bone/Pos" for a, _ in f)]
    assert len(posed) >= 20, (len(got), len(posed))
    by_t = {round(p.time_s - sink.t0_s, 3): p for _, p in run.pipeline.results}
    names = run.keypoint_set.names
    table = _bones_to_check()
    errors, checked_bones = [], set()
    for msgs in posed:
        addrs = [a for a, _ in msgs]
        assert addrs[0] == "/VMC/Ext/Root/Pos" and addrs[-2:] == ["/VMC/Ext/OK", "/VMC/Ext/T"]
        assert msgs[-2][1] == (1, 3, 0, 1)
        q = {}
        for a, args in msgs:
            if a == "/VMC/Ext/Bone/Pos":
                assert len(args) == 8 and isinstance(args[0], str) and all(isinstance(v, float) for v in args[1:])
                assert np.isfinite(args[1:]).all() and abs(np.linalg.norm(args[4:]) - 1.0) < 1e-5
                q[args[0]] = Rotation.from_quat(args[4:]).as_matrix()
        assert {"Hips", "Spine", "Chest", "Neck", "Head", "LeftToes", "RightHand", "LeftLittleDistal"} <= set(q)
        pose = by_t[round(msgs[-1][1][0], 3)]
        glob = {}
        for bone, (parent, a, b, rest) in table.items():  # parents come first in the table
            if bone not in q:
                continue
            glob[bone] = q[bone] if parent is None else glob[parent] @ q[bone]
            if rest is None:
                continue
            xa, xb = pose.xyz_world[names.index(a)], pose.xyz_world[names.index(b)]
            if not (np.isfinite(xa).all() and np.isfinite(xb).all()):
                continue
            want = _unit(UNITY_FROM_WORLD @ (xb - xa))
            got_dir = glob[bone] @ _unit(rest)
            errors.append(np.degrees(np.arccos(np.clip(want @ got_dir, -1, 1))))
            checked_bones.add(bone)
    assert len(checked_bones) >= 40, sorted(checked_bones)
    assert np.max(errors) < 1.0, np.max(errors)
    assert np.median(errors) < 0.05


def test_osc_messages_carry_the_3d_results():
    from capture3d.body.keypoint_sets import WHOLEBODY_135
    rx = _Receiver(f"/capture3d/{WHOLEBODY_135.names[-1]}")
    try:
        run = _live_run([f"osc://127.0.0.1:{rx.port}"], frames=40)
        n = run.hub.stats()[run.hub.sinks[0].label]["sent"]
        got = [rx.frames.get(timeout=5.0) for _ in range(n)]
    finally:
        rx.close()
    results = dict(run.pipeline.results)
    names = run.keypoint_set.names
    assert n >= 10
    for msgs in got:
        assert msgs[0][0] == "/capture3d/frame" and len(msgs) == 1 + len(names)
        index, t, capture_time = msgs[0][1]
        pose = results[index]
        assert capture_time == pose.time_s
        for k, (addr, args) in enumerate(msgs[1:]):
            assert addr == f"/capture3d/{names[k]}" and len(args) == 4
            if np.isfinite(pose.xyz_world[k]).all():
                np.testing.assert_allclose(args[:3], pose.xyz_world[k], atol=1e-6)
                assert args[3] == pytest.approx(pose.confidence[k], abs=1e-6)
            else:
                assert args == (0.0, 0.0, 0.0, 0.0)


def test_bad_stream_urls_say_what_is_expected():
    with pytest.raises(StreamError, match=r"unknown scheme 'udp'.*vmc://HOST\[:PORT\].*osc://.*lsl://NAME.*ws://"):
        parse_stream_url("udp://127.0.0.1:9000")
    with pytest.raises(StreamError, match="port must be a number"):
        parse_stream_url("vmc://127.0.0.1:99999")
    assert parse_stream_url("vmc://127.0.0.1").port == 39539
    assert parse_stream_url("lsl://capture3d").name == "capture3d"
    with pytest.raises(ConfigError, match="stream.urls: stream URL 'http://x'.*unknown scheme"):
        config_from_dict({"stream": {"urls": ["http://x"]}})
    with pytest.raises(StreamError, match="given twice"):
        build_live(config_from_dict({}), streams=["osc://127.0.0.1:9", "osc://127.0.0.1:9"])


def test_a_missing_package_names_the_extra(monkeypatch):
    import sys
    from capture3d.stream.base import need
    monkeypatch.setitem(sys.modules, "pylsl", None)  # what an environment without pylsl gives
    with pytest.raises(StreamError, match=r"LSL stream lsl://x needs the Python package 'pylsl'.*capture3d\[stream\]"):
        need("pylsl", "LSL stream lsl://x")


def test_capture3d_live_streams_from_the_command_line(capsys):
    """``capture3d live --stream``: the demo config's synthetic cameras, a plain UDP receiver."""
    import socket
    from pathlib import Path
    from capture3d.cli import main
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.5)
    port = rx.getsockname()[1]
    demo = Path(__file__).resolve().parents[1] / "configs" / "demo-live.toml"
    assert main(["live", "--config", str(demo), "--no-viewer", "--duration", "1.5",
                 "--stream", f"osc://127.0.0.1:{port}"]) == 0
    got = []
    try:
        while True:
            got.append(rx.recv(65536))
    except TimeoutError:
        pass
    rx.close()
    out = capsys.readouterr().out
    sent = int(re.search(rf"stream osc://127.0.0.1:{port}: (\d+) frames sent", out).group(1))
    assert sent >= 10 and len(got) == sent and all(g.startswith(b"#bundle\0") for g in got)
    assert main(["live", "--config", str(demo), "--no-viewer", "--stream", "tcp://x"]) == 2
    assert "unknown scheme 'tcp'" in capsys.readouterr().err


def test_a_port_in_use_is_named():
    import socket
    from capture3d.body.keypoint_sets import BODY_25
    from capture3d.stream import open_streams
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        with pytest.raises(StreamError, match=f"port {port} on 127.0.0.1 is already in use"):
            open_streams([f"ws://127.0.0.1:{port}"], BODY_25, 30.0)
    finally:
        busy.close()
