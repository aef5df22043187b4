"""XLSX workbook (formula neutralisation), readiness PDF, ICS deadline calendar; viewers may export."""

from __future__ import annotations

import io
import re
import zlib
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from cape.exports import _fold, deadlines_ics, workbook_bytes
from cape.models import Classification, Path
from portfolio.readiness_pdf import readiness_pdf
from refundready.spreadsheet import neutralise
from tests.cape.factories import eligible_entry

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_formula_starters_are_neutralised(value: str) -> None:
    assert neutralise(value) == "'" + value


def test_safe_values_pass_through() -> None:
    assert neutralise("Blue Heron") == "Blue Heron" and neutralise(-5) == -5 and neutralise(None) is None


def test_the_workbook_has_a_summary_one_sheet_per_path_and_every_entry(importer_org, own_importer, alice) -> None:
    own_importer.name = "=cmd|' /C calc'!A0"
    own_importer.save()
    a = eligible_entry(own_importer, filer_name="@evil")
    b = eligible_entry(own_importer, path=Path.PROTEST)
    Classification.objects.filter(entry=a).update(cape_window_closes=date(2026, 12, 19))
    wb = load_workbook(io.BytesIO(workbook_bytes(importer_org)))
    assert wb.sheetnames[0] == "Summary"
    for p in Path:
        assert p.label.replace("/", "-")[:31] in wb.sheetnames
    assert "Declarations" in wb.sheetnames
    cape = wb["CAPE Phase 1"]
    header = [c.value for c in cape[1]]
    rows = [[c.value for c in r] for r in cape.iter_rows(min_row=2)]
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert row["Entry Number"] == a.entry_number_display
    assert row["Importer"] == "'=cmd|' /C calc'!A0" and row["Filer"] == "'@evil"
    assert row["IEEPA Duty"] == 1200 and row["CAPE Window Closes"].date() == date(2026, 12, 19)
    # No cell anywhere holds a formula.
    for ws in wb.worksheets:
        for r in ws.iter_rows():
            for c in r:
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)
    protest = [[c.value for c in r] for r in wb["Protest"].iter_rows(min_row=2)]
    assert protest[0][0] == b.entry_number_display
    summary = {r[0].value: r[1].value for r in wb["Summary"].iter_rows() if r and r[0].value}
    assert summary["CAPE Phase 1"] == 1 and summary["Protest"] == 1 and summary["Total"] == 2


def _pdf_text(data: bytes) -> bytes:
    """The PDF's metadata plus its inflated streams (enough to find the title we set)."""
    out = [data]
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            out.append(zlib.decompress(m.group(1)))
        except zlib.error:
            pass
    return b"".join(out)


def test_the_readiness_pdf_is_a_pdf_naming_the_importer(importer_org, own_importer, alice) -> None:
    eligible_entry(own_importer)
    data = readiness_pdf(importer_org, own_importer)
    assert data.startswith(b"%PDF")
    assert b"Blue Heron Housewares Inc" in _pdf_text(data)


def _parse_ics(data: bytes) -> list[dict[str, str]]:
    """A strict-enough RFC 5545 reader: CRLF lines, unfolding, balanced BEGIN/END, NAME[;params]:value."""
    text = data.decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    physical = text.split("\r\n")[:-1]
    assert all(len(line.encode()) <= 75 for line in physical)
    lines: list[str] = []
    for line in physical:
        if line.startswith(" "):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    stack, events, current = [], [], None
    for line in lines:
        name, _, value = line.partition(":")
        assert re.fullmatch(r"[A-Z-]+(;[A-Z-]+=[^;:]+)*", name), line
        if name == "BEGIN":
            stack.append(value)
            if value == "VEVENT":
                current = {}
        elif name == "END":
            assert stack.pop() == value
            if value == "VEVENT":
                events.append(current)
        elif current is not None:
            current[name.split(";")[0]] = value
    assert stack == []
    assert lines[0] == "BEGIN:VCALENDAR" and "VERSION:2.0" in lines
    return events


