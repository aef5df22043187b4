"""The Protest Details Spreadsheet (XLSX, CSV), the Form 19 content sheet (PDF), the reason, the counsel packet."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from accounts.models import Form5106Record
from cape.models import Declaration, DeclarationEntry
from protests import documents
from protests.exports import counsel_pdf, counsel_xlsx, protest_csv, protest_form19_pdf, protest_xlsx, reason_plain_text
from protests.selectors import counsel_packet
from protests.services import protest_drafts_build
from tests.protests.factories import classify, protest_entry

pytestmark = pytest.mark.django_db


@pytest.fixture
def protest(alice, importer_org, own_importer):  # type: ignore[no-untyped-def]
    protest_entry(own_importer, importer_org, days_ago=90, duties=("10.00",), port="1001")
    protest_entry(own_importer, importer_org, days_ago=160, duties=("100.00", "25.50"))
    classify(importer_org)
    return protest_drafts_build(organization=importer_org, user=alice).protests[0]


def test_the_spreadsheet_has_cbps_four_fixed_columns_and_one_row_per_ieepa_line(protest) -> None:  # type: ignore[no-untyped-def]
    rows = list(csv.reader(io.StringIO(protest_csv(protest).decode("utf-8"))))
    assert rows[0][:4] == ["Entry Number", "Entry Line Number", "Change From", "Change To"]
    assert rows[0] == documents.SPREADSHEET_COLUMNS
    lead = protest.items.get(lead=True).entry
    # The lead first (earliest deadline: liquidated 160 days ago), its two IEEPA lines, then the other entry's one.
    assert [r[0] for r in rows[1:]] == [lead.entry_number, lead.entry_number, rows[3][0]]
    assert rows[1] == [lead.entry_number, "1", "9903.01.25 duty 100.00", "9903.01.25 duty 0.00", "9903.01.25", "3923.90.00.80",
                       "100.00", f"{lead.liquidation_date:%m/%d/%Y}", "2704"]
    assert rows[2][1:4] == ["2", "9903.01.25 duty 25.50", "9903.01.25 duty 0.00"]
    assert rows[3][6:] == ["10.00", rows[3][7], "1001"]
    assert sum(Decimal(r[6]) for r in rows[1:]) == protest.ieepa_duty == Decimal("135.50")
    assert not any("9903.88" in cell for r in rows for cell in r)  # Section 301 is not IEEPA


def test_the_xlsx_holds_the_same_rows_and_the_totals(protest) -> None:  # type: ignore[no-untyped-def]
    wb = load_workbook(io.BytesIO(protest_xlsx(protest)))
    sheet = wb["Protest Details"]
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == documents.SPREADSHEET_COLUMNS
    text = list(csv.reader(io.StringIO(protest_csv(protest).decode())))
    assert [str(v[0]) for v in values[1:]] == [r[0] for r in text[1:]]  # entry numbers kept as text
    assert round(sum(Decimal(str(v[6])) for v in values[1:]), 2) == Decimal("135.50")
    assert values[1][7].date() == protest.items.get(lead=True).entry.liquidation_date  # a date cell
    summary = dict(wb["Summary"].iter_rows(values_only=True))
    assert summary["Entries"] == 2 and summary["IEEPA tariff lines"] == 3
    assert Decimal(str(summary["IEEPA duty protested"])) == Decimal("135.50")


def test_the_form_19_content_sheet_lists_the_ace_fields_in_order(protest, own_importer) -> None:  # type: ignore[no-untyped-def]
    Form5106Record.objects.create(importer=own_importer, company_name="Blue Heron Housewares Inc", address="1 Heron Way\nNewark, NJ 07102")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(protest_form19_pdf(protest))).pages)
    order = ["Name of protestant", "Importer number (IR#)", "93-417726100", "1 Heron Way", "Filed by", "Lead entry",
             protest.items.get(lead=True).entry.entry_number_display, "Port of entry", "Entries protested",
             "Category of merchandise", "chapter 39", "Decision protested", "Reason for protest", "Learning Resources",
             "19 U.S.C. 1505", "Signature"]
    positions = [text.find(word) for word in order]
    assert -1 not in positions, [w for w, p in zip(order, positions, strict=True) if p == -1]
    assert positions == sorted(positions)
    assert "$135.50" in text


def test_an_ssn_form_ir_number_is_masked_on_the_content_sheet(alice, importer_org) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import ImporterFactory

    person = ImporterFactory(owner=importer_org, ir_number="123-45-6789", name="Sole Trader")
    protest_entry(person, importer_org)
    classify(importer_org)
    p = protest_drafts_build(organization=importer_org, user=alice, importer_ids=[person.pk]).protests[0]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(protest_form19_pdf(p))).pages)
    assert "***-**-6789" in text and "123-45-6789" not in text


def test_the_reason_is_the_organisations_own_when_it_set_one(alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    from protests.services import protest_reason_set

    protest_reason_set(organization=importer_org, user=alice, text="Our own reason, 19 U.S.C. 1505.")
    protest_entry(own_importer, importer_org)
    classify(importer_org)
    p = protest_drafts_build(organization=importer_org, user=alice).protests[0]
    assert reason_plain_text(p) == b"Our own reason, 19 U.S.C. 1505.\n"
    protest_reason_set(organization=importer_org, user=alice, text="")
    assert "Learning Resources, Inc. v. Trump" in documents.DEFAULT_REASON


def test_the_counsel_packet_lists_cit_entries_by_deadline_with_history_and_totals(alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    later = protest_entry(own_importer, importer_org, days_ago=300, duties=("40.00",))
    earlier = protest_entry(own_importer, importer_org, days_ago=250, duties=("60.00", "5.00"))
    earlier.entry_summary_date = date(2025, 3, 10)
    earlier.save()
    protest_entry(own_importer, importer_org, days_ago=100)  # protest path: not in the packet
    d = Declaration.objects.create(organization=importer_org, importer=own_importer, name="CAPE file 1", status="accepted_with_errors")
    DeclarationEntry.objects.create(declaration=d, entry=later, position=1, outcome="rejected",
                                    error_text="ENTRY SUMMARY IS IN FINAL LIQUIDATION STATUS")
    classify(importer_org)
    packet = counsel_packet(importer_org, own_importer, as_of=date(2026, 12, 7))
    assert [r.entry_number for r in packet.rows] == [earlier.entry_number, later.entry_number]
    assert packet.total_duty == Decimal("105.00") and packet.line_count == 3
    assert packet.rows[1].cape_history == ["CAPE file 1: rejected, ENTRY SUMMARY IS IN FINAL LIQUIDATION STATUS"]
    wb = load_workbook(io.BytesIO(counsel_xlsx(packet)))
    rows = list(wb["CIT entries"].iter_rows(values_only=True))
    assert rows[-1][0] == "Total" and Decimal(str(rows[-1][6])) == Decimal("105.00")
    assert len(list(wb["IEEPA lines"].iter_rows())) == 4
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(counsel_pdf(packet))).pages)
    assert earlier.entry_number_display in text and "$105.00" in text and "FINAL LIQUIDATION" in text
    words = " ".join(text.split())  # the PDF's table cells wrap
    assert "Total: 2 entries" in words and "3 lines" in words


def test_the_counsel_packet_counts_one_entry_and_one_line_in_the_singular(alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    protest_entry(own_importer, importer_org, days_ago=300, duties=("40.00",))
    classify(importer_org)
    packet = counsel_packet(importer_org, own_importer, as_of=date(2026, 12, 7))
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(counsel_pdf(packet))).pages)
    words = " ".join(text.split())  # the PDF's table cells wrap
    assert "Total: 1 entry" in words and "1 line " in words and "1 entries" not in words and "1 lines" not in words
