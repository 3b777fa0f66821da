"""Ctrl-C and SIGTERM as a clean stop of a running Pipeline (``stop_on_signals``)."""
from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def stop_on_signals(pipeline) -> Iterator[None]:
    """While inside: SIGINT (Ctrl-C) and SIGTERM ask the pipeline (a ``Pipeline``) to stop cleanly (main
    thread only)."""
    def handler(signum, _frame):
        pipeline.request_stop(signal.Signals(signum).name)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
