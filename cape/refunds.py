"""Following the money after CAPE acceptance: expected dates, REV-603 / REV-615 imports, per-importer timelines.

Sources: shared/domain/README.md §6 (after acceptance unliquidated entries liquidate about 45 days
later; refunds expected 60–90 days after acceptance; figures in cape/data/cape_declarations.json),
§4 (refunds are consolidated by IOR and liquidation date, so they do not map one-to-one to
declarations; a returned ACH refund needs a new enrollment and a replacement, 4–6 weeks), §5
(REV-603 secondary statuses Sent to Treasury / Treasury Issued / Funds Diverted / Check/ACH Returned;
REV-615 entry-level CAPE refunds with principal and interest).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Exists, Max, OuterRef, QuerySet, Sum

from accounts.irnumber import InvalidIRNumber, canonical_ir_number
from accounts.models import Importer, Organization
from accounts.selectors import importers_for
from accounts.services import ServiceError, audit
from ach.services import rejection_record  # the ACH capability (issue: ACH refunds)
from cape.claims import REPORT_NAMES, ReportFileError, cape_data, parse_refund_report
from cape.declarations import declarations_for
from cape.models import Declaration, DeclarationEntry, RefundEvent
from entries.models import Entry

ZERO = Decimal("0.00")
K = RefundEvent.Kind


@dataclass(frozen=True)
class ExpectedDates:
    accepted_on: date
    liquidation: date
    refund_from: date
    refund_to: date


def expected_dates(accepted_on: date | None) -> ExpectedDates | None:
    if accepted_on is None:
        return None
    t = cape_data()["timing"]
    return ExpectedDates(
        accepted_on=accepted_on,
        liquidation=accepted_on + timedelta(days=t["expected_liquidation_days"]),
        refund_from=accepted_on + timedelta(days=t["refund_window_start_days"]),
        refund_to=accepted_on + timedelta(days=t["refund_window_end_days"]),
    )


def refund_events_for(organization: Organization, importer: Importer | None = None) -> Any:
    # The money is the importer's: every organisation that sees the importer sees its refund events,
    # whoever recorded them (RefundEvent.organization: who imported or typed the event).
    qs = RefundEvent.objects.filter(importer__in=importers_for(organization))
    if importer is not None:
        qs = qs.filter(importer=importer)
    return qs.select_related("entry", "declaration", "importer")


@dataclass
class EntryRefunds:
    """One entry's money after CAPE: the accepted declaration it is on (if any), the dates that
    follow from its acceptance (README §6), and what the REV-603 / REV-615 imports recorded for it."""

    declaration: Declaration | None
    expected: ExpectedDates | None
    events: list[RefundEvent]

    @property
    def received(self) -> Decimal:
        return sum((e.amount or ZERO for e in self.events if e.kind == K.TREASURY_ISSUED), ZERO)


def entry_refunds(organization: Organization, entry: Entry) -> EntryRefunds:
    """Read the refund side of one entry of ``organization`` (the caller has already scoped the entry).

    "On an accepted declaration" as rules.md R3 reads it: a declaration accepted with or without
    errors that did not reject this entry; the most recently accepted one when there are several."""
    item = (
        DeclarationEntry.objects.filter(entry=entry,
                                        declaration__status__in=(Declaration.Status.ACCEPTED, Declaration.Status.ACCEPTED_WITH_ERRORS),
                                        declaration__accepted_on__isnull=False)
        .exclude(outcome=DeclarationEntry.Outcome.REJECTED)
        .select_related("declaration")
        .order_by("-declaration__accepted_on", "-declaration_id")
        .first()
    )
    declaration = item.declaration if item is not None else None
    events = list(RefundEvent.objects.filter(entry=entry).select_related("declaration")
                  .order_by("event_date", "created_at", "pk"))
    return EntryRefunds(declaration=declaration, expected=expected_dates(declaration.accepted_on) if declaration else None,
                        events=events)


# ----------------------------------------------------------------------------- import
@dataclass
class RefundImportResult:
    report: str
    created: int = 0
    duplicates: int = 0
    returned: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    unknown: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"report": self.report, "created": self.created, "duplicates": self.duplicates, "returned": self.returned,
                "by_kind": self.by_kind, "unknown": self.unknown, "problems": self.problems, "notes": self.notes}


def refund_report_import(*, organization: Organization, data: bytes, report: str, filename: str = "refund report",
                         user: Any = None) -> RefundImportResult:
    """Record what a REV-603 / REV-615 CSV says happened to each refund.

    Rows are matched to the organisation's entries by entry number (or to one of its importers by
    IR number); rows that match nothing are reported, not dropped. Re-importing the same report adds
    nothing (same importer, entry, kind, date, amount and reference). A Check/ACH Returned row raises
    an ACH problem on the importer (ach.services.rejection_record).
    """
    if report not in REPORT_NAMES:
        raise ServiceError(f"Choose a report: {', '.join(REPORT_NAMES.values())}.", field="report")
    try:
        parsed = parse_refund_report(data, report, filename)
    except ReportFileError as exc:
        raise ServiceError(str(exc), field="file") from None
    result = RefundImportResult(report=report, problems=[p.as_dict() for p in parsed.problems], notes=list(parsed.notes))
    importers = importers_for(organization)
    numbers = {r.entry_number for r in parsed.rows if r.entry_number}
    entries = {e.entry_number: e for e in Entry.objects.filter(entry_number__in=numbers,
                                                                  importer__in=importers).select_related("importer")}
    by_ir: dict[str, Importer] = {i.ir_number: i for i in importers}
    claims = {d.claim_number: d for d in declarations_for(organization).exclude(claim_number="")}
    accepted_on_entry: dict[int, Declaration] = {}
    for item in (DeclarationEntry.objects.filter(entry__in=entries.values(),
                                                 outcome=DeclarationEntry.Outcome.ACCEPTED)
                 .select_related("declaration").order_by("outcome_at")):
        accepted_on_entry[item.entry_id] = item.declaration
    counts: dict[str, int] = defaultdict(int)
    with transaction.atomic():
        for row in parsed.rows:
            entry = entries.get(row.entry_number) if row.entry_number else None
            importer = entry.importer if entry else None
            if importer is None and row.importer_number:
                try:
                    importer = by_ir.get(canonical_ir_number(row.importer_number))
                except InvalidIRNumber:
                    importer = None
            if importer is None:
                result.unknown.append({"row": row.row, "entry_number": row.entry_number, "importer_number": row.importer_number,
                                       "reason": "no entry or importer of this organisation matches"})
                continue
            if row.entry_number and entry is None:
                # The money is real: keep it against the importer, and say which entry we could not find.
                result.unknown.append({"row": row.row, "entry_number": row.entry_number, "importer_number": row.importer_number,
                                       "reason": "entry not loaded here; recorded against the importer"})
            declaration = claims.get(row.claim_number) if row.claim_number else None
            if declaration is None and entry is not None:
                declaration = accepted_on_entry.get(entry.pk)
            # The same event imported by the importer and by its broker is one event (the importer's money).
            key = dict(importer=importer, entry=entry, kind=row.kind, event_date=row.event_date,
                       amount=row.amount, reference=row.reference, source=report)
            if RefundEvent.objects.filter(**key).exists():
                result.duplicates += 1
                continue
            event = RefundEvent.objects.create(**key, organization=organization, declaration=declaration, principal=row.principal, interest=row.interest,
                                               status_text=row.status_raw[:200])
            counts[row.kind] += 1
            result.created += 1
            if row.kind == K.RETURNED:
                result.returned += 1
                rejection_record(
                    importer=importer, amount=row.amount, user=user, organization=organization,
                    reason=f"{REPORT_NAMES[report]}: {row.status_raw or 'Check/ACH Returned'}",
                    # AchRejection.Source knows rev603 (and rev613, manual); a returned row on REV-615 is recorded as manual.
                    source="rev603" if report == "rev603" else "manual",
                    reference=row.reference or f"{report}-{event.pk}", rejected_on=row.event_date,
                    entry_number=row.entry_number,
                )
        result.by_kind = dict(counts)
        audit(action="refund_report.import", user=user, organization=organization, report=report, file=filename,
              created=result.created, duplicates=result.duplicates, returned=result.returned, unknown=len(result.unknown),
              problems=len(result.problems), by_kind=result.by_kind)
    return result


# ----------------------------------------------------------------------------- reads: received vs expected
@dataclass
class RefundSummary:
    importer: Importer
    expected_principal: Decimal = ZERO  # IEEPA duty on entries CAPE accepted
    pending_principal: Decimal = ZERO  # IEEPA duty on entries submitted, outcome not yet known
    sent_to_treasury: Decimal = ZERO
    received_principal: Decimal = ZERO
    received_interest: Decimal = ZERO
    received_total: Decimal = ZERO
    diverted: Decimal = ZERO
    returned: Decimal = ZERO
    next_window: ExpectedDates | None = None

    @property
    def outstanding(self) -> Decimal:
        return max(ZERO, self.expected_principal - self.received_principal - self.diverted)


def refund_summary(organization: Organization, importer: Importer) -> RefundSummary:
    return refund_summaries(organization, [importer])[0]


def _add_event(s: RefundSummary, kind: str, amount: Decimal | None, principal: Decimal | None, interest: Decimal | None) -> None:
    amount = amount or ZERO
    if kind == K.TREASURY_ISSUED:
        s.received_total += amount
        if principal is None and interest is None:
            s.received_principal += amount
        else:
            s.received_principal += principal or ZERO
            s.received_interest += interest or ZERO
    elif kind == K.SENT_TO_TREASURY:
        s.sent_to_treasury += amount
    elif kind == K.FUNDS_DIVERTED:
        s.diverted += abs(amount)
    elif kind == K.RETURNED:
        s.returned += abs(amount)


def refund_summaries(organization: Organization, importers: Sequence[Importer]) -> list[RefundSummary]:
    """Received against expected for each importer, in the order given, in a fixed number of
    queries (grouped by importer) whatever the number of importers."""
    summaries = {i.pk: RefundSummary(importer=i) for i in importers}
    ids = list(summaries)
    if not ids:
        return []
    # CAPE outcomes are the entries' (any organisation's declaration), refunds the importer's.
    items = DeclarationEntry.objects.filter(entry__importer_id__in=ids)
    for importer_id, v in (items.filter(outcome=DeclarationEntry.Outcome.ACCEPTED).values("entry__importer_id")
                           .annotate(v=Sum("entry__ieepa_duty")).values_list("entry__importer_id", "v")):
        summaries[importer_id].expected_principal = v or ZERO
    for importer_id, v in (items.filter(outcome=DeclarationEntry.Outcome.PENDING, declaration__status=Declaration.Status.SUBMITTED)
                           .values("entry__importer_id").annotate(v=Sum("entry__ieepa_duty")).values_list("entry__importer_id", "v")):
        summaries[importer_id].pending_principal = v or ZERO
    events = RefundEvent.objects.filter(importer_id__in=ids)
    for importer_id, kind, amount, principal, interest in events.values_list("importer_id", "kind", "amount", "principal", "interest"):
        _add_event(summaries[importer_id], kind, amount, principal, interest)
    for importer_id, latest in (declarations_for(organization).filter(importer_id__in=ids, accepted_on__isnull=False)
                                .values("importer_id").annotate(latest=Max("accepted_on")).values_list("importer_id", "latest")):
        summaries[importer_id].next_window = expected_dates(latest)
    return [summaries[i.pk] for i in importers]


def refund_overview_importers(organization: Organization) -> QuerySet[Importer]:
    """The organisation's importers that have a declaration or a refund event, by name (to paginate)."""
    with_items = DeclarationEntry.objects.filter(entry__importer_id=OuterRef("pk"))
    with_events = RefundEvent.objects.filter(importer_id=OuterRef("pk"))
    return importers_for(organization).filter(Exists(with_items) | Exists(with_events)).order_by("name", "pk")


