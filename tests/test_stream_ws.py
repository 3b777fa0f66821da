"""The WebSocket stream (ws://HOST:PORT) during a synthetic live run: real websockets clients receive the
hello and frames that are the live 3D results; the page served at http://HOST:PORT/ draws the skeleton in
headless Chromium (pixel check of a screenshot)."""
import json
import shutil
import threading
import urllib.request

import numpy as np
import pytest

from stream_helpers import Browser, live_run

websockets = pytest.importorskip("websockets", reason="the WebSocket stream needs websockets: "
                                                      "pip install 'capture3d[stream]'")
from websockets.sync.client import connect  # noqa: E402


class _Client:
    """A websockets client (its own thread) collecting every message until the server closes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.messages: list[dict] = []
        self.connected = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        assert self.connected.wait(10), f"could not connect to {url}"

    def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed
        with connect(self.url, open_timeout=10) as ws:
            self.connected.set()
            try:
                while True:
                    self.messages.append(json.loads(ws.recv(timeout=30)))
            except (ConnectionClosed, TimeoutError):
                pass


def test_websocket_clients_receive_frames_matching_the_live_output():
    clients = []
    page = {}

    def connect_clients(hub):
        port = hub.sinks[0].port
        clients.extend(_Client(f"ws://127.0.0.1:{port}/") for _ in range(2))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            page["type"], page["body"] = r.headers["Content-Type"], r.read().decode()

    run = live_run(["ws://127.0.0.1:0"], frames=60, before_start=connect_clients)
    for c in clients:
        c.thread.join(10)
        assert not c.thread.is_alive()
    assert page["type"].startswith("text/html") and "<canvas" in page["body"]
    assert "<script src" not in page["body"] and "cdn" not in page["body"].lower()  # own code, no CDN
    kps = run.keypoint_set
    results = dict(run.pipeline.results)
    for c in clients:
        hello, frames = c.messages[0], c.messages[1:]
        assert hello["type"] == "hello" and hello["joints"] == list(kps.names) and hello["units"] == "m"
        assert [kps.parents[b] for a, b in hello["bones"]] == [a for a, b in hello["bones"]]
        assert len(frames) >= 20, len(frames)  # newest-first: a busy machine skips some, never queues
        assert all(f["index"] > g["index"] for g, f in zip(frames, frames[1:]))
        for f in frames:
            assert f["type"] == "frame" and f["keypoint_set"] == kps.name
            pose = results.get(f["index"])
            if pose is None:
                assert all(j is None for j in f["joints"])
                continue
            assert f["time_s"] == pytest.approx(pose.time_s, abs=1e-6)
            seen = np.isfinite(pose.xyz_world).all(axis=1)
            assert [j is not None for j in f["joints"]] == seen.tolist()
            got = np.array([j for j in f["joints"] if j is not None]).reshape(-1, 3)
            np.testing.assert_allclose(got, pose.xyz_world[seen], atol=5.1e-5)  # 0.1 mm rounding
            np.testing.assert_allclose(f["confidence"], np.nan_to_num(pose.confidence), atol=5.1e-4)
            assert f["views"] == pose.n_views.tolist()
            err = [np.nan if e is None else e for e in f["reproj_err_px"]]
            np.testing.assert_allclose(err, pose.reproj_err_px, atol=5.1e-3)


def _color_pixels(img, rgb, tol=40):
    bgr = np.array(rgb[::-1], float)
    return int((np.linalg.norm(img.astype(float) - bgr, axis=-1) < tol).sum())


def test_the_page_draws_the_live_skeleton_in_a_browser(tmp_path):
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("headless Chromium not installed (bash tools/install.sh --test installs Debian's chromium)")
    box = {}

    def open_page(hub):
        browser = box["browser"] = Browser(binary, tmp_path)
        browser.open(f"http://127.0.0.1:{hub.sinks[0].port}/")
        browser.wait_for("window.capture3d && window.capture3d.joints.length > 0")  # connected, hello read
        box["empty"] = browser.screenshot()

    try:
        run = live_run(["ws://127.0.0.1:0"], frames=90, whole_body=False, before_start=open_page)
        browser = box["browser"]
        frames_seen = browser.evaluate("window.capture3d.frames")
        img = browser.screenshot()
    finally:
        if "browser" in box:
            box["browser"].close()
    assert frames_seen >= 30, frames_seen
    assert run.hub.stats()[run.hub.sinks[0].label]["sent"] >= 30
    left, right, centre = (_color_pixels(img, c) for c in ((255, 150, 30), (30, 170, 255), (60, 220, 110)))
    assert min(left, right) > 300 and centre > 100, (left, right, centre)
    assert max(_color_pixels(box["empty"], c) for c in ((255, 150, 30), (30, 170, 255))) == 0
    # the skeleton stands upright in the view: its coloured pixels span a good part of the height
    ys = np.flatnonzero((np.abs(img.astype(int) - [30, 150, 255]).sum(axis=-1) < 60).any(axis=1))
    assert ys.max() - ys.min() > 0.3 * img.shape[0], (ys.min(), ys.max())


def test_the_page_draws_every_person_in_the_colour_of_its_id(tmp_path):
    """Two walkers tracked with people = "all" through the WebSocket stream: the page draws both, each in the
    colour the Qt viewer gives its id (person 1 orange, person 2 violet), and lists them in its status line."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("headless Chromium not installed (bash tools/install.sh --test installs Debian's chromium)")
    from capture3d.runtime.pipeline import Pipeline
    from capture3d.stream.hub import open_streams
    from capture3d.viewer.geometry import person_rgba
    from people_live_helpers import two_walkers

    crowd, src, det, rec = two_walkers(frames=90)
    hub = open_streams(["ws://127.0.0.1:0"], crowd.keypoint_set, 30.0)
    browser = Browser(binary, tmp_path)
    try:
        browser.open(f"http://127.0.0.1:{hub.sinks[0].port}/")
        browser.wait_for("window.capture3d && window.capture3d.joints.length > 0")
        pipe = Pipeline(src, det, rec, mode="live", thumbnail_width=0, on_result=hub.offer)
        pipe.start()
        pipe.wait()
        pipe.stop()
        browser.wait_for("window.capture3d.frame && window.capture3d.frame.people.length == 2")
        img = browser.screenshot()
        status = browser.evaluate("document.getElementById('status').textContent")
    finally:
        browser.close()
        hub.close()
    assert "2 people (1, 2), out: 1" in status, status
    for rgba in person_rgba([1, 2]):
        rgb = tuple(int(round(255 * c)) for c in rgba[:3])
        assert _color_pixels(img, rgb, tol=30) > 300, (rgb, _color_pixels(img, rgb, tol=30))


def test_live_says_the_port_a_websocket_stream_got(capsys):
    """ws://HOST:0 takes a free port: the command says which, so the page can be opened."""
    import re

    from capture3d.cli import main

    from pathlib import Path

    config = Path(__file__).resolve().parents[1] / "configs" / "demo-live.toml"
    assert main(["live", "--config", str(config), "--no-viewer", "--duration", "0.5",
                 "--stream", "ws://127.0.0.1:0"]) == 0
    m = re.search(r"stream ws://127\.0\.0\.1:0: serving ws://127\.0\.0\.1:(\d+)/ and the page http://127\.0\.0\.1:(\d+)/",
                  capsys.readouterr().out)
    assert m is not None and int(m.group(1)) == int(m.group(2)) > 0
