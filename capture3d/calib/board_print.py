"""Printable boards: PNG or PDF at true scale, with the board's specification in the margin.

The board TOML's square size is read as metres when below 1, else as millimetres (for printing
only; calibration results always come out in the board's own unit).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from capture3d.errors import ConfigError
from capture3d.calib.boards import Board

MARGIN_MM = 15.0
TEXT_MM = 12.0
CAPTION_PT = 7
#: width of an average character of the caption (DejaVu Sans, about 0.55 em), mm per point of font size
_CHAR_MM_PER_PT = 0.55 * 25.4 / 72


def square_size_mm(board: Board) -> float:
    """Physical square side in mm (square_size < 1: metres; otherwise millimetres)."""
    return board.square_size * 1000.0 if board.square_size < 1 else board.square_size


def caption_lines(board: Board, width_mm: float, font_pt: float = CAPTION_PT) -> list[str]:
    """The specification text in lines that fit width_mm at font_pt: its "|"-separated parts packed greedily
    (a narrow board gets two or three lines instead of a caption cut at the page edge)."""
    per_line = max(20, int(width_mm / (_CHAR_MM_PER_PT * font_pt)))
    lines: list[str] = []
    for part in spec_text(board).split("   |   "):
        if lines and len(lines[-1]) + 7 + len(part) <= per_line:
            lines[-1] += "   |   " + part
        else:
            lines.append(part)
    return lines


def board_image(board: Board, dpi: int) -> np.ndarray:
    """(H, W) uint8 image of the squares area at ``dpi`` (pixels per inch), true scale."""
    px = int(round(square_size_mm(board) / 25.4 * dpi))
    if px < 8:
        raise ConfigError(f"{dpi} dpi gives only {px} px per square for {board.describe()}; use a higher --dpi")
    return board.texture(px)


def spec_text(board: Board) -> str:
    s = square_size_mm(board)
    text = f"capture3d board '{board.name}': {board.describe()}   |   square {s:g} mm"
    if board.kind == "charuco":
        text += f", marker {board.marker_size / board.square_size * s:g} mm"
    return text + "   |   print at 100% (no 'fit to page'); check one square with a ruler"


#: pages above this many pixels are refused unless forced (matplotlib holds 4 bytes per pixel and more)
MAX_PAGE_MEGAPIXELS = 250.0


def page_size_px(board: Board, dpi: int) -> tuple[int, int]:
    """(W, H) px of the page write_board draws (board plus margins and text) at ``dpi``."""
    sq = square_size_mm(board)
    sx, sy = board.squares_xy
    return (int(round((sx * sq + 2 * MARGIN_MM) / 25.4 * dpi)),
            int(round((sy * sq + 2 * MARGIN_MM + TEXT_MM) / 25.4 * dpi)))


def write_board(path: str | os.PathLike, board: Board, dpi: int = 300, force: bool = False) -> Path:
    """Draw the board into ``path`` (.png or .pdf) at true scale with its spec in the margin. A page
    over MAX_PAGE_MEGAPIXELS is a ConfigError (saying its size) unless ``force``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() not in (".png", ".pdf"):
        raise ConfigError(f"board output must be .png or .pdf, found {path.name!r}")
    w_px, h_px = page_size_px(board, dpi)
    mp = w_px * h_px / 1e6
    if mp > MAX_PAGE_MEGAPIXELS and not force:
        raise ConfigError(f"at {dpi} dpi the page would be {w_px} x {h_px} px ({mp:.0f} megapixels, about "
                          f"{4 * mp / 1024:.1f} GiB to draw), more than {MAX_PAGE_MEGAPIXELS:.0f}; 300-600 dpi prints "
                          "sharp: use a lower --dpi, or --force")
    img = board_image(board, dpi)
    sq = square_size_mm(board)
    sx, sy = board.squares_xy
    w_mm, h_mm = sx * sq, sy * sq
    fig_w_mm, fig_h_mm = w_mm + 2 * MARGIN_MM, h_mm + 2 * MARGIN_MM + TEXT_MM
    fig = plt.figure(figsize=(fig_w_mm / 25.4, fig_h_mm / 25.4), dpi=dpi)
    ax = fig.add_axes((MARGIN_MM / fig_w_mm, (MARGIN_MM + TEXT_MM) / fig_h_mm, w_mm / fig_w_mm, h_mm / fig_h_mm))
    ax.imshow(img, cmap="gray", vmin=0, vmax=255, interpolation="nearest", extent=(0, w_mm, h_mm, 0))
    ax.set_axis_off()
    fig.text(MARGIN_MM / fig_w_mm, (MARGIN_MM + 0.15 * TEXT_MM) / fig_h_mm, "\n".join(caption_lines(board, w_mm)),
             fontsize=CAPTION_PT, va="bottom", ha="left", linespacing=1.2)
    # 50 mm scale bar to verify the print scale
    bar = fig.add_axes((MARGIN_MM / fig_w_mm, 0.5 * MARGIN_MM / fig_h_mm, 50 / fig_w_mm, 1.2 / fig_h_mm))
    bar.set_facecolor("black")
    bar.set_xticks([])
    bar.set_yticks([])
    fig.text((MARGIN_MM + 52) / fig_w_mm, 0.5 * MARGIN_MM / fig_h_mm, "50 mm", fontsize=6, va="bottom")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
