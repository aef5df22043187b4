"""The files of a protest and of the court path: the Protest Details Spreadsheet (XLSX, CSV), the Form 19 content
sheet (PDF), the reason for protest as plain text, and the counsel packet per importer (XLSX, PDF).

Every export is a read: members, viewers included, may download them."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Form5106Record
from protests.documents import (
    hts_dotted,
    neutralise,
    render_csv,
    render_xlsx,
)
from protests.models import Protest
from protests.selectors import CounselPacket, protest_sheet_lines

ZERO = Decimal("0.00")
# WeasyPrint lays out about a hundred table rows a second: a content sheet lists this many entries and names
# the spreadsheet (which lists every line) for the rest.
PDF_ENTRY_ROWS = 1000


def spreadsheet_summary(importer: Any, lines: list[Any], entry_count: int, deadline: date | None) -> list[tuple[str, Any]]:
    return [
        ("Protest Details Spreadsheet", "CBP CAMS guidance: columns 1-4 are Entry Number, Entry Line Number, Change From, Change To"),
        ("Protestant (importer of record)", importer.name),
        ("Importer number (IR#)", importer.ir_display),
        ("Entries", entry_count),
        ("IEEPA tariff lines", len(lines)),
        ("IEEPA duty protested", sum((line.duty for line in lines), ZERO)),
        ("Earliest protest deadline", deadline),
    ]


def render_spreadsheets(importer: Any, lines: list[Any], entry_count: int, deadline: date | None) -> tuple[bytes, bytes]:
    """(XLSX, CSV) of the Protest Details Spreadsheet."""
    return render_xlsx(lines, spreadsheet_summary(importer, lines, entry_count, deadline)), render_csv(lines)


def protest_xlsx(protest: Protest) -> bytes:
    """The spreadsheet made when the protest was drafted (the file whose size was checked against the ACE limit);
    made now from the entries' lines for a protest that has none stored."""
    if protest.spreadsheet_xlsx is not None:
        return bytes(protest.spreadsheet_xlsx)
    lines = protest_sheet_lines(protest)
    return render_xlsx(lines, spreadsheet_summary(protest.importer, lines, protest.entry_count, protest.deadline))


def protest_csv(protest: Protest) -> bytes:
    if protest.spreadsheet_csv is not None:
        return bytes(protest.spreadsheet_csv)
    return render_csv(protest_sheet_lines(protest))


def file_stem(protest: Protest) -> str:
    return f"protest-{protest.protest_number or protest.pk}"


def reason_plain_text(protest: Protest) -> bytes:
    return (protest.reason_text.strip() + "\n").encode("utf-8")


def form19_context(protest: Protest) -> dict[str, Any]:
    items = list(protest.items.select_related("entry").order_by("position")[:PDF_ENTRY_ROWS])
    record = Form5106Record.objects.filter(importer=protest.importer).first()
    lines = protest_sheet_lines(protest)
    chapters = sorted({line.commodity_hts[:2] for line in lines if line.commodity_hts})
    lead = items[0].entry if items else None
    return {
        "protest": protest, "importer": protest.importer, "record": record,
        "protestant_name": (record.company_name if record and record.company_name else protest.importer.name),
        "filer": protest.organization.name, "lead": lead, "items": items,
        "more_entries": max(0, protest.entry_count - len(items)), "line_count": len(lines),
        "total_duty": sum((line.duty for line in lines), ZERO),
        "chapters": chapters, "generated": timezone.localtime(),
        "reason_paragraphs": [p.strip() for p in protest.reason_text.split("\n\n") if p.strip()],
    }


def protest_form19_pdf(protest: Protest) -> bytes:
    from weasyprint import HTML

    return HTML(string=render_to_string("pdf/protest_form19.html", form19_context(protest))).write_pdf()


# ----------------------------------------------------------------------------- counsel packet
COUNSEL_COLUMNS = ["Entry Number", "Entry Type", "Port of Entry", "Entry Summary Date", "Liquidation Date",
                   "Liquidation Status", "IEEPA Duty", "Estimated Interest", "CIT Deadline (conservative)",
                   "IEEPA Lines", "Protest History", "CAPE History"]
LINE_COLUMNS = ["Entry Number", "Entry Line Number", "Chapter 99 HTS Number", "Commodity HTS Number", "IEEPA Duty"]


def counsel_xlsx(packet: CounselPacket) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("CIT entries")
    ws.append(COUNSEL_COLUMNS)
    for r in packet.rows:
        ws.append([r.entry_number_display, r.entry_type, r.port_code, r.entry_summary_date, r.liquidation_date,
                   r.liquidation_status, r.ieepa_duty, r.estimated_interest, r.cit_deadline, len(r.lines),
                   neutralise("; ".join(r.protest_history)), neutralise("; ".join(r.cape_history))])
    ws.append(["Total", "", "", "", "", "", packet.total_duty, packet.total_interest, packet.earliest_deadline,
               packet.line_count, "", ""])
    lines = wb.create_sheet("IEEPA lines")
    lines.append(LINE_COLUMNS)
    for r in packet.rows:
        for line in r.lines:
            lines.append([r.entry_number_display, line.line_number, hts_dotted(line.hts),
                          hts_dotted(line.commodity_hts) if line.commodity_hts else "", line.duty])
    about = wb.create_sheet("About")
    for label, value in [
        ("Counsel packet", "Court of International Trade path"),
        ("Importer of record", packet.importer.name),
        ("Importer number (IR#)", packet.importer.ir_display),
        ("Prepared for", packet.organization.name),
        ("As of", packet.as_of),
        ("Entries", len(packet.rows)),
        ("IEEPA duty", packet.total_duty),
        ("Estimated interest", packet.total_interest),
        ("CIT deadline", "Entry summary date + 2 years: the earliest date the claim could have accrued "
                         "(28 U.S.C. 2636(i)); when it accrued is for counsel."),
        ("Interest", "Estimate at the IRS overpayment rates (19 U.S.C. 1505(c)); CBP computes what is paid."),
    ]:
        about.append([neutralise(label), neutralise(value)])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def counsel_pdf(packet: CounselPacket) -> bytes:
    from weasyprint import HTML

    html = render_to_string("pdf/counsel_packet.html", {
        "packet": packet, "rows": packet.rows[:PDF_ENTRY_ROWS], "more": max(0, len(packet.rows) - PDF_ENTRY_ROWS),
        "generated": timezone.localtime()})
    return HTML(string=html).write_pdf()


def counsel_stem(packet: CounselPacket, as_of: date) -> str:
    return f"counsel-packet-{packet.importer.pk}-{as_of:%Y%m%d}"

