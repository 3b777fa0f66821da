"""The bad-input battery: every command, as a user runs it (a subprocess), against every class of bad
input (missing path, folder for a file, empty, truncated and corrupt files of every format read, bad
numbers for every numeric flag, read-only and existing outputs, duplicate inputs). Each case must exit
non-zero with no traceback and a message naming the offending path or option, and no input file may
change (cases are listed in bad_input_cases.py)."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bad_input_cases import CASES, numeric_actions, numeric_cases, make_workspace
from capture3d.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
ALL_CASES = CASES + numeric_cases(build_parser())


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() + oct(p.stat().st_mode)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _read_only_folder(path: Path) -> Path | None:
    """A folder nobody can write into (a read-only tmpfs as root, where file modes do not stop writes)."""
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
        return path
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], capture_output=True)
    return path if res.returncode == 0 else None


@pytest.fixture(scope="module")
def battery(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_input")
    inputs = make_workspace(root)
    ro = _read_only_folder(root / "ro")
    before = _digest(inputs)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen", "TQDM_DISABLE": "1"}

    def run(case):
        name, argv, needle = case
        if "{RO}" in " ".join(argv) and ro is None:
            return name, None
        out = root / "out" / name
        out.mkdir(parents=True)
        subst = lambda s: s.replace("{I}", str(inputs)).replace("{O}", str(out)).replace("{RO}", str(ro))  # noqa: E731
        try:
            res = subprocess.run([sys.executable, "-m", "capture3d", *map(subst, argv)], cwd=out, env=env,
                                 capture_output=True, text=True, timeout=90)
        except subprocess.TimeoutExpired:
            return name, (None, "", "timed out after 90 s", subst(needle))
        return name, (res.returncode, res.stdout, res.stderr, subst(needle))

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(pool.map(run, ALL_CASES))
    yield results, inputs, before
    if ro is not None and os.geteuid() == 0:
        subprocess.run(["umount", str(ro)], capture_output=True)


@pytest.mark.parametrize("case", ALL_CASES, ids=[c[0] for c in ALL_CASES])
def test_bad_input_is_a_clear_error(battery, case):
    results, _, _ = battery
    result = results[case[0]]
    if result is None:
        pytest.skip("no read-only folder can be made here (not root, or mount refused)")
    rc, out, err, needle = result
    assert rc not in (0, None), f"exit {rc}\nstdout: {out[-2000:]}\nstderr: {err[-2000:]}"
    assert "Traceback" not in err, err[-3000:]
    assert needle in err, f"{needle!r} not in: {err[-2000:]}"


def test_no_input_file_changed(battery):
    _, inputs, before = battery
    assert _digest(inputs) == before


def test_the_battery_is_large_and_covers_every_numeric_flag():
    assert len(ALL_CASES) >= 150
    from capture3d.cli.numbers import NumberType
    untyped = [(path, a.option_strings[-1]) for path, a in numeric_actions(build_parser())
               if not isinstance(a.type, NumberType)]
    assert not untyped, f"numeric flags without a range (use capture3d.cli.numbers): {untyped}"
