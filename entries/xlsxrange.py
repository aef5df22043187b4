"""The used range of an XLSX worksheet, measured from its cell references before the sheet is loaded.

python-calamine loads a sheet as one dense grid spanning every filled cell (calamine ``Range::from_sparse``):
rows x columns cells of 32 bytes each, whatever lies between. One stray cell at XFD1048576 in a 6.5 KB
workbook asks for 16,384 x 1,048,576 cells (549,755,813,888 bytes) and aborts the process; one at XFD4000
takes 2 GB. ``sheet_extent`` streams the sheet part once and reads every ``r="..."`` reference with numpy
(no Python work per cell), so the reader can refuse such a sheet before calamine allocates anything.

References are the XLSX format's (ECMA-376 Part 1, §18.3.1.4 ``c`` and §18.3.1.73 ``row``, attribute ``r``:
columns A to XFD, rows 1 to 1,048,576). The reading is never looser than calamine's: a cell without ``r``
sits in its row (the row's own ``r``) and counts as far right as its row has cells; a reference past XFD or
with eight digits is taken as far as it says.
"""

from __future__ import annotations

import zipfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

_CHUNK = 1 << 22
_IN_FLIGHT = 4  # pieces inflated and not yet merged: at most about 16 MB of the sheet held at once
# After ' r="': at most 3 letters and 7 digits, then '"', the other attributes and the tag's end.
_WINDOW = 24
_R_WORD = int.from_bytes(b' r="', "little")
_LT, _A, _ZERO, _GT, _SLASH, _COLON, _SPACE = (ord(c) for c in '<A0>/: ')
_C, _R = ord("c"), ord("r")
LAST_COLUMN = 16_384  # XFD
SPARE_CELLS = 4_000_000
CELL_BYTES = 32  # size_of::<calamine::Data>()


@dataclass
class SheetExtent:
    """Filled cells and the rectangle calamine would allocate for them (1-based rows and columns)."""

    cells: int = 0
    first_row: int = 0
    last_row: int = 0
    first_column: int = 0
    last_column: int = 0
    _open_row_cells: int = 0  # cells without r seen so far in the row a piece ended in
    _last_row_ref: int = 0  # the r of the last row tag read

    @property
    def rows(self) -> int:
        return self.last_row - self.first_row + 1 if self.last_row else 0

    @property
    def columns(self) -> int:
        return self.last_column - self.first_column + 1 if self.last_column else 0

    @property
    def area(self) -> int:
        return self.rows * self.columns

    @property
    def range(self) -> str:
        """The used range as Excel names it (e.g. A1:XFD1048576)."""
        return (f"{column_letters(max(self.first_column, 1))}{max(self.first_row, 1)}:"
                f"{column_letters(max(self.last_column, 1))}{max(self.last_row, 1)}")

    def too_sparse(self) -> bool:
        """Whether loading the sheet would allocate far more than it holds: more than 4 grid cells per filled
        cell beyond 4,000,000 (128 MB at calamine's 32 bytes a cell). A report fills most of its grid."""
        return self.area > 4 * self.cells + SPARE_CELLS

    def _rows(self, rows: np.ndarray) -> None:
        if len(rows):
            lo, hi = int(rows.min()), int(rows.max())
            self.first_row = min(self.first_row or lo, lo)
            self.last_row = max(self.last_row, hi)

    def _columns(self, lo: int, hi: int) -> None:
        self.first_column = min(self.first_column or lo, lo)
        self.last_column = max(self.last_column, hi)


def column_letters(n: int) -> str:
    s = ""
    while n > 0:
        n, rem = divmod(n - 1, 26)
        s = chr(65 + rem) + s
    return s


