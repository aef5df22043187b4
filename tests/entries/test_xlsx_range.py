"""The used range of a worksheet is measured before python-calamine loads it (issue 17, item 3): a sheet that
is mostly empty grid is refused with a clear message, in bounded memory; a report loads as before."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from entries.ingest.source import Es003FileError, Es003Source
from entries.samplegen import es003_rows, write_xlsx
from entries.xlsxrange import sheet_extent, sheet_part


def _workbook(tmp_path: Path, extra_rows: bytes, *, name: str = "report.xlsx") -> Path:
    """A 30-line report with ``extra_rows`` appended to its sheet data."""
    base = write_xlsx(tmp_path / "base.xlsx", es003_rows(30, seed=5, first_serial=4500000))
    path = tmp_path / name
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("sheet1.xml"):
                data = data.replace(b"</sheetData>", extra_rows + b"</sheetData>", 1)
            dst.writestr(info.filename, data)
    return path


def _extent(path: Path):  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(path) as zf:
        part = sheet_part(zf, "Main Report")
        assert part == "xl/worksheets/sheet1.xml"
        return sheet_extent(zf, part)


def test_a_report_measures_as_its_rows_and_columns(tmp_path: Path) -> None:
    extent = _extent(_workbook(tmp_path, b""))
    assert (extent.first_row, extent.last_row, extent.first_column, extent.last_column) == (1, 31, 1, 26)
    assert not extent.too_sparse()
    source = Es003Source(_workbook(tmp_path, b"", name="again.xlsx"))
    assert sum(1 for _ in source.rows()) == 30


def test_an_empty_formatted_cell_far_away_loads(tmp_path: Path) -> None:
    """Excel writes a formatted blank cell as <c r=".." s=".."/>: it holds nothing and calamine skips it."""
    path = _workbook(tmp_path, b'<row r="1048576"><c r="XFD1048576" s="1"/></row>')
    assert _extent(path).last_column == 26
    assert sum(1 for _ in Es003Source(path).rows()) == 30


@pytest.mark.parametrize(
    "extra",
    [
        # A cell with attributes in another order and a namespace prefix on its tags.
        b'<x:row r="900000" xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<x:c t="inlineStr" r="C900000"><x:is><x:t>far</x:t></x:is></x:c></x:row>',
        # A cell without r sits in its row: the row's own r carries it far down.
        b'<row r="900000"><c t="inlineStr"><is><t>far</t></is></c></row>',
    ],
    ids=["prefixed", "no_cell_reference"],
)
def test_a_far_cell_in_any_spelling_is_refused_before_loading(tmp_path: Path, extra: bytes) -> None:
    path = _workbook(tmp_path, extra)
    with pytest.raises(Es003FileError) as exc:
        Es003Source(path)
    assert "report.xlsx" in str(exc.value) and "900000" in str(exc.value) and "stray cell" in str(exc.value)


def test_cells_without_references_count_as_wide_as_their_row(tmp_path: Path) -> None:
    cells = b'<c t="inlineStr"><is><t>x</t></is></c>' * 5000
    extent = _extent(_workbook(tmp_path, b'<row r="2000">' + cells + b"</row>"))
    assert extent.last_column >= 5000 and extent.last_row == 2000
    assert extent.too_sparse()


@pytest.mark.parametrize("extra", [
    b"",  # every cell has its reference: the pieces are scanned by two threads and merged
    b'<row r="40"><c r="AB40" t="inlineStr"><is><t>far right</t></is></c></row>',
    # a cell without r in a late piece: the whole sheet is scanned again in order
    b'<row r="2000">' + b'<c t="inlineStr"><is><t>x</t></is></c>' * 300 + b"</row>",
    b'<row r="1048576"><c r="XFD1048576" s="1"/></row>',
], ids=["report", "far_right", "no_reference_late", "formatted_blank"])
def test_a_sheet_read_in_many_pieces_measures_as_one_read_in_order(tmp_path: Path, monkeypatch, extra: bytes) -> None:  # type: ignore[no-untyped-def]
    """With pieces of 512 bytes (a report is ~100 of them) the threaded measure equals the sequential one."""
    from entries import xlsxrange

    path = _workbook(tmp_path, extra)
    whole = _extent(path)
    monkeypatch.setattr(xlsxrange, "_CHUNK", 512)
    pieces = _extent(path)
    with zipfile.ZipFile(path) as zf:
        in_order = xlsxrange.SheetExtent()
        n = 0
        for piece in xlsxrange._pieces(zf, "xl/worksheets/sheet1.xml"):
            xlsxrange._scan(piece, in_order)
            n += 1
    assert n > 20
    key = lambda e: (e.cells, e.first_row, e.last_row, e.first_column, e.last_column)  # noqa: E731
    assert key(pieces) == key(in_order) == key(whole)
