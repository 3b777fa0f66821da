"""Shared by the stream tests: a live run of the real pipeline (synthetic cameras paced in real time, the
synthetic detector) with its 3D results fed to capture3d.stream sinks."""
from dataclasses import dataclass

from capture3d.detect import create_detector
from capture3d.reconstruct.reconstructor import Reconstructor
from capture3d.runtime.app import thread_switch_interval
from capture3d.runtime.pipeline import Pipeline
from capture3d.sources.synthetic import SyntheticSource
from capture3d.stream import open_streams
from capture3d.synth import ErrorModel, walking_motion


@dataclass
class LiveRun:
    pipeline: Pipeline
    hub: object
    keypoint_set: object


def live_run(urls, frames=90, whole_body=True, fps=60.0, on_start=None, before_start=None, tap=None) -> LiveRun:
    """Run ``frames`` frame sets at ``fps`` through the live pipeline into streams ``urls`` (results
    collected); before_start(hub) is called once the streams are open, on_start(run) once the pipeline runs.
    tap(snapshot) is called after each result was handed to the streams. The streams are closed on return."""
    motion = walking_motion(frames, fps, whole_body=whole_body)
    src = SyntheticSource(3, fps, (320, 240), seed=1, live=True, max_frames=frames, motion=motion, color=False)
    det = create_detector("synthetic", rig=src.rig, motion=motion, error_model=ErrorModel(1.0, 0.02, 0.0, swaps=0.0), hands=whole_body,
                          seed=1)
    hub = open_streams(urls, motion.keypoint_set, fps)

    def on_result(snapshot):
        hub.offer(snapshot)
        if tap is not None:
            tap(snapshot)

    pipe = Pipeline(src, det, Reconstructor(src.rig, motion.keypoint_set), mode="live", collect=True,
                    thumbnail_width=0, on_result=on_result if (urls or tap) else None)
    run = LiveRun(pipe, hub, motion.keypoint_set)
    try:
        if before_start is not None:
            before_start(hub)
        with thread_switch_interval():  # as ``capture3d live`` runs
            pipe.start()
            if on_start is not None:
                on_start(run)
            pipe.wait()
            pipe.stop()
    finally:
        pipe.stop()
        hub.close()
    return run


class Browser:
    """Headless Chromium driven over the DevTools protocol (a websockets client): ``open(url)``,
    ``evaluate(js)``, ``wait_for(js, timeout_s)``, ``screenshot()`` -> BGR image."""

    def __init__(self, binary: str, tmp_path, size=(800, 600)) -> None:
        import subprocess  # noqa: PLC0415
        self.profile = tmp_path / "chromium-profile"
        self.proc = subprocess.Popen([binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                      "--remote-debugging-port=0", f"--user-data-dir={self.profile}",
                                      f"--window-size={size[0]},{size[1]}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._id = 0
        self._cdp = None
        try:
            self._connect()
        except BaseException:
            self.close()
            raise

    def _connect(self) -> None:
        import json  # noqa: PLC0415
        import time  # noqa: PLC0415
        import urllib.request  # noqa: PLC0415
        from websockets.sync.client import connect  # noqa: PLC0415
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60.0
        while not (port_file.exists() and port_file.read_text().strip()):  # Chromium writes it once listening
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("headless Chromium did not start its DevTools server")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = next(t for t in targets if t["type"] == "page")
        self._cm = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        self._cdp = self._cm.__enter__()

    def call(self, method: str, params=None, timeout_s: float = 20.0) -> dict:
        import json  # noqa: PLC0415
        self._id += 1
        self._cdp.send(json.dumps({"id": self._id, "method": method, "params": params or {}}))
        while True:
            msg = json.loads(self._cdp.recv(timeout=timeout_s))
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    def open(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})

    def evaluate(self, js: str):
        return self.call("Runtime.evaluate", {"expression": js, "returnByValue": True})["result"].get("value")

    def wait_for(self, js: str, timeout_s: float = 30.0) -> None:
        import time  # noqa: PLC0415
        deadline = time.monotonic() + timeout_s
        while not self.evaluate(js):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page never made {js!r} true")
            time.sleep(0.05)

    def screenshot(self):
        import base64  # noqa: PLC0415
        import cv2  # noqa: PLC0415
        import numpy as np  # noqa: PLC0415
        data = base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"])
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)

    def close(self) -> None:
        if self._cdp is not None:
            self._cm.__exit__(None, None, None)
        self.proc.kill()
        self.proc.wait(10)
