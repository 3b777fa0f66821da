"""WebSocket (``ws://HOST:PORT``): JSON frames to any number of clients, and the live skeleton page at
``http://HOST:PORT/`` (``page.html``: own code on a <canvas>, no CDN) served by the same server.

Messages (text, JSON): on connect ``{"type": "hello", "keypoint_set", "joints": [names], "bones": [[parent,
child], ...] (joint indices), "fps", "units": "m", "axes": "right-handed, Z up"}``, then per frame set
``{"type": "frame", "index", "time_s" (capture time, host monotonic clock, s), "t" (s since the first frame),
"keypoint_set", "joints": [[x, y, z] or null], "confidence": [...], "views": [...], "reproj_err_px":
[... or null]}`` (metres to 0.1 mm, capture3d's world frame); with ``[tracking] people = "all"`` also
``"people": [{"id", "joints": [[x, y, z] or null]}, ...]``, every person in view in the frame set, and
``"person_id"``: whose pose "joints" above is (the person picked in the viewer, else the lowest id in view;
null: nobody's).

Each client has its own latest-value hand-off: it is sent the newest frame when it is ready for one, so a
slow client misses frames (never a queue that grows) and never delays the others or the capture. The
asyncio event loop runs in its own thread; ``send`` (the stream's worker thread) only encodes and posts.
"""
from __future__ import annotations

import asyncio
import errno
import json
import logging
import threading
from importlib import resources

import numpy as np

from capture3d.body.keypoint_sets import KeypointSet
from capture3d.errors import StreamError
from capture3d.stream.base import StreamFrame, StreamTarget, need

log = logging.getLogger(__name__)


def hello_message(keypoint_set: KeypointSet, fps: float) -> str:
    bones = [[int(p), k] for k, p in enumerate(keypoint_set.parents) if p >= 0]
    return json.dumps({"type": "hello", "keypoint_set": keypoint_set.name, "joints": list(keypoint_set.names),
                       "bones": bones, "fps": fps, "units": "m", "axes": "right-handed, Z up"})


_FORMATS: dict[tuple[str, bytes], str] = {}


def _items(item: str, present: np.ndarray) -> str:
    """A %-format for a JSON array's items: ``item`` (e.g. "%.4f") where present, ``null`` elsewhere (cached
    per pattern of missing values: that changes rarely from one frame to the next)."""
    key = (item, present.tobytes())
    fmt = _FORMATS.get(key)
    if fmt is None:
        if len(_FORMATS) > 512:
            _FORMATS.clear()
        fmt = _FORMATS[key] = ",".join(item if p else "null" for p in present)
    return fmt


def frame_message(frame: StreamFrame, keypoint_set_name: str, t0_s: float) -> str:
    """The frame's JSON text (see the module docstring): numbers written by one %-format per array (metres
    to 4 decimals, confidence 3, reprojection error 2), ``null`` for what is missing."""
    xyz = np.asarray(frame.xyz_world, dtype=float)
    seen = np.isfinite(xyz).all(axis=1)
    err = np.asarray(frame.reproj_err_px, dtype=float)
    err_ok = np.isfinite(err)
    conf = np.nan_to_num(np.asarray(frame.confidence, dtype=float))
    every = np.ones(len(conf), dtype=bool)
    joints = _items("[%.4f,%.4f,%.4f]", seen) % tuple(xyz[seen].ravel().tolist())
    confidence = _items("%.3f", every) % tuple(conf.tolist())
    views = ",".join(map(str, np.asarray(frame.n_views, dtype=int).tolist()))
    reproj = _items("%.2f", err_ok) % tuple(err[err_ok].tolist())
    people = ""
    if frame.people_ids is not None:
        entries = []
        for pid, p_xyz in zip(frame.people_ids, frame.people_xyz):
            ok = np.isfinite(p_xyz).all(axis=1)
            entries.append(f'{{"id":{int(pid)},"joints":[' + _items("[%.4f,%.4f,%.4f]", ok)
                           % tuple(p_xyz[ok].ravel().tolist()) + "]}")
        followed = "null" if frame.person_id is None else str(int(frame.person_id))
        people = f',"person_id":{followed},"people":[{",".join(entries)}]'
    return (f'{{"type":"frame","index":{int(frame.index)},"time_s":{json.dumps(round(float(frame.time_s), 6))},'
            f'"t":{json.dumps(round(float(frame.time_s - t0_s), 6))},"keypoint_set":{json.dumps(keypoint_set_name)},'
            f'"joints":[{joints}],"confidence":[{confidence}],"views":[{views}],"reproj_err_px":[{reproj}]'
            f'{people}}}')


