"""Stream URLs: ``vmc://HOST[:PORT]``, ``osc://HOST[:PORT]``, ``lsl://NAME``, ``ws://HOST[:PORT]``
(no capture3d imports beyond errors: the config checks them).

Options come as a query: ``vmc://HOST:PORT?people=N`` (one VMC performer per person, on ports PORT ..
PORT+N-1) and ``lsl://NAME?people=N`` (a channel block per person); N is 1..``MAX_PEOPLE``, 1 by default
(one performer, today's layout). Any other option, or ``people`` on osc:// or ws://, is an error that says
what is allowed.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from capture3d.errors import StreamError

#: stream URL schemes -> default port (None: no port, the URL names the stream)
SCHEMES = {"vmc": 39539, "osc": 9000, "lsl": None, "ws": 8765}
_SCHEME_HELP = "vmc://HOST[:PORT][?people=N] (VMC protocol, default port 39539), osc://HOST[:PORT] (plain OSC, " \
               "default 9000), lsl://NAME[?people=N] (Lab Streaming Layer), ws://HOST[:PORT] (WebSocket + browser " \
               "page, default 8765)"
EXTRA_HINT = "pip install 'capture3d[stream]'"
MAX_PEOPLE = 16  # people=N: at most this many performers (VMC ports) or channel blocks (LSL) per stream
#: schemes that take ``?people=N``
PEOPLE_SCHEMES = ("vmc", "lsl")


@dataclass(frozen=True)
class StreamTarget:
    """A parsed stream URL. scheme: a key of SCHEMES; host and port (network streams); name (lsl); people:
    the ``?people=N`` option (vmc, lsl; 1 when not given)."""

    url: str
    scheme: str
    host: str = ""
    port: int = 0
    name: str = ""
    people: int = 1

    def ports(self) -> range:
        """The UDP ports a network stream sends to (VMC with people=N: PORT .. PORT+N-1)."""
        return range(self.port, self.port + (self.people if self.scheme == "vmc" else 1))


def _options(text: str, scheme: str, query: str) -> dict:
    """The URL's ``?key=value`` options, checked: {"people": N}."""
    allowed = "people=N" if scheme in PEOPLE_SCHEMES else "none"
    out = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key != "people" or scheme not in PEOPLE_SCHEMES:
            raise StreamError(f"stream URL {text!r}: unknown option {key!r}; {scheme}:// takes {allowed}"
                              + (" (people=N is for vmc:// and lsl://)" if key == "people" else ""))
        if key in out:
            raise StreamError(f"stream URL {text!r}: {key} is given twice; give it once")
        try:
            n = int(value)
        except ValueError:
            n = None
        if n is None or not 1 <= n <= MAX_PEOPLE:
            raise StreamError(f"stream URL {text!r}: people must be an integer 1..{MAX_PEOPLE} (performers / "
                              f"channel blocks), found {value!r}")
        out["people"] = n
    return out


def parse_stream_url(url: str) -> StreamTarget:
    """``vmc://127.0.0.1:39539``, ``osc://HOST:PORT``, ``lsl://NAME``, ``ws://0.0.0.0:8765`` -> StreamTarget.
    Raises StreamError naming the schemes for anything else."""
    text = str(url).strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES or "://" not in text:
        raise StreamError(f"stream URL {text!r}: unknown scheme {parts.scheme or '(none)'!r}; expected one of "
                          f"{_SCHEME_HELP}")
    options = _options(text, scheme, parts.query)
    if scheme == "lsl":
        name = text.split("://", 1)[1].split("?", 1)[0].strip("/")
        if not name:
            raise StreamError(f"stream URL {text!r}: expected lsl://NAME (the LSL stream's name)")
        return StreamTarget(text, scheme, name=name, **options)
    try:
        port = parts.port
    except ValueError:
        raise StreamError(f"stream URL {text!r}: the port must be a number 1..65535") from None
    host = parts.hostname or ""
    if not host:
        raise StreamError(f"stream URL {text!r}: expected {scheme}://HOST[:PORT]")
    if parts.path not in ("", "/"):
        raise StreamError(f"stream URL {text!r}: expected {scheme}://HOST[:PORT] with no path")
    target = StreamTarget(text, scheme, host=host, port=SCHEMES[scheme] if port is None else port, **options)
    if target.ports()[-1] > 65535:
        raise StreamError(f"stream URL {text!r}: people={target.people} needs ports {target.port}.."
                          f"{target.ports()[-1]}, past the last port 65535")
    return target


def check_stream_urls(urls, error=StreamError, where: str = "") -> list[StreamTarget]:
    """Parse every URL (raising ``error`` with the first bad one's message, prefixed by ``where``) and
    refuse the same stream twice (or two VMC streams whose port ranges overlap). Returns the targets."""
    targets, seen = [], {}
    for u in urls:
        try:
            t = parse_stream_url(u)
        except StreamError as exc:
            raise error(f"{where}: {exc}" if where else str(exc)) from None
        for port in t.ports():
            key = (t.scheme, t.host, port, t.name)
            if key in seen:
                lead = f"{where}: " if where else ""
                if seen[key] == u:
                    raise error(f"{lead}stream URL {u!r} is given twice")
                what = f"the LSL stream {t.name!r}" if t.scheme == "lsl" else \
                    f"port {port} of {t.host} (people=N takes N ports from PORT on)"
                raise error(f"{lead}stream URLs {seen[key]!r} and {u!r} both send to {what}")
            seen[key] = u
        targets.append(t)
    return targets
