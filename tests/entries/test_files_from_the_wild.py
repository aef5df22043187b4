"""Files from the wild (issue #23): shapes real exports take that used to give wrong answers silently.

Every file is generated here, in the shape described, and ingested through the real upload service; where
the vectorised CSV path applies, on both paths (``_ingest_both``), which must agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from entries import es003
from entries.models import Entry, TariffLine, Upload
from entries.samplegen import EXTENDED_COLUMNS, entry_number
from tests.entries.test_fast_path import _ingest_both

pytestmark = pytest.mark.django_db

COL = {c: i for i, c in enumerate(EXTENDED_COLUMNS)}


def _row(number: str, ordinal: int, hts: str, duty: str, *, goods: str = "0,00", quantity: str = "10", **extra: str) -> list[str]:
    """One ES-003 row as Excel writes it in a European locale (plain text cells, no ACE guards)."""
    cells = {
        "Entry Summary Number": number, "Entry Summary Line Number": "1", "Entry Type Code": "01",
        "Importer Number": "93-417726100", "Importer Name": "Blue Heron Housewares Inc", "Port of Entry Code": "1001",
        "Entry Date": "01/15/2026", "Entry Summary Date": "01/23/2026", "Country of Origin Code": "CN",
        "Country of Export Code": "CN", "Tariff Ordinal Number": str(ordinal), "HTS Number - Full": hts,
        "Line Tariff Goods Value Amount": goods, "Line Tariff Duty Amount": duty, "Line Tariff Quantity (1)": quantity,
        "Line Tariff UOM (1) Code": "NO", "Liquidation Date": "", "Liquidation Status": "Unliquidated",
        "Reconciliation Indicator": "N", "Protest Number": "", "Protest Status": "", "Post Summary Correction Indicator": "N",
        "Filer Name": "Harbor Customs Brokerage", "Importation Date": "01/15/2026", "Line SPI Code": "",
        "Manufacturer ID": "CNMANUF123SHA",
    }
    cells.update(extra)
    return [cells[c] for c in EXTENDED_COLUMNS]


def _entry(number: str, ieepa: str, *, goods: str = "12.000,00", quantity: str = "10") -> list[list[str]]:
    return [_row(number, 1, "8516797000", "0,00", goods=goods, quantity=quantity), _row(number, 2, "99030125", ieepa)]


def _write(path: Path, rows: Sequence[Sequence[str]], *, delimiter: str = ";", header: Sequence[str] = EXTENDED_COLUMNS) -> Path:
    def cell(v: str) -> str:
        return f'"{v}"' if delimiter in v else v

    lines = [delimiter.join(map(cell, header)), *(delimiter.join(map(cell, r)) for r in rows)]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def _duties() -> dict[str, Decimal]:
    return dict(Entry.objects.values_list("entry_number", "ieepa_duty"))


# ----------------------------------------------------------------------------- 1. decimal commas
def test_a_semicolon_file_with_decimal_commas_reads_850_00_as_850_on_both_paths(tmp_path, broker_org, bob, ingest, monkeypatch) -> None:
    a, b, c = entry_number("002", 7100001), entry_number("002", 7100002), entry_number("002", 7100003)
    rows = [*_entry(a, "850,00"), *_entry(b, "1200,5", quantity="1,5"), *_entry(c, "1.200,50")]
    path = _write(tmp_path / "excel-de.csv", rows)
    fast, slow, fast_lines = _ingest_both(path, broker_org, bob, ingest, monkeypatch)
    assert fast == slow
    assert fast_lines == 6  # the vectorised path read them (no row-by-row fallback)
    assert slow["upload"]["status"] == Upload.Status.DONE and slow["upload"]["errors"] == []

    upload = ingest(path, organization=broker_org, user=bob)
    assert _duties() == {a: Decimal("850.00"), b: Decimal("1200.50"), c: Decimal("1200.50")}
    assert upload.summary["rows_rejected"] == 0
    line = TariffLine.objects.get(entry__entry_number=b, ordinal=1)
    assert (line.goods_value, line.quantity) == (Decimal("12000.00"), Decimal("1.5"))


def test_a_semicolon_file_with_decimal_points_still_reads_them_as_points(tmp_path, broker_org, bob, ingest) -> None:
    a = entry_number("002", 7100011)
    rows = [_row(a, 1, "8516797000", "$0.00", goods="$2,567.49", quantity="1,250"), _row(a, 2, "99030125", "$1,200.00", goods="$0.00")]
    upload = ingest(_write(tmp_path / "points.csv", rows), organization=broker_org, user=bob)
    assert upload.status == Upload.Status.DONE, upload.error_message
    assert _duties() == {a: Decimal("1200.00")}
    assert TariffLine.objects.get(ordinal=1).quantity == Decimal("1250")


def test_a_file_mixing_decimal_points_and_commas_is_refused_naming_both(tmp_path, broker_org, bob, ingest) -> None:
    a = entry_number("002", 7100021)
    rows = [_row(a, 1, "8516797000", "0,00", goods="$2,567.49"), _row(a, 2, "99030125", "850,00")]
    upload = ingest(_write(tmp_path / "mixed.csv", rows), organization=broker_org, user=bob)
    assert upload.status == Upload.Status.FAILED
    assert 'Line Tariff Goods Value Amount "$2,567.49"' in upload.error_message
    assert 'Line Tariff Duty Amount "0,00"' in upload.error_message
    assert not Entry.objects.exists()


def test_a_semicolon_file_whose_decimal_separator_cannot_be_told_is_refused(tmp_path, broker_org, bob, ingest) -> None:
    a = entry_number("002", 7100031)
    rows = [_row(a, 1, "8516797000", "0", goods="1.200"), _row(a, 2, "99030125", "1.200", goods="0")]
    upload = ingest(_write(tmp_path / "ambiguous.csv", rows), organization=broker_org, user=bob)
    assert upload.status == Upload.Status.FAILED
    assert "cannot tell whether numbers use a decimal point or a decimal comma" in upload.error_message
    assert 'Line Tariff Goods Value Amount has "1.200"' in upload.error_message
    assert not Entry.objects.exists()


def test_a_decimal_comma_after_the_rows_that_set_the_convention_is_a_row_error_not_a_hundredfold_amount(
        tmp_path, broker_org, bob, ingest, monkeypatch) -> None:
    monkeypatch.setattr(es003, "DECIMAL_SCAN_ROWS", 2)  # the convention is set by the first rows; these come later
    first, later = entry_number("002", 7100041), entry_number("002", 7100042)
    rows = [_row(first, 1, "8516797000", "$0.00", goods="$100.00"), _row(first, 2, "99030125", "$50.00", goods="$0.00"),
            _row(later, 1, "8516797000", "$0.00", goods="$100.00"), _row(later, 2, "99030125", "850,00", goods="$0.00")]
    fast, slow, _ = _ingest_both(_write(tmp_path / "late.csv", rows, delimiter=","), broker_org, bob, ingest, monkeypatch)
    assert fast == slow
    errors = slow["upload"]["errors"]
    assert slow["upload"]["status"] == Upload.Status.DONE, slow["upload"]["error_message"]
    assert [(e["column"], e["value"]) for e in errors] == [("Line Tariff Duty Amount", "850,00")]
    assert "decimal comma" in errors[0]["reason"]
    assert [e[0] for e in slow["entries"]] == [first]
