"""Argparse types for numeric flags: the range is part of the flag, so a bad number is a usage error
that names the flag, says what is allowed and what was given (never a traceback deep inside, never a
silent wrong run). Every numeric flag of every command uses one of these (a test checks it).
"""
from __future__ import annotations

import argparse
import math


class NumberType:
    """Callable argparse ``type``: parses ``kind`` (int or float) within [lo, hi] (lo excluded when
    ``lo_open``). ``describe()`` says the range in words."""

    def __init__(self, kind: type, lo: float, hi: float, lo_open: bool = False, unit: str = ""):
        self.kind, self.lo, self.hi, self.lo_open, self.unit = kind, lo, hi, lo_open, unit
        self.__name__ = f"{kind.__name__} {self.describe()}"  # argparse names the type in its messages

    def describe(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        low = f"> {self.lo:g}" if self.lo_open else f">= {self.lo:g}"
        return f"{low} and <= {self.hi:g}{unit}"

    def __call__(self, text: str):
        try:
            value = self.kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {'an integer' if self.kind is int else 'a number'} "
                                             f"{self.describe()}, found {text!r}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number {self.describe()}, found {text!r}")
        if value < self.lo or (self.lo_open and value == self.lo) or value > self.hi:
            raise argparse.ArgumentTypeError(f"expected {self.describe()}, found {text}")
        return value


def int_in(lo: int, hi: int, unit: str = "") -> NumberType:
    """An integer in [lo, hi]."""
    return NumberType(int, lo, hi, unit=unit)


def positive(hi: float, unit: str = "") -> NumberType:
    """A finite number in (0, hi]."""
    return NumberType(float, 0.0, hi, lo_open=True, unit=unit)


PEOPLE_HELP = ("who is reconstructed: one (default: one subject, chosen by [tracking] policy), all (every "
               "person with a stable id; outputs per person) or a person id (follow that person)")


def people_mode(text: str) -> str | int:
    """``--people``: "all" (every person, each with an id), "one" (one subject, the default) or a person id
    (an integer >= 1: follow that person of the multi-person tracker)."""
    t = text.strip().lower()
    if t in ("all", "one"):
        return t
    try:
        value = int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'all', 'one' or a person id (an integer >= 1), found {text!r}") \
            from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a person id >= 1 (ids start at 1), found {text}")
    return value


people_mode.__name__ = "all, one or a person id"


def person_id(text: str) -> int:
    """``--person``: a person id of a take (an integer >= 1; ids start at 1)."""
    try:
        value = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a person id (an integer >= 1), found {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a person id >= 1 (ids start at 1), found {text}")
    return value


person_id.__name__ = "a person id"


def apply_people(tracking, mode: str | int | None):
    """A TrackingConfig with ``--people`` applied (None: unchanged)."""
    import dataclasses  # noqa: PLC0415

    if mode is None:
        return tracking
    if mode in ("all", "one"):
        return dataclasses.replace(tracking, people=mode)
    return dataclasses.replace(tracking, people="one", policy=int(mode))


def people_line(tracking, n_born: int = 0, subject: tuple[int, int] = (0, 0)) -> str:
    """Who the 3D stage followed: every person (n_born got an id) or one subject (by which policy, out of how
    many people); tracking: the TrackingConfig used ("" when tracking was off); subject: single-person mode's
    ``Reconstructor.subject_counts()`` (most people found at once when the subject was chosen, choices)."""
    if tracking is None or not tracking.enabled:
        return ""
    if tracking.people == "all":
        return (f"people: {n_born} tracked with an id (ids 1..{n_born})" if n_born else
                "people: nobody was tracked long enough for an id") + \
            ("; the viewer draws everyone; the streams' single pose and the live BVH are the person picked in "
             "the viewer (default: the lowest id in view; vmc://, lsl:// with ?people=N: one per person)")
    if tracking.person_id is not None:
        return (f"people: following person {tracking.person_id} of the multi-person tracking (--people "
                f"{tracking.person_id} / [tracking] policy = {tracking.person_id})")
    seen, choices = subject
    found = (f" among up to {seen} {'person' if seen == 1 else 'people'} found at once"
             + (f", chosen {choices} times (the subject was lost for longer than hold_s)" if choices > 1 else "")
             if seen else "")
    return (f"people: one subject followed, chosen by [tracking] policy = \"{tracking.policy}\"{found} "
            "(--people all: everyone, each with an id)")
