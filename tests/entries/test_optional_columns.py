"""Optional ES-003 columns are kept when present (issue 3): Importation Date on the entry; Country of
Export, Line SPI Code, Manufacturer ID, Line Tariff Quantity (1) and its UOM on each tariff line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from cape.selectors import entries_for
from entries.models import Entry, TariffLine, Upload
from entries.samplegen import EXTENDED_COLUMNS, STANDARD_COLUMNS, Text, es003_rows
from entries.samplegen import write_es003 as generate
from tests.entries.conftest import entry_rows, sample_row

pytestmark = pytest.mark.django_db

COL = {c: i for i, c in enumerate(EXTENDED_COLUMNS)}


def _stored_lines(organization) -> dict[tuple[str, int, int], tuple[object, ...]]:
    return {(n, ln, o): tuple(rest) for n, ln, o, *rest in TariffLine.objects.filter(entry__in=entries_for(organization)).values_list(
        "entry__entry_number", "line_number", "ordinal", "country_of_export", "spi_code", "manufacturer_id", "quantity", "uom")}


@pytest.mark.parametrize("name", ["extended.csv", "extended.xlsx"])
def test_a_generated_extended_export_keeps_every_optional_column(tmp_path, importer_org, alice, ingest, name) -> None:
    path = generate(tmp_path / name, 240, layout="extended", seed=11)
    upload = ingest(path, organization=importer_org, user=alice)
    assert upload.status == Upload.Status.DONE and upload.summary["rows_rejected"] == 0, upload.errors[:3]
    expected_lines, expected_dates = {}, {}
    for row in es003_rows(240, seed=11, layout="extended"):
        number = str(row[COL["Entry Summary Number"]])
        qty = row[COL["Line Tariff Quantity (1)"]]
        expected_lines[(number, row[COL["Entry Summary Line Number"]], row[COL["Tariff Ordinal Number"]])] = (
            row[COL["Country of Export Code"]], row[COL["Line SPI Code"]], row[COL["Manufacturer ID"]],
            Decimal(qty), row[COL["Line Tariff UOM (1) Code"]])
        expected_dates[number] = row[COL["Importation Date"]]
    assert _stored_lines(importer_org) == expected_lines
    assert dict(Entry.objects.values_list("entry_number", "importation_date")) == expected_dates


def test_optional_columns_are_repaired(write_es003, importer_org, alice, ingest) -> None:
    rows = [sample_row(**{"Country of Export Code": Text("vn"), "Line SPI Code": " a+ ", "Manufacturer ID": "cn-manuf 123sha",
                          "Line Tariff Quantity (1)": "1,250.5", "Line Tariff UOM (1) Code": "No.",
                          "Importation Date": "2026-01-14"}),
            sample_row(**{"Tariff Ordinal Number": 2, "HTS Number - Full": Text("99030125"), "Country of Export Code": "",
                          "Line SPI Code": "", "Manufacturer ID": "", "Line Tariff Quantity (1)": "", "Line Tariff UOM (1) Code": "",
                          "Importation Date": "2026-01-14"})]
    upload = ingest(write_es003(rows), organization=importer_org, user=alice)
    assert upload.summary["rows_rejected"] == 0, upload.errors
    assert _stored_lines(importer_org) == {("00261103162", 1, 1): ("VN", "A+", "CNMANUF123SHA", Decimal("1250.5"), "NO"),
                                           ("00261103162", 1, 2): ("", "", "", None, "")}
    assert Entry.objects.get().importation_date == date(2026, 1, 14)


def test_bad_optional_values_are_reported_and_hold_their_entry_back(write_es003, importer_org, alice, ingest) -> None:
    bad = {
        "Importation Date": ("31/31/2026", "not a calendar date (expected MM/DD/YYYY)"),
        "Country of Export Code": ("CHINA", "a country code is two letters (ISO 3166-1 alpha-2, e.g. CN)"),
        "Line SPI Code": ("ABC", "a Special Program Indicator is one or two letters, optionally followed by *, + or # "
                                 "(HTSUS General Note 3(c)(i), e.g. A+, CA, S+)"),
        "Manufacturer ID": ("CNMANUFACTURER12345", "a Manufacturer ID is up to 15 letters and digits (CBP Form 7501 instructions, block 13)"),
        "Line Tariff Quantity (1)": ("-5", "a quantity is never negative"),
        "Line Tariff UOM (1) Code": ("KILOGRAMS", "a unit of measure is an HTSUS unit abbreviation of up to 4 letters or digits "
                                                  "(e.g. NO, KG, DOZ, M2)"),
    }
    numbers = ["60576069342", "00261111157", "00261112239", "00261111090", "00261110829", "60576072486"]
    rows = entry_rows("00261103162")
    for number, (column, (value, _)) in zip(numbers, bad.items(), strict=True):
        pair = entry_rows(number)
        pair[1][COL[column]] = value
        if column == "Importation Date":
            pair[0][COL[column]] = pair[1][COL[column]] = value
        rows += pair
    upload = ingest(write_es003(rows), organization=importer_org, user=alice)
    assert upload.status == Upload.Status.DONE
    assert list(Entry.objects.values_list("entry_number", flat=True)) == ["00261103162"]
    assert TariffLine.objects.count() == 2
    got = [(e["row"], e["column"], e["value"], e["reason"]) for e in upload.errors]
    # Header on row 1, the good entry on rows 2-3; each bad entry's second row carries the bad value
    # (Importation Date is the entry's, so both of its rows report it).
    assert got == [(4, "Importation Date", "31/31/2026", bad["Importation Date"][1]),
                   (5, "Importation Date", "31/31/2026", bad["Importation Date"][1])] + [
        (5 + 2 * i, column, value, reason) for i, (column, (value, reason)) in enumerate(bad.items()) if i > 0]
    assert upload.summary["entries_held_back"] == 6


def test_quantity_refuses_what_it_cannot_keep_exactly(write_es003, importer_org, alice, ingest) -> None:
    rows = [sample_row(**{"Entry Summary Number": Text(n), "Line Tariff Quantity (1)": q})
            for n, q in [("60576069342", "12.34567"), ("00261111157", "twelve"), ("00261112239", "1" + "0" * 14)]]
    upload = ingest(write_es003(rows), organization=importer_org, user=alice)
    assert [e["reason"] for e in upload.errors] == ["a quantity has at most 4 decimal places",
                                                    "not a quantity (expected a number such as 1,250 or 12.5)",
                                                    "the quantity is too large"]
    assert Entry.objects.count() == 0


def test_the_same_report_again_changes_nothing_and_a_newer_one_updates_the_optional_columns(write_es003, importer_org, alice, ingest) -> None:
    first = write_es003(entry_rows("00261103162"), name="week1.csv")
    ingest(first, organization=importer_org, user=alice)
    again = ingest(first, organization=importer_org, user=alice)
    assert (again.summary["entries_updated"], again.summary["lines_created"], again.summary["lines_updated"]) == (0, 0, 0)
    newer = entry_rows("00261103162", **{"Country of Export Code": "VN", "Line SPI Code": "S+", "Manufacturer ID": "VNMAKER99HAN",
                                         "Line Tariff Quantity (1)": 12, "Line Tariff UOM (1) Code": "KG",
                                         "Importation Date": date(2026, 1, 13)})
    week2 = ingest(write_es003(newer, name="week2.csv"), organization=importer_org, user=alice)
    assert (week2.summary["entries_updated"], week2.summary["lines_created"], week2.summary["lines_updated"]) == (1, 0, 2)
    assert set(_stored_lines(importer_org).values()) == {("VN", "S+", "VNMAKER99HAN", Decimal("12"), "KG")}
    assert Entry.objects.get().importation_date == date(2026, 1, 13)


def test_a_report_without_the_optional_columns_leaves_stored_values_alone(write_es003, importer_org, alice, ingest) -> None:
    ingest(write_es003(entry_rows("00261103162"), name="ext.csv"), organization=importer_org, user=alice)
    before = _stored_lines(importer_org)
    header = [c for c in STANDARD_COLUMNS if c not in ("Country of Export Code", "Line Tariff Quantity (1)", "Line Tariff UOM (1) Code")]
    keep = [STANDARD_COLUMNS.index(c) for c in header]
    rows = [[r[i] for i in keep] for r in entry_rows("00261103162", layout="standard")]
    upload = ingest(write_es003(rows, name="std.csv", header=header), organization=importer_org, user=alice)
    assert upload.summary["lines_updated"] == 0
    assert _stored_lines(importer_org) == before
    assert Entry.objects.get().importation_date == date(2026, 1, 15)


def test_the_entry_page_and_the_api_show_the_optional_columns(client, write_es003, importer_org, alice, ingest) -> None:
    rows = entry_rows("00261103162", **{"Line SPI Code": "A+", "Line Tariff Quantity (1)": "2.5", "Line Tariff UOM (1) Code": "KG"})
    ingest(write_es003(rows), organization=importer_org, user=alice)
    entry = Entry.objects.get()
    client.force_login(alice)
    page = client.get(reverse("entry_detail", args=[entry.pk])).content.decode()
    assert "CNMANUF123SHA" in page and "2.5 KG" in page and ">A+<" in page and "2026-01-15" in page
    data = client.get(f"/api/entries/{entry.pk}/").json()
    assert data["importation_date"] == "2026-01-15"
    assert {(x["country_of_export"], x["spi_code"], x["manufacturer_id"], x["quantity"], x["uom"]) for x in data["lines"]} == {
        ("CN", "A+", "CNMANUF123SHA", "2.5000", "KG")}
