"""The vectorised CSV path (entries.ingest.fast) stores and reports exactly what the row path does.

Each file is ingested twice into the same organisation, once per path, each time inside a savepoint
that is rolled back afterwards, and everything a user can see is compared: entries, lines, importers
created, the upload's errors, warnings and summary.
"""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from accounts.models import Importer, ImporterGrant
from cape.selectors import entries_for
from entries.ingest import fast as ingest_fast
from entries.ingest import service as ingest_service
from entries.models import Entry, TariffLine, Upload
from entries.samplegen import EXTENDED_COLUMNS, STANDARD_COLUMNS, Text, es003_rows, write_csv
from entries.samplegen import write_es003 as generate

pytestmark = pytest.mark.django_db

COL = {c: i for i, c in enumerate(EXTENDED_COLUMNS)}
ENTRY_FIELDS = [f.name for f in Entry._meta.fields if f.name not in ("id", "created_at", "updated_at", "last_upload")]
LINE_FIELDS = [f.name for f in TariffLine._meta.fields if f.name not in ("id", "entry")]


class _Rollback(Exception):
    pass


def _snapshot(organization: Any) -> dict[str, Any]:
    return {
        "entries": sorted(entries_for(organization).values_list("entry_number", *[
            {"importer": "importer__ir_number"}.get(f, f) for f in ENTRY_FIELDS])),
        "lines": sorted(TariffLine.objects.filter(entry__in=entries_for(organization)).values_list("entry__entry_number", *LINE_FIELDS)),
        "importers": sorted(Importer.objects.filter(grants__organization=organization).values_list("ir_number", "name")),
        "grants": ImporterGrant.objects.filter(organization=organization).count(),
    }


def _upload_facts(upload: Upload) -> dict[str, Any]:
    return {"status": upload.status, "error_message": upload.error_message, "rows_read": upload.rows_read,
            "rows_total": upload.rows_total, "errors": upload.errors, "warnings": upload.warnings, "summary": upload.summary}


def _ingest_both(path: Path, organization: Any, user: Any, ingest: Any, monkeypatch: Any) -> tuple[dict[str, Any], dict[str, Any], int]:
    fast_lines: list[int] = []
    original = ingest_service.open_fast

    def spy(*args: Any, **kwargs: Any) -> Any:
        fast = original(*args, **kwargs)
        if fast is not None:
            fast_lines.append(0)
            batches = fast.batches

            def counted() -> Any:
                yield from batches()
                fast_lines[-1] = fast.parser.result.fast_lines

            fast.batches = counted
        return fast

    monkeypatch.setattr(ingest_service, "open_fast", spy)
    out = []
    for flag in (True, False):
        try:
            with transaction.atomic():
                upload = ingest(path, organization=organization, user=user, fast_csv=flag)
                out.append({"upload": _upload_facts(upload), **_snapshot(organization)})
                raise _Rollback
        except _Rollback:
            pass
    return out[0], out[1], (fast_lines[0] if fast_lines else -1)


def _dirty_rows(n: int, seed: int, *, layout: str = "extended") -> list[list[object]]:
    """Generated rows with a few per cent of them spoiled the ways real exports are."""
    rng = random.Random(seed)
    rows = [list(r) for r in es003_rows(n, seed=seed, layout=layout)]
    ext = layout == "extended"
    col = {c: i for i, c in enumerate(EXTENDED_COLUMNS if ext else STANDARD_COLUMNS)}
    spoilers = [
        lambda r: r.__setitem__(col["Line Tariff Duty Amount"], "12 dollars"),
        lambda r: r.__setitem__(col["Line Tariff Duty Amount"], "FREE"),
        lambda r: r.__setitem__(col["Line Tariff Duty Amount"], "(12.00)"),
        lambda r: r.__setitem__(col["Line Tariff Duty Amount"], "$123456789012.00"),
        lambda r: r.__setitem__(col["Line Tariff Goods Value Amount"], ""),
        lambda r: r.__setitem__(col["Line Tariff Goods Value Amount"], "N/A"),
        lambda r: r.__setitem__(col["HTS Number - Full"], "9903.01.25"),
        lambda r: r.__setitem__(col["HTS Number - Full"], "not-hts"),
        lambda r: r.__setitem__(col["Entry Date"], "13/45/2026"),
        lambda r: r.__setitem__(col["Entry Type Code"], "1"),
        lambda r: r.__setitem__(col["Importer Name"], "  Another Name  "),
        lambda r: r.__setitem__(col["Tariff Ordinal Number"], "x"),
        lambda r: r.__setitem__(col["Entry Summary Line Number"], "0001"),
        lambda r: r.__setitem__(col["Country of Origin Code"], "china"),
        lambda r: r.__setitem__(col["Line Tariff Quantity (1)"], "-3"),
        lambda r: r.__setitem__(col["Line Tariff UOM (1) Code"], "No."),
        lambda r: r.__setitem__(col["Importer Number"], Text("55-555555500")),
        lambda r: r.__setitem__(col["Entry Summary Number"], Text(str(r[0])[:3] + "-" + str(r[0])[3:10] + "-" + str(r[0])[10])),
        lambda r: r.__setitem__(col["Entry Summary Number"], "not an entry"),
        lambda r: r.__setitem__(col["Entry Summary Number"], ""),
        lambda r: r.__setitem__(col["Entry Summary Number"], Text(str(r[0])[:10] + str((int(str(r[0])[10]) + 1) % 10))),
    ]
    if ext:
        spoilers += [
            lambda r: r.__setitem__(col["Liquidation Status"], "Pending Review"),
            lambda r: r.__setitem__(col["Liquidation Status"], "LIQUIDATED"),
            lambda r: r.__setitem__(col["Liquidation Date"], "2026-02-30"),
            lambda r: r.__setitem__(col["Protest Number"], Text("270425100123")),
            lambda r: r.__setitem__(col["Manufacturer ID"], "MANUFACTURER-TOO-LONG-ID"),
            lambda r: r.__setitem__(col["Line SPI Code"], "A+"),
            lambda r: r.__setitem__(col["Importation Date"], date(2026, 1, 2)),
        ]
    for i, row in enumerate(rows):
        if rng.random() < 0.04:
            rng.choice(spoilers)(row)
        if rng.random() < 0.004 and i:  # a repeated line
            rows[i] = list(rows[i - 1])
    return rows


