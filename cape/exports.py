"""Exports: an XLSX workbook of every entry, a PDF refund-readiness report per importer, an ICS deadline calendar.

Every export is a read (members, including viewers, may export). Text cells that a spreadsheet could
read as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) are written
with a leading apostrophe (OWASP "CSV injection" guidance), so an importer or filer name such as
``=HYPERLINK(...)`` stays text.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.irnumber import mask_ir_number
from accounts.models import Importer, Organization
from accounts.selectors import importers_for
from accounts.xlsxcells import typed_row
from cape.declarations import declarations_for
from cape.models import CAPE_PATHS, Classification, Declaration, DeclarationEntry, Path, RefundEvent
from cape.refunds import expected_dates
from cape.rules import CAPE_WINDOW_WORDS
from entries.models import Entry
from refundready.spreadsheet import neutralise

ZERO = Decimal("0.00")

# ----------------------------------------------------------------------------- rows
ENTRY_COLUMNS = [
    "Entry Number", "Importer", "Importer Number (IR#)", "Entry Type", "Entry Date", "Entry Summary Date",
    "Liquidation Status", "Liquidation Date", "IEEPA Duty", "Total Duty", "Path", "Reasons", "Deadline",
    "Urgent", "CAPE Window Closes", "Projected Liquidation", "Protest Deadline", "CIT Deadline", "Estimated Interest",
    "Protest", "Filer", "Declaration", "Declaration Status", "CAPE Outcome", "CBP Error", "Accepted On",
    "Expected Liquidation", "Refund Expected From", "Refund Expected By", "Refund Received",
]


def _entries(organization: Organization, importer: Importer | None) -> Any:
    qs = Entry.objects.filter(importer__in=importers_for(organization))
    if importer is not None:
        qs = qs.filter(importer=importer)
    return qs


def _latest_declaration_items(organization: Organization, entry_ids: Iterable[int] | None = None) -> dict[int, dict[str, Any]]:
    # The entry's CAPE history, whichever organisation filed it (another organisation's drafts excepted:
    # CBP never saw them).
    qs = DeclarationEntry.objects.filter(entry__importer__in=importers_for(organization)).filter(
        Q(declaration__in=declarations_for(organization))
        | (~Q(declaration__organization=organization) & ~Q(declaration__status=Declaration.Status.DRAFT)))
    if entry_ids is not None:
        qs = qs.filter(entry_id__in=list(entry_ids))
    latest: dict[int, dict[str, Any]] = {}
    for row in qs.order_by("declaration__created_at", "pk").values(
        "entry_id", "outcome", "error_text", "declaration__name", "declaration__status", "declaration__accepted_on"
    ):
        latest[row["entry_id"]] = cast("dict[str, Any]", row)
    return latest


def _received(organization: Organization) -> dict[int, Decimal]:
    out: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for entry_id, amount in RefundEvent.objects.filter(importer__in=importers_for(organization), kind=RefundEvent.Kind.TREASURY_ISSUED,
                                                       entry__isnull=False).values_list("entry_id", "amount"):
        out[entry_id] += amount or ZERO
    return out


def entry_rows(organization: Organization, importer: Importer | None = None) -> Iterable[tuple[str | None, list[Any]]]:
    """(path, row) for every entry, in ENTRY_COLUMNS order."""
    decl = _latest_declaration_items(organization)
    received = _received(organization)
    statuses = dict(Declaration.Status.choices)
    outcomes = dict(DeclarationEntry.Outcome.choices)
    paths = dict(Path.choices)
    qs = (_entries(organization, importer).select_related("importer").order_by("importer__name", "entry_number")
          .values("pk", "entry_number", "importer__name", "importer__ir_number", "entry_type", "entry_date", "entry_summary_date",
                  "liquidation_status", "liquidation_date", "ieepa_duty", "total_duty", "protest_status", "protest_number",
                  "filer_name", "classification__path", "classification__reasons_text", "classification__deadline",
                  "classification__urgent", "classification__cape_window_closes", "classification__projected_liquidation_date",
                  "classification__protest_deadline", "classification__cit_deadline", "classification__estimated_interest"))

    for e in qs.iterator(chunk_size=5000):
        d = decl.get(e["pk"], {})
        exp = expected_dates(d.get("declaration__accepted_on")) if d.get("outcome") == "accepted" else None
        path = e["classification__path"]
        n = e["entry_number"]
        yield path, [
            f"{n[:3]}-{n[3:10]}-{n[10:]}" if len(n) == 11 else n,
            e["importer__name"], mask_ir_number(e["importer__ir_number"]), e["entry_type"], e["entry_date"], e["entry_summary_date"],
            e["liquidation_status"], e["liquidation_date"], e["ieepa_duty"], e["total_duty"],
            paths.get(path, "Not classified") if path else "Not classified",
            ", ".join(r for r in (e["classification__reasons_text"] or "").split("|") if r),
            e["classification__deadline"], "yes" if e["classification__urgent"] else "",
            e["classification__cape_window_closes"], e["classification__projected_liquidation_date"],
            e["classification__protest_deadline"], e["classification__cit_deadline"], e["classification__estimated_interest"],
            e["protest_status"] if e["protest_status"] != "none" else "", e["filer_name"],
            d.get("declaration__name", ""), statuses.get(d.get("declaration__status", ""), ""),
            outcomes.get(d.get("outcome", ""), ""), d.get("error_text", ""),
            # CBP accepts a declaration while rejecting some of its entries: only an accepted entry was accepted on.
            d.get("declaration__accepted_on") if d.get("outcome") == "accepted" else None,
            exp.liquidation if exp else None, exp.refund_from if exp else None, exp.refund_to if exp else None,
            received.get(e["pk"]),
        ]


# ----------------------------------------------------------------------------- XLSX
def workbook_bytes(organization: Organization, importer: Importer | None = None) -> bytes:
    """Summary sheet, one sheet per path, a declarations sheet; every entry with dates and amounts."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    bold = Font(bold=True)

    def header(ws: Any, names: list[str]) -> None:
        cells = []
        for name in names:
            c = WriteOnlyCell(ws, value=name)
            c.font = bold
            cells.append(c)
        ws.append(cells)

    def clean(ws: Any, row: list[Any]) -> list[Any]:
        return typed_row(ws, row, text=neutralise)

    by_path: dict[str, list[list[Any]]] = defaultdict(list)
    totals: dict[str, list[Any]] = defaultdict(lambda: [0, ZERO])
    for path, row in entry_rows(organization, importer):
        key = path or "unclassified"
        by_path[key].append(row)
        totals[key][0] += 1
        totals[key][1] += row[8] or ZERO

    summary = wb.create_sheet("Summary")
    summary.append(clean(summary, ["RefundReady IEEPA refund workbook"]))
    summary.append(clean(summary, ["Organisation", organization.name]))
    summary.append(clean(summary, ["Importer", importer.name if importer else "All importers"]))
    summary.append(["Generated", timezone.localtime().strftime("%Y-%m-%d %H:%M %Z")])
    summary.append([])
    header(summary, ["Path", "Entries", "IEEPA duty"])
    labels = dict(Path.choices) | {"unclassified": "Not classified"}
    for key in [*[p.value for p in Path], "unclassified"]:
        if key in totals or key != "unclassified":
            count, duty = totals.get(key, [0, ZERO])
            summary.append(clean(summary, [labels[key], count, duty]))
    summary.append(clean(summary, ["Total", sum(t[0] for t in totals.values()), sum((t[1] for t in totals.values()), ZERO)]))
    summary.append([])
    header(summary, ["Declaration status", "Declarations", "Entries", "IEEPA duty"])
    dq = declarations_for(organization)
    if importer is not None:
        dq = dq.filter(Q(importer=importer) | Q(items__entry__importer=importer)).distinct()
    for status_row in dq.values("status").annotate(n=Count("pk", distinct=True), entries=Sum("entry_count"), duty=Sum("ieepa_duty")).order_by("status"):
        summary.append(clean(summary, [dict(Declaration.Status.choices)[status_row["status"]], status_row["n"], status_row["entries"], status_row["duty"]]))

    for p in [*Path, "unclassified"]:
        key = p.value if isinstance(p, Path) else p
        if key == "unclassified" and key not in by_path:
            continue
        title = (labels[key] if key != "unclassified" else "Not classified").replace("/", "-")[:31]
        ws = wb.create_sheet(title)
        header(ws, ENTRY_COLUMNS)
        for row in by_path.get(key, []):
            ws.append(clean(ws, row))

    ws = wb.create_sheet("Declarations")
    header(ws, ["Declaration", "Importer", "Status", "Entries", "IEEPA duty", "SHA-256", "Downloaded", "Submitted",
                "Claim number", "Accepted", "Expected liquidation", "Refund expected from", "Refund expected by"])
    for d in dq.select_related("importer").order_by("created_at"):
        exp = expected_dates(d.accepted_on)
        ws.append(clean(ws, [d.name, d.importer.name if d.importer else "Mixed", d.get_status_display(), d.entry_count, d.ieepa_duty,
                         d.sha256, timezone.localtime(d.exported_at).replace(tzinfo=None) if d.exported_at else None, d.submitted_on,
                         d.claim_number, d.accepted_on, exp.liquidation if exp else None, exp.refund_from if exp else None,
                         exp.refund_to if exp else None]))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ----------------------------------------------------------------------------- ICS