def refund_overview(organization: Organization) -> list[RefundSummary]:
    return refund_summaries(organization, list(refund_overview_importers(organization)))


@dataclass
class TimelineItem:
    on: date | None
    kind: str
    label: str
    declaration: Declaration | None = None
    event: RefundEvent | None = None
    projected: bool = False


def refund_timeline(organization: Organization, importer: Importer) -> list[TimelineItem]:
    """Declarations (filed, accepted, expected liquidation and refund window) and refund events, by date."""
    items: list[TimelineItem] = []
    decls = declarations_for(organization).filter(items__entry__importer=importer).distinct()
    for d in decls:
        if d.exported_at:
            items.append(TimelineItem(d.exported_at.date(), "exported", f"{d.name}: file downloaded ({d.entry_count:,} entries)", d))
        if d.submitted_on:
            items.append(TimelineItem(d.submitted_on, "submitted", f"{d.name}: filed in CAPE, claim {d.claim_number or '—'}", d))
        if d.accepted_on:
            items.append(TimelineItem(d.accepted_on, "accepted", f"{d.name}: {d.get_status_display()}", d))
            exp = expected_dates(d.accepted_on)
            assert exp is not None
            items.append(TimelineItem(exp.liquidation, "expected_liquidation", f"{d.name}: expected liquidation (acceptance + 45 days)", d, projected=True))
            items.append(TimelineItem(exp.refund_from, "refund_window", f"{d.name}: refund expected from (acceptance + 60 days)", d, projected=True))
            items.append(TimelineItem(exp.refund_to, "refund_window", f"{d.name}: refund expected by (acceptance + 90 days)", d, projected=True))
    for e in refund_events_for(organization, importer):
        amount = f"${e.amount:,.2f}" if e.amount is not None else ""
        split = ""
        if e.principal is not None or e.interest is not None:
            split = f" (principal ${e.principal or ZERO:,.2f}, interest ${e.interest or ZERO:,.2f})"
        where = f" entry {e.entry.entry_number_display}" if e.entry else ""
        items.append(TimelineItem(e.event_date, e.kind, f"{e.get_kind_display()}{where}: {amount}{split}", e.declaration, e))
    items.sort(key=lambda t: (t.on or date.max, t.kind))
    return items