def _assert_same(fast: dict[str, Any], rows: dict[str, Any]) -> None:
    for key in rows:
        assert fast[key] == rows[key], key


@pytest.mark.parametrize("layout", ["extended", "standard"])
def test_a_clean_generated_export_takes_the_fast_path_and_stores_what_the_row_path_stores(tmp_path, broker_org, bob, ingest, monkeypatch, layout) -> None:
    path = generate(tmp_path / f"{layout}.csv", 3000, layout=layout, seed=21,
                    importers=[("93-417726100", "Blue Heron Housewares Inc"), ("27-418830200", "Cedar Lane Imports LLC")])
    fast, rows, fast_lines = _ingest_both(path, broker_org, bob, ingest, monkeypatch)
    _assert_same(fast, rows)
    assert fast_lines == 3000
    assert rows["upload"]["summary"]["lines"] == 3000 and len(rows["lines"]) == 3000


def test_a_file_read_in_many_batches_keeps_entries_whole_across_them(tmp_path, broker_org, bob, ingest, monkeypatch) -> None:
    monkeypatch.setattr(ingest_fast, "BLOCK_SIZE", 1 << 15)  # about 150 rows a batch: entries cross batch ends
    path = generate(tmp_path / "batches.csv", 5000, seed=22)
    fast, rows, fast_lines = _ingest_both(path, broker_org, bob, ingest, monkeypatch)
    _assert_same(fast, rows)
    assert fast_lines == 5000


@pytest.mark.parametrize("seed", [4, 5])
def test_dirty_rows_read_in_many_batches_agree(tmp_path, broker_org, bob, ingest, monkeypatch, seed) -> None:
    monkeypatch.setattr(ingest_fast, "BLOCK_SIZE", 1 << 15)
    path = write_csv(tmp_path / "dirty.csv", _dirty_rows(5000, seed))
    fast, rows, _ = _ingest_both(path, broker_org, bob, ingest, monkeypatch)
    _assert_same(fast, rows)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_dirty_rows_give_the_same_errors_warnings_and_stored_data_on_both_paths(tmp_path, broker_org, bob, ingest, monkeypatch, seed) -> None:
    path = write_csv(tmp_path / "dirty.csv", _dirty_rows(4000, seed), title_lines=["ES-003", "Run Date: 05/01/2026"])
    fast, rows, fast_lines = _ingest_both(path, broker_org, bob, ingest, monkeypatch)
    _assert_same(fast, rows)
    assert rows["upload"]["errors"] and rows["upload"]["summary"]["entries_held_back"] > 0
    assert 0 < fast_lines < rows["upload"]["summary"]["lines"]  # most entries fast, the spoiled ones row by row


def test_an_importer_organisation_gets_the_same_rejections_on_both_paths(tmp_path, importer_org, alice, ingest, monkeypatch) -> None:
    path = write_csv(tmp_path / "two.csv", _dirty_rows(1500, 9, layout="standard"), layout="standard")
    fast, rows, _ = _ingest_both(path, importer_org, alice, ingest, monkeypatch)
    _assert_same(fast, rows)


