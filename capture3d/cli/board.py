"""``capture3d board``: draw a printable calibration board at true scale."""
from __future__ import annotations

import argparse
from capture3d.cli.numbers import int_in

_EPILOG = """\
examples:
  capture3d board calibration/boards/charuco_7x5.toml -o charuco_7x5.pdf
  capture3d board calibration/boards/checkerboard_9x6.toml -o board.png --dpi 600

Print at 100% scale ('actual size', never 'fit to page') and check one square with a ruler.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("board", help="draw a printable calibration board (PNG or PDF)",
                              description="Draw a board defined in a TOML file at true scale, with its "
                                          "specification printed in the margin.",
                              epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("board", help="board definition TOML (see calibration/boards/)")
    p.add_argument("-o", "--output", required=True, help="output .png or .pdf")
    p.add_argument("--dpi", type=int_in(1, 4800), default=300, help="resolution in dots per inch (default 300)")
    p.add_argument("--force", action="store_true", help="draw even a page of more than 250 megapixels")
    p.set_defaults(func=run)


def run(args) -> int:
    from capture3d.calib import load_board
    from capture3d.calib.board_print import square_size_mm, write_board

    board = load_board(args.board)
    path = write_board(args.output, board, args.dpi, force=args.force)
    sx, sy = board.squares_xy
    s = square_size_mm(board)
    print(f"wrote {path}: {board.describe()}, {sx * s:g} x {sy * s:g} mm at {args.dpi} dpi")
    return 0