def test_the_calendar_parses_and_lists_deadlines(importer_org, own_importer, alice) -> None:
    today = timezone.localdate()
    a = eligible_entry(own_importer)
    b = eligible_entry(own_importer)
    c = eligible_entry(own_importer, path=Path.PROTEST)
    Classification.objects.filter(entry__in=[a, b]).update(cape_window_closes=today + timedelta(days=10))
    Classification.objects.filter(entry=c).update(protest_deadline=today + timedelta(days=30))
    events = _parse_ics(deadlines_ics(importer_org))
    assert len(events) == 2
    cape = events[0]
    assert cape["DTSTART"] == f"{today + timedelta(days=10):%Y%m%d}"
    assert "CAPE window closes" in cape["SUMMARY"] and "(2 entries)" in cape["SUMMARY"]
    assert "\\," in cape["DESCRIPTION"]  # "$2\,400.00": commas escaped
    assert events[1]["SUMMARY"].startswith("Protest deadline")
    assert len({e["UID"] for e in events}) == 2


def test_long_lines_fold_at_75_octets() -> None:
    parts = _fold("DESCRIPTION:" + "é" * 100)
    assert all(len(p.encode()) <= 75 for p in parts) and all(p.startswith(" ") for p in parts[1:])
    assert "".join(p[1:] if i else p for i, p in enumerate(parts)) == "DESCRIPTION:" + "é" * 100


def test_a_viewer_may_export_everything(client, vera, own_importer) -> None:
    eligible_entry(own_importer)
    client.force_login(vera)
    r = client.get(reverse("cape_export_workbook"))
    assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxmlformats")
    r = client.get(reverse("cape_export_readiness", args=[own_importer.pk]))
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    r = client.get(reverse("cape_export_calendar") + f"?importer={own_importer.pk}")
    assert r.status_code == 200 and r.content.startswith(b"BEGIN:VCALENDAR")


def test_an_outsider_cannot_export_another_tenants_importer(client, charlie, own_importer) -> None:
    client.force_login(charlie)
    assert client.get(reverse("cape_export_readiness", args=[own_importer.pk])).status_code == 404
    assert client.get(reverse("cape_export_calendar") + f"?importer={own_importer.pk}").status_code == 404


def test_accepted_on_is_given_only_for_entries_cbp_accepted(importer_org, own_importer, alice) -> None:
    """CBP accepts a declaration and rejects some of its entries: the rejected and pending ones were not
    accepted on the declaration's date (issue #20, item 7)."""
    from cape.models import Declaration, DeclarationEntry
    from tests.cape.factories import DeclarationEntryFactory, DeclarationFactory

    accepted, rejected, pending = (eligible_entry(own_importer) for _ in range(3))
    declaration = DeclarationFactory(organization=importer_org, importer=own_importer,
                                     status=Declaration.Status.ACCEPTED_WITH_ERRORS, accepted_on=date(2026, 11, 2))
    for position, (entry, outcome) in enumerate([(accepted, DeclarationEntry.Outcome.ACCEPTED),
                                                 (rejected, DeclarationEntry.Outcome.REJECTED),
                                                 (pending, DeclarationEntry.Outcome.PENDING)], start=1):
        DeclarationEntryFactory(declaration=declaration, entry=entry, position=position, outcome=outcome)
    sheet = load_workbook(io.BytesIO(workbook_bytes(importer_org)))["CAPE Phase 1"]
    header = [c.value for c in sheet[1]]
    rows = {r["Entry Number"]: r for r in (dict(zip(header, [c.value for c in row], strict=True))
                                           for row in sheet.iter_rows(min_row=2))}
    assert rows[accepted.entry_number_display]["Accepted On"].date() == date(2026, 11, 2)
    assert rows[rejected.entry_number_display]["Accepted On"] is None
    assert rows[pending.entry_number_display]["Accepted On"] is None