def test_a_second_upload_merges_the_same_way_on_both_paths(tmp_path, broker_org, bob, ingest, monkeypatch) -> None:
    ingest(generate(tmp_path / "week1.csv", 1200, seed=4), organization=broker_org, user=bob, fast_csv=False)
    rows = [list(r) for r in es003_rows(1800, seed=4)]
    for r in rows[::7]:
        r[COL["Liquidation Status"]] = "Liquidated"
        r[COL["Liquidation Date"]] = date(2026, 3, 6)
        r[COL["Line Tariff Duty Amount"]] = Decimal("1.25")
    path = write_csv(tmp_path / "week2.csv", rows)
    fast, again, fast_lines = _ingest_both(path, broker_org, bob, ingest, monkeypatch)
    _assert_same(fast, again)
    assert fast_lines > 0 and again["upload"]["summary"]["entries_updated"] > 0


FALLBACKS = {
    # each of these must be read row by row from the start
    "non_contiguous": lambda rows: rows + [list(rows[0])],
    "quoted_line_break": lambda rows: [*rows[:5], [*rows[5][:4], "Blue Heron\nHousewares", *rows[5][5:]], *rows[6:]],
    "footer": lambda rows: [*rows, ["End of report"]],
    "blank_line": lambda rows: [*rows[:10], [], *rows[10:]],
    "short_row": lambda rows: [*rows[:10], rows[10][:8], *rows[11:]],
}


@pytest.mark.parametrize("case", sorted(FALLBACKS))
def test_files_the_fast_path_cannot_read_exactly_are_read_row_by_row_with_the_same_result(tmp_path, broker_org, bob, ingest, monkeypatch, case) -> None:
    rows = FALLBACKS[case]([list(r) for r in es003_rows(600, seed=8)])
    path = write_csv(tmp_path / f"{case}.csv", rows)
    fast, slow, _ = _ingest_both(path, broker_org, bob, ingest, monkeypatch)
    _assert_same(fast, slow)


@pytest.mark.parametrize("variant", ["bom", "cp1252", "semicolon", "lf"])
def test_other_encodings_and_separators_agree(tmp_path, broker_org, bob, ingest, monkeypatch, variant) -> None:
    path = write_csv(tmp_path / "v.csv", _dirty_rows(800, 5), encoding="cp1252" if variant == "cp1252" else "utf-8")
    data = path.read_bytes()
    if variant == "bom":
        data = b"\xef\xbb\xbf" + data
    elif variant == "cp1252":
        data = data.replace(b"Blue Heron Housewares Inc", "Blue Héron Housewares Inc".encode("cp1252"))
    elif variant == "semicolon":
        text = data.decode()
        import csv
        import io

        out = io.StringIO()
        csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(csv.reader(io.StringIO(text, newline="")))
        data = out.getvalue().encode()
    elif variant == "lf":
        data = data.replace(b"\r\n", b"\n")
    path.write_bytes(data)
    fast, slow, _ = _ingest_both(path, broker_org, bob, ingest, monkeypatch)
    _assert_same(fast, slow)


def test_a_new_importer_is_named_from_its_first_row_whichever_path_reads_it(tmp_path, broker_org, bob, ingest, monkeypatch) -> None:
    from tests.entries.conftest import entry_rows

    new_ir = {"Importer Number": Text("27-418830200")}
    first = entry_rows("00261103162", **new_ir, **{"Importer Name": "First Name LLC"})
    first[1][COL["Line Tariff Duty Amount"]] = "12 dollars"  # this entry is read row by row (and held back)
    # The clean entry is checked (its importer asked for) before the batch's rows are fed to the row path.
    rows = first + entry_rows("60576069342", **new_ir, **{"Importer Name": "Second Name LLC"}) + entry_rows("00261111157")
    fast, slow, fast_lines = _ingest_both(write_csv(tmp_path / "names.csv", rows), broker_org, bob, ingest, monkeypatch)
    _assert_same(fast, slow)
    assert fast_lines == 4 and ("27-418830200", "First Name LLC") in slow["importers"]


def test_check_digit_warnings_list_entries_in_file_order_whichever_path_reads_them(tmp_path, broker_org, bob, ingest, monkeypatch) -> None:
    from tests.entries.conftest import entry_rows

    dirty = entry_rows("00261111150")
    dirty[1][COL["Line Tariff Duty Amount"]] = "FREE!"
    rows = entry_rows("60576069349") + dirty + entry_rows("00261112230") + entry_rows("00261103162")
    fast, slow, fast_lines = _ingest_both(write_csv(tmp_path / "digits.csv", rows), broker_org, bob, ingest, monkeypatch)
    _assert_same(fast, slow)
    assert fast_lines == 6
    assert any("60576069349, 00261111150, 00261112230." in w for w in slow["upload"]["warnings"]), slow["upload"]["warnings"]