def page_html() -> bytes:
    return resources.files("capture3d.stream").joinpath("page.html").read_bytes()


class WebSocketSink:
    """The server on target.host:target.port. ``clients``: connected WebSocket clients now."""

    def __init__(self, target: StreamTarget, keypoint_set: KeypointSet, fps: float) -> None:
        self.label = target.url
        self.host, self.port = target.host, target.port
        self.keypoint_set = keypoint_set
        self._hello = hello_message(keypoint_set, fps)
        self._page = page_html()
        self.clients = 0
        self.t0_s: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._open_error: BaseException | None = None
        self._seq, self._text, self._closing = 0, "", False
        self._changed: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None

    # ------------------------------------------------------------------ the stream's thread
    def open(self) -> None:
        need("websockets", f"WebSocket stream {self.label}")
        self._thread = threading.Thread(target=self._run, name=f"stream {self.label} server", daemon=True)
        self._thread.start()
        self._ready.wait(10.0)
        if self._open_error is not None:
            self._thread.join(5.0)
            raise self._open_error
        if not self._ready.is_set():
            raise StreamError(f"WebSocket stream {self.label}: the server did not start within 10 s")

    def send(self, frame: StreamFrame) -> None:
        if self.t0_s is None:
            self.t0_s = frame.time_s
        if not self.clients:  # nobody to send it to: no text to build
            return
        text = frame_message(frame, self.keypoint_set.name, self.t0_s)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._publish, text)
            except RuntimeError:  # the loop closed meanwhile
                pass

    def close(self) -> None:
        loop = self._loop
        if loop is not None and self._thread is not None and self._thread.is_alive():
            try:
                loop.call_soon_threadsafe(self._shutdown)
            except RuntimeError:
                pass
            self._thread.join(10.0)
        self._loop = None

    # ------------------------------------------------------------------ the event loop's thread
    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 - handed to open() (before ready) or logged
            if not self._ready.is_set():
                self._open_error = exc
                self._ready.set()
            else:
                log.error("WebSocket stream %s: server failed: %r", self.label, exc)

    async def _serve(self) -> None:
        from websockets.asyncio.server import serve  # noqa: PLC0415
        self._loop = asyncio.get_running_loop()
        self._changed, self._stop = asyncio.Event(), asyncio.Event()
        try:
            server = await serve(self._client, self.host, self.port, process_request=self._http, compression=None,
                                 ping_interval=5, ping_timeout=10, close_timeout=1, max_size=2 ** 16)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StreamError(f"WebSocket stream {self.label}: port {self.port} on {self.host} is already in "
                                  "use (another capture3d, or another server); choose another port") from None
            raise StreamError(f"WebSocket stream {self.label}: cannot listen on {self.host}:{self.port} ({exc})") from None
        if self.port == 0:  # an ephemeral port (tests): the one the system chose
            self.port = server.sockets[0].getsockname()[1]
        log.info("WebSocket stream on ws://%s:%d (page: http://%s:%d/)", self.host, self.port, self.host, self.port)
        self._ready.set()
        async with server:
            await self._stop.wait()
            self._closing = True
            self._wake()
            server.close()
            await server.wait_closed()

    def _shutdown(self) -> None:
        self._stop.set()

    def _wake(self) -> None:
        ev, self._changed = self._changed, asyncio.Event()
        ev.set()

    def _publish(self, text: str) -> None:
        self._seq += 1
        self._text = text
        self._wake()

    def _http(self, connection, request):
        """Plain HTTP requests get the page; WebSocket upgrades go on to ``_client``."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        from websockets.datastructures import Headers  # noqa: PLC0415
        from websockets.http11 import Response  # noqa: PLC0415
        if request.path.split("?")[0] in ("/", "/index.html"):
            headers = Headers([("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"),
                               ("Content-Length", str(len(self._page)))])
            return Response(200, "OK", headers, self._page)
        body = b"not found: the page is at /, the WebSocket stream at ws://HOST:PORT/\n"
        return Response(404, "Not Found", Headers([("Content-Type", "text/plain"),
                                                   ("Content-Length", str(len(body)))]), body)

    async def _client(self, ws) -> None:
        from websockets.exceptions import ConnectionClosed  # noqa: PLC0415
        self.clients += 1
        last = self._seq
        try:
            await ws.send(self._hello)
            while not self._closing:
                ev = self._changed
                if self._seq == last:
                    await ev.wait()
                    continue
                last = self._seq
                await ws.send(self._text)  # waits while this client's buffer is full: it skips frames
        except ConnectionClosed:
            pass
        finally:
            self.clients -= 1
