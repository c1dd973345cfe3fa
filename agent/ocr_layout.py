"""Reading order for OCR lines: top to bottom, left to right, and one text column after another.

rapidocr sorts boxes by their top edge only, which interleaves the lines of a two-column page. We use
a small recursive XY-cut: split into bands at horizontal gaps that cross the whole region, split a
band into columns at a vertical gutter only when both sides look like running text (several lines,
each much wider than the gutter), so that a form's "label      value" rows stay together.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from agent.types import OcrLine

MIN_COLUMN_LINES = 3  # a "column" of one or two lines is more likely a label/value pair
COLUMN_WIDTH_IN_LINE_HEIGHTS = 6.0  # running text is many characters wide; form labels are not
COLUMN_WIDTH_IN_GUTTERS = 2.0


@dataclass(frozen=True)
class _Box:
    line: OcrLine
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def centre_y(self) -> float:
        return (self.y0 + self.y1) / 2


def reading_order(lines: Sequence[OcrLine]) -> tuple[OcrLine, ...]:
    """The lines in the order a person reads them."""
    boxes = [_bounds(line) for line in lines if line.box]
    unplaced = tuple(line for line in lines if not line.box)
    if not boxes:
        return unplaced
    line_height = statistics.median(b.height for b in boxes) or 1.0
    return tuple(b.line for row in _order(boxes, line_height) for b in row) + unplaced


def join_lines(lines: Sequence[OcrLine]) -> str:
    """One text line per visual row: boxes on the same row joined by a space (none between Chinese)."""
    boxes = [_bounds(line) for line in lines if line.box]
    if len(boxes) != len(lines) or not boxes:
        return "\n".join(line.text for line in lines)
    line_height = statistics.median(b.height for b in boxes) or 1.0
    rows = _order(boxes, line_height)
    return "\n".join(_join_row([b.line.text for b in row]) for row in rows)


def _order(boxes: list[_Box], line_height: float) -> list[list[_Box]]:
    """Rows of boxes in reading order (recursive XY-cut)."""
    bands = _split_bands(boxes, line_height)
    if len(bands) > 1:
        return [row for band in bands for row in _order(band, line_height)]
    columns = _split_columns(boxes, line_height)
    if columns is not None:
        left, right = columns
        return _order(left, line_height) + _order(right, line_height)
    return _rows(boxes, line_height)


def _split_bands(boxes: list[_Box], line_height: float) -> list[list[_Box]]:
    """Split at horizontal gaps of at least half a line height that no box crosses."""
    ordered = sorted(boxes, key=lambda b: b.y0)
    bands: list[list[_Box]] = [[ordered[0]]]
    bottom = ordered[0].y1
    for box in ordered[1:]:
        if box.y0 - bottom >= 0.5 * line_height:
            bands.append([box])
        else:
            bands[-1].append(box)
        bottom = max(bottom, box.y1)
    return bands


def _split_columns(boxes: list[_Box], line_height: float) -> tuple[list[_Box], list[_Box]] | None:
    """Split at the widest vertical gutter if both sides look like columns of running text."""
    ordered = sorted(boxes, key=lambda b: b.x0)
    best: tuple[float, float] | None = None  # (gutter width, x where the right side starts)
    right_edge = ordered[0].x1
    for box in ordered[1:]:
        gap = box.x0 - right_edge
        if gap >= line_height and (best is None or gap > best[0]):
            best = (gap, box.x0)
        right_edge = max(right_edge, box.x1)
    if best is None:
        return None
    gutter, split_x = best
    left = [b for b in boxes if b.x0 < split_x]
    right = [b for b in boxes if b.x0 >= split_x]
    for side in (left, right):
        if len(side) < MIN_COLUMN_LINES:
            return None
        width = statistics.median(b.x1 - b.x0 for b in side)
        if width < COLUMN_WIDTH_IN_LINE_HEIGHTS * line_height or width < COLUMN_WIDTH_IN_GUTTERS * gutter:
            return None
    return left, right


def _rows(boxes: list[_Box], line_height: float) -> list[list[_Box]]:
    """Group boxes whose vertical centres are within half a line of each other; each row left to right."""
    rows: list[list[_Box]] = []
    for box in sorted(boxes, key=lambda b: b.centre_y):
        if rows and abs(box.centre_y - rows[-1][0].centre_y) <= 0.5 * line_height:
            rows[-1].append(box)
        else:
            rows.append([box])
    return [sorted(row, key=lambda b: b.x0) for row in rows]


def _join_row(texts: list[str]) -> str:
    joined = ""
    for text in texts:
        if joined and not (_is_cjk(joined[-1]) and _is_cjk(text[:1])):
            joined += " "
        joined += text
    return joined


def _is_cjk(char: str) -> bool:
    if not char:
        return False
    code = ord(char)
    # CJK ideographs, CJK punctuation and full-width forms: Chinese is written without spaces.
    return 0x3000 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0xFF00 <= code <= 0xFFEF


def _bounds(line: OcrLine) -> _Box:
    xs = [p[0] for p in line.box]
    ys = [p[1] for p in line.box]
    return _Box(line, min(xs), min(ys), max(xs), max(ys))
