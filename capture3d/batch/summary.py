"""The batch's summary: per session frames, people (``capture3d.batch.work.people_cell``), reconstructed %,
mean reprojection error, time and status, as a text table and as ``OUT/batch_summary.csv``
(``pandas.read_csv`` reads it with no options)."""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from capture3d.io.atomic import atomic_write_text

COLUMNS = ("session", "status", "steps", "frames", "people", "reconstructed_pct", "reprojection_px", "seconds", "error")


def summary_rows(results) -> list[dict]:
    """results: the workers' dicts (and "skipped" ones) -> rows with COLUMNS, sorted by session name."""
    rows = []
    for r in results:
        rows.append({"session": r["id"], "status": r["status"], "steps": "+".join(r.get("steps", [])) or "-",
                     "frames": int(r.get("frames", 0)), "people": r.get("people", ""),
                     "reconstructed_pct": float(r.get("valid_pct", math.nan)),
                     "reprojection_px": float(r.get("reproj_px", math.nan)),
                     "seconds": float(r.get("seconds", 0.0)), "error": r.get("error", "")})
    return sorted(rows, key=lambda row: row["session"])


def _fmt(v, digits: int) -> str:
    return "" if isinstance(v, float) and not math.isfinite(v) else f"{v:.{digits}f}"


def summary_text(rows) -> str:
    """A fixed-width table; errors are listed under it, one per failed session."""
    head = ("session", "status", "steps", "frames", "people", "recon %", "reproj px", "time s")
    body = [(r["session"], r["status"], r["steps"], str(r["frames"]), r["people"], _fmt(r["reconstructed_pct"], 1),
             _fmt(r["reprojection_px"], 2), _fmt(r["seconds"], 1)) for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
             for line in (head, *body)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += [f"{r['session']}: {r['error']}" for r in rows if r["status"] == "failed"]
    return "\n".join(lines)


def write_summary_csv(path: Path, rows) -> Path:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (_fmt(v, 4) if isinstance(v, float) else v) for k, v in r.items()})
    return atomic_write_text(path, buf.getvalue())
