"""Stream URLs: ``vmc://HOST[:PORT]``, ``osc://HOST[:PORT]``, ``lsl://NAME``, ``ws://HOST[:PORT]``
(no capture3d imports beyond errors: the config checks them).
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from capture3d.errors import StreamError

#: stream URL schemes -> default port (None: no port, the URL names the stream)
SCHEMES = {"vmc": 39539, "osc": 9000, "lsl": None, "ws": 8765}
_SCHEME_HELP = "vmc://HOST[:PORT] (VMC protocol, default port 39539), osc://HOST[:PORT] (plain OSC, default 9000), " \
               "lsl://NAME (Lab Streaming Layer), ws://HOST[:PORT] (WebSocket + browser page, default 8765)"
EXTRA_HINT = "pip install 'capture3d[stream]'"


@dataclass(frozen=True)
class StreamTarget:
    """A parsed stream URL. scheme: a key of SCHEMES; host and port (network streams); name (lsl)."""

    url: str
    scheme: str
    host: str = ""
    port: int = 0
    name: str = ""


def parse_stream_url(url: str) -> StreamTarget:
    """``vmc://127.0.0.1:39539``, ``osc://HOST:PORT``, ``lsl://NAME``, ``ws://0.0.0.0:8765`` -> StreamTarget.
    Raises StreamError naming the schemes for anything else."""
    text = str(url).strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES or "://" not in text:
        raise StreamError(f"stream URL {text!r}: unknown scheme {parts.scheme or '(none)'!r}; expected one of "
                          f"{_SCHEME_HELP}")
    if scheme == "lsl":
        name = text.split("://", 1)[1].strip("/")
        if not name:
            raise StreamError(f"stream URL {text!r}: expected lsl://NAME (the LSL stream's name)")
        return StreamTarget(text, scheme, name=name)
    try:
        port = parts.port
    except ValueError:
        raise StreamError(f"stream URL {text!r}: the port must be a number 1..65535") from None
    host = parts.hostname or ""
    if not host:
        raise StreamError(f"stream URL {text!r}: expected {scheme}://HOST[:PORT]")
    if parts.path not in ("", "/"):
        raise StreamError(f"stream URL {text!r}: expected {scheme}://HOST[:PORT] with no path")
    return StreamTarget(text, scheme, host=host, port=SCHEMES[scheme] if port is None else port)


def check_stream_urls(urls, error=StreamError, where: str = "") -> list[StreamTarget]:
    """Parse every URL (raising ``error`` with the first bad one's message, prefixed by ``where``) and
    refuse the same stream twice. Returns the targets."""
    targets, seen = [], set()
    for u in urls:
        try:
            t = parse_stream_url(u)
        except StreamError as exc:
            raise error(f"{where}: {exc}" if where else str(exc)) from None
        key = (t.scheme, t.host, t.port, t.name)
        if key in seen:
            raise error(f"{where + ': ' if where else ''}stream URL {u!r} is given twice")
        seen.add(key)
        targets.append(t)
    return targets