def _ics_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")


def _fold(line: str) -> list[str]:
    """RFC 5545 §3.1: lines longer than 75 octets are folded with CRLF + one space."""
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return [line]
    out: list[str] = []
    current, size = "", 0
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > (75 if not out else 74):
            out.append(current)
            current, size = "", 0
        current += ch
        size += n
    out.append(current)
    return [out[0]] + [" " + part for part in out[1:]]


@dataclass
class CalendarEvent:
    uid: str
    on: date
    summary: str
    description: str


def calendar_events(organization: Organization, importer: Importer | None = None, as_of: date | None = None) -> list[CalendarEvent]:
    """One all-day event per importer, kind and date (entries sharing a deadline are counted together)."""
    as_of = as_of or timezone.localdate()
    cls = Classification.objects.filter(importer__in=importers_for(organization))
    if importer is not None:
        cls = cls.filter(importer=importer)
    events: list[CalendarEvent] = []
    kinds = [
        ("cape", "CAPE window closes", Q(path__in=CAPE_PATHS), "cape_window_closes",
         f"Last day to file these entries in CAPE: {CAPE_WINDOW_WORDS}, inside the 90 days of 19 U.S.C. 1501 "
         "(CBP CAPE guidance, CSMS #67923154)."),
        ("protest", "Protest deadline", Q(path=Path.PROTEST), "protest_deadline",
         "180 days after liquidation (19 U.S.C. 1514(c)(3))."),
        ("cit", "CIT deadline (conservative)", Q(path=Path.CIT), "cit_deadline",
         "2 years from the earliest accrual date (28 U.S.C. 2636(i)); counsel decides."),
    ]
    for code, title, condition, field_name, why in kinds:
        rows = (cls.filter(condition, **{f"{field_name}__gte": as_of}).values("importer_id", "importer__name", field_name)
                .annotate(n=Count("pk"), duty=Sum("ieepa_duty")).order_by(field_name, "importer__name"))
        for r in rows:
            on = r[field_name]
            events.append(CalendarEvent(
                uid=f"{code}-{r['importer_id']}-{on:%Y%m%d}@refundready",
                on=on, summary=f"{title}: {r['importer__name']} ({r['n']:,} entries)",
                description=f"{r['n']:,} entries, IEEPA duty ${r['duty'] or ZERO:,.2f}. {why}",
            ))
    dq = declarations_for(organization).filter(accepted_on__isnull=False)
    if importer is not None:
        dq = dq.filter(Q(importer=importer) | Q(items__entry__importer=importer)).distinct()
    for d in dq:
        exp = expected_dates(d.accepted_on)
        assert exp is not None
        for code, on, title in [("liq", exp.liquidation, "Expected liquidation"), ("refund-from", exp.refund_from, "Refund expected from"),
                                ("refund-by", exp.refund_to, "Refund expected by")]:
            if on >= as_of:
                events.append(CalendarEvent(
                    uid=f"decl-{d.pk}-{code}@refundready", on=on, summary=f"{title}: {d.name}",
                    description=f"CAPE claim {d.claim_number or '—'} accepted {d.accepted_on:%m/%d/%Y}; {d.entry_count:,} entries "
                                "(approximate: CBP schedules accepted unliquidated entries to liquidate about 45 days after "
                                "acceptance and expects refunds 60 to 90 days after it).",
                ))
    events.sort(key=lambda e: (e.on, e.uid))
    return events


def deadlines_ics(organization: Organization, importer: Importer | None = None, as_of: date | None = None) -> bytes:
    stamp = datetime.now(tz=timezone.get_fixed_timezone(0)).strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//RefundReady//IEEPA deadlines//EN", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH", f"X-WR-CALNAME:{_ics_escape('RefundReady deadlines · ' + (importer.name if importer else organization.name))}"]
    for e in calendar_events(organization, importer, as_of):
        lines += ["BEGIN:VEVENT", f"UID:{e.uid}", f"DTSTAMP:{stamp}", f"DTSTART;VALUE=DATE:{e.on:%Y%m%d}",
                  f"DTEND;VALUE=DATE:{e.on + timedelta(days=1):%Y%m%d}", f"SUMMARY:{_ics_escape(e.summary)}",
                  f"DESCRIPTION:{_ics_escape(e.description)}", "TRANSP:TRANSPARENT", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return ("".join(part + "\r\n" for line in lines for part in _fold(line))).encode("utf-8")
