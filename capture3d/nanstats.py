"""NaN-aware statistics without warning floods: missing data is NaN on the per-frame path, so an all-NaN
slice (a joint nobody saw) is an expected answer, not a reason to print a RuntimeWarning per frame."""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Iterator

_EXPECTED = r"(All-NaN slice encountered|Mean of empty slice|Degrees of freedom <= 0|invalid value encountered)"


@contextmanager
def quiet_nan_warnings() -> Iterator[None]:
    """Inside, numpy's warnings about all-NaN or empty slices in nan-reductions (nanmedian, nanmean,
    nanstd, ...) are not shown; every other warning is."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_EXPECTED, category=RuntimeWarning)
        yield