def _positions(seg: bytes, pattern: int) -> np.ndarray:
    """Where each 4-byte ``pattern`` ends in ``seg``: compared a word at a time, at each of the four alignments."""
    found = [
        np.flatnonzero(np.frombuffer(seg, dtype="<u4", count=(len(seg) - off) // 4, offset=off) == pattern) * 4 + (off + 4)
        for off in range(4)
        if len(seg) - off >= 4
    ]
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def _number(w: np.ndarray, width: int, base: int, floor: int) -> tuple[np.ndarray, np.ndarray]:
    """The leading run of characters in [floor, floor + base) of each row of ``w``: (its length, its value;
    letters count A=1, as Excel's columns do)."""
    digits = w[:, :width] - np.uint8(floor)
    ok = digits < base
    run = np.ones(len(w), dtype=bool)
    length = np.zeros(len(w), dtype=np.int64)
    value = np.zeros(len(w), dtype=np.int64)
    add = 1 if base == 26 else 0
    for i in range(width):
        run &= ok[:, i]
        length += run
        value = np.where(run, value * base + digits[:, i] + add, value)
    return length, value


def _cell_tags(seg: bytes) -> int:
    """How many cell tags open in ``seg`` (``<c`` or ``<prefix:c``, then a space, '>' or '/'), two bytes at a time."""
    a = np.frombuffer(seg + b"\0", dtype=np.uint8)
    n = 0
    for pattern in (b"<c", b":c"):
        word = int.from_bytes(pattern, "little")
        for off in range(2):
            words = np.frombuffer(seg, dtype="<u2", count=(len(seg) - off) // 2, offset=off)
            after = a[np.flatnonzero(words == word) * 2 + (off + 2)]
            n += int(((after == _SPACE) | (after == _GT) | (after == _SLASH)).sum())
    return n


def _tags(a: np.ndarray, name: bytes) -> np.ndarray:
    """Positions of the opening tags ``<name`` or ``<prefix:name`` (followed by a space, '>' or '/')."""
    n = len(name)
    padded = np.concatenate([a, np.zeros(n + 1, dtype=np.uint8)])
    marks = np.flatnonzero((a == _LT) | (a == _COLON))
    ok = np.ones(len(marks), dtype=bool)
    for i, ch in enumerate(name):
        ok &= padded[marks + 1 + i] == ch
    after = padded[marks + 1 + n]
    ok &= (after == _SPACE) | (after == _GT) | (after == _SLASH)
    return marks[ok]


def _scan(seg: bytes, extent: SheetExtent) -> bool:
    """One piece of the sheet that ends just after a '>' (so no tag is cut). True when it has a cell without
    ``r`` (placed from the row state the pieces before it left)."""
    starts = _positions(seg, _R_WORD)
    n_refs = 0
    row_refs = np.zeros(0, dtype=np.int64)
    last_row_ref = extent._last_row_ref
    if len(starts):
        padded = np.frombuffer(seg + b"\0" * _WINDOW, dtype=np.uint8)
        w = np.lib.stride_tricks.sliding_window_view(padded, _WINDOW)[starts]
        n_letters, col = _number(w, 4, 26, _A)
        shifted = np.take_along_axis(w, np.minimum(n_letters[:, None] + np.arange(8), _WINDOW - 1), axis=1)
        n_digits, row = _number(shifted, 8, 10, _ZERO)
        col = np.where(n_letters > 3, LAST_COLUMN, col)  # past XFD
        valid = n_digits > 0
        # A cell that closes its own tag (<c r="XFD1048576" s="1"/>) holds nothing, and calamine skips it. A tag
        # whose end lies past the window counts as holding something (stricter, never looser).
        gt = w == _GT
        first_gt = gt.argmax(axis=1)
        index = np.arange(len(w))
        holds = ~(gt[index, first_gt] & (w[index, np.maximum(first_gt - 1, 0)] == _SLASH))
        is_cell = valid & (n_letters > 0)
        n_refs = int(is_cell.sum())
        filled = is_cell & holds
        extent.cells += int(filled.sum())
        extent._rows(row[filled])
        if filled.any():
            extent._columns(int(col[filled].min()), int(col[filled].max()))
        is_row = valid & (n_letters == 0)
        row_refs = row[is_row]
        if len(row_refs):
            extent._last_row_ref = int(row_refs[np.argmax(starts[is_row])])
    if _cell_tags(seg) > n_refs:
        # Some cells have no r: each sits in its row (the row's r, or the row a piece before ended in) and
        # takes the next column, so count every row reference and each row's number of cells.
        extent._rows(np.concatenate([row_refs, np.array([last_row_ref or 1])]))
        a = np.frombuffer(seg, dtype=np.uint8)
        cells, rows = _tags(a, b"c"), _tags(a, b"row")
        counts = np.bincount(np.searchsorted(rows, cells), minlength=len(rows) + 1)
        counts[0] += extent._open_row_cells
        extent._open_row_cells = int(counts[-1])
        extent._columns(1, int(counts.max()))
        return True
    extent._open_row_cells = 0
    return False


def sheet_part(zf: zipfile.ZipFile, sheet_name: str) -> str | None:
    """The zip part holding the worksheet called ``sheet_name`` (workbook.xml names it, its relationships
    give the part: ECMA-376 Part 1, §18.2.19 ``sheet`` and Part 2, §9.3), or None when they do not say."""
    from xml.etree import ElementTree

    try:
        workbook = ElementTree.fromstring(zf.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return None
    rel_id = next((
        value for sheet in workbook.iterfind(".//{*}sheet") if sheet.get("name") == sheet_name
        for key, value in sheet.attrib.items() if key.endswith("}id")
    ), None)
    target = next((rel.get("Target") for rel in rels.iterfind("{*}Relationship") if rel.get("Id") == rel_id), None)
    if not target:
        return None
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def _pieces(zf: zipfile.ZipFile, part: str) -> Iterator[bytes]:
    """The sheet part in pieces of about _CHUNK bytes, each ending just after a '>' (no tag cut)."""
    carry = b""
    with zf.open(part) as fh:
        while chunk := fh.read(_CHUNK):
            data = carry + chunk
            cut = data.rfind(b">") + 1
            if cut == 0:  # no tag ends in here (a long text): keep only a tag that may have begun
                lt = data.rfind(b"<")
                carry = data[lt:] if lt >= 0 else b""
                continue
            yield data[:cut]
            carry = data[cut:]


def sheet_extent(zf: zipfile.ZipFile, part: str) -> SheetExtent:
    """The extent of the filled cells of worksheet part ``part`` (e.g. ``xl/worksheets/sheet1.xml``).

    When every cell carries its reference (what Excel, LibreOffice and ACE write) the pieces are independent:
    two threads scan them (numpy works outside the GIL; the next piece is inflated meanwhile), at most
    _IN_FLIGHT pieces held at once. A sheet with a cell without ``r`` is scanned again in order, piece by
    piece, since such a cell's place depends on the pieces before it."""
    extent = SheetExtent()
    pending: deque[Future[tuple[SheetExtent, bool]]] = deque()
    ordered = False
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="xlsx-extent") as pool:
        for piece in _pieces(zf, part):
            pending.append(pool.submit(_scan_alone, piece))
            if len(pending) >= _IN_FLIGHT:
                ordered |= _merge(extent, pending.popleft().result())
            if ordered:
                break
        while pending:
            ordered |= _merge(extent, pending.popleft().result())
    if not ordered:
        return extent
    extent = SheetExtent()
    for piece in _pieces(zf, part):
        _scan(piece, extent)
    return extent


def _scan_alone(piece: bytes) -> tuple[SheetExtent, bool]:
    """One piece scanned on its own, and whether it has a cell without ``r`` (then its result is not used)."""
    alone = SheetExtent()
    return alone, _scan(piece, alone)


def _merge(extent: SheetExtent, scanned: tuple[SheetExtent, bool]) -> bool:
    alone, needs_order = scanned
    if not needs_order:
        extent.cells += alone.cells
        if alone.last_row:
            extent._rows(np.array([alone.first_row, alone.last_row]))
        if alone.last_column:
            extent._columns(alone.first_column, alone.last_column)
    return needs_order
