"""Reads: protests, their lines, the digest's protest and court alerts and the counsel packet, each scoped to the
acting organisation (a protest of an importer the organisation no longer sees, after a revoked grant, is gone
with it)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from accounts.models import Importer, Organization
from accounts.selectors import importers_for
from cape.declarations import declarations_for
from cape.models import Classification, DeclarationEntry, Path
from cape.selectors import classifications_for
from entries.models import Entry, TariffLine
from protests.documents import SheetLine
from protests.models import Protest, ProtestEntry, ProtestReason

ZERO = Decimal("0.00")
S = Protest.Status
# Statuses on which an entry is taken: drafting leaves it out (a draft holds it until discarded).
LIVE_STATUSES = (S.DRAFT, S.EXPORTED, S.FILED)
# Open at CBP, or about to be: an entry may be on one of these only once (protests.services).
OPEN_STATUSES = (S.EXPORTED, S.FILED)
# 19 U.S.C. 1514(c)(3): the alert lead times follow the ruleset's urgency (rules.md "Extra reasons"): protest
# 30 days, CIT 90 days (the earliest limits under 28 U.S.C. 2636(i) fall from 2027-02-04).
PROTEST_ALERT_DAYS = 30
CIT_ALERT_DAYS = 90
DIGEST_LIMIT = 50


def protests_for(organization: Organization | None) -> QuerySet[Protest]:
    if organization is None:
        return Protest.objects.none()
    # The stored spreadsheets are read only by a download (protests.exports), not by every listing.
    return (Protest.objects.filter(organization=organization, importer__in=importers_for(organization))
            .select_related("importer", "created_by").defer("spreadsheet_xlsx", "spreadsheet_csv"))


def reason_for(organization: Organization) -> str:
    from protests.documents import DEFAULT_REASON

    own = ProtestReason.objects.filter(organization=organization).values_list("text", flat=True).first()
    return own or DEFAULT_REASON


def protest_items(protest: Protest) -> QuerySet[ProtestEntry]:
    return protest.items.select_related("entry", "entry__classification").order_by("position")


def sheet_lines(entry_rows: list[dict[str, Any]], lines: QuerySet[TariffLine] | None = None) -> dict[int, list[SheetLine]]:
    """entry id → its IEEPA tariff lines (entries.TariffLine.is_ieepa) as spreadsheet lines, in line order, with
    the commodity HTS of the same entry-summary line. ``entry_rows``: id, entry_number, liquidation_date,
    port_code of each entry; ``lines``: the tariff lines to read, when a join selects them better than a list
    of ids (a protest's, a draft's candidates)."""
    by_id = {r["id"]: r for r in entry_rows}
    out: dict[int, list[SheetLine]] = defaultdict(list)
    if lines is not None:
        queries = [lines]
    else:
        ids = sorted(by_id)
        queries = [TariffLine.objects.filter(entry_id__in=ids[start:start + 10_000]) for start in range(0, len(ids), 10_000)]
    for qs in queries:
        commodity: dict[tuple[int, int], str] = {}
        ieepa: list[tuple[int, int, str, Decimal]] = []
        for entry_id, line_number, hts, duty, is_ieepa in (
            qs.order_by("entry_id", "line_number", "ordinal").values_list("entry_id", "line_number", "hts", "duty", "is_ieepa")
            .iterator(chunk_size=20_000)
        ):
            if is_ieepa:
                ieepa.append((entry_id, line_number, hts, duty))
            elif not hts.startswith("99"):
                commodity.setdefault((entry_id, line_number), hts)
        for entry_id, line_number, hts, duty in ieepa:
            e = by_id.get(entry_id)
            if e is not None:
                out[entry_id].append(SheetLine(e["entry_number"], line_number, hts, duty,
                                               commodity.get((entry_id, line_number), ""), e["liquidation_date"], e["port_code"]))
    return out


def protest_sheet_lines(protest: Protest) -> list[SheetLine]:
    rows = list(protest.items.order_by("position").values_list("entry_id", "entry__entry_number", "entry__liquidation_date",
                                                               "entry__port_code"))
    # By the entries' ids (index probes of (entry, line, ordinal)): a join through the protest's items was planned
    # as a scan of every tariff line while the new items had no statistics yet.
    lines = sheet_lines([{"id": r[0], "entry_number": r[1], "liquidation_date": r[2], "port_code": r[3]} for r in rows])
    return [line for r in rows for line in lines.get(r[0], [])]


def protest_candidates(organization: Organization, importer_ids: Iterable[int]) -> QuerySet[Classification]:
    """Protest-path entries of these importers with a real (not projected) protest deadline and no protest
    pending on them (rules.md R5 puts an entry with an open or suspended protest on the protest path too)."""
    return (classifications_for(organization).filter(path=Path.PROTEST, importer_id__in=list(importer_ids),
                                                     protest_deadline__isnull=False, protest_deadline_projected=False)
            .exclude(entry__protest_status__in=("open", "suspended")))


def taken_entries(importer_ids: Iterable[int], statuses: Iterable[str] = LIVE_STATUSES) -> dict[tuple[int, str], tuple[int, int]]:
    """(importer id, entry number) → (protest id, its organisation id) of the protest holding it, over every organisation's protests: after the
    shared-entry change one Entry row serves every organisation, and before it each had its own copy, so the
    entry is recognised by its importer and number, not by its row."""
    rows = (ProtestEntry.objects.filter(protest__status__in=list(statuses), entry__importer_id__in=list(importer_ids))
            .values_list("entry__importer_id", "entry__entry_number", "protest_id", "protest__organization_id"))
    return {(imp, number): (pid, org) for imp, number, pid, org in rows}


# ---------------------------------------------------------------- digest alerts
@dataclass
class ProtestAlerts:
    protest_unfiled: list[Classification] = field(default_factory=list)
    protest_unfiled_count: int = 0
    cit_due: list[Classification] = field(default_factory=list)
    cit_due_count: int = 0

    @property
    def is_empty(self) -> bool:
        return not (self.protest_unfiled_count or self.cit_due_count)


def protest_alerts(organization: Organization, *, as_of: date) -> ProtestAlerts:
    """The daily digest's protest and court lines: protest-path entries whose deadline is within 30 days and
    that are on no filed protest (nor marked protested), and CIT-path entries within 90 days of their limit."""
    visible = classifications_for(organization).select_related("entry", "importer")
    filed = ProtestEntry.objects.filter(protest__status=S.FILED).values("entry_id")
    unfiled = (visible.filter(path=Path.PROTEST, protest_deadline__gte=as_of,
                              protest_deadline__lte=as_of + timedelta(days=PROTEST_ALERT_DAYS), protest_deadline_projected=False)
               .exclude(entry__protest_status__in=("open", "suspended")).exclude(entry_id__in=filed)
               .order_by("protest_deadline", "entry_id"))
    cit = visible.filter(path=Path.CIT, cit_deadline__gte=as_of,
                         cit_deadline__lte=as_of + timedelta(days=CIT_ALERT_DAYS)).order_by("cit_deadline", "entry_id")
    return ProtestAlerts(list(unfiled[:DIGEST_LIMIT]), unfiled.count(), list(cit[:DIGEST_LIMIT]), cit.count())


# ---------------------------------------------------------------- counsel packet
@dataclass
class CounselRow:
    entry_number: str
    entry_type: str
    port_code: str
    entry_summary_date: date | None
    liquidation_date: date | None
    liquidation_status: str
    ieepa_duty: Decimal
    estimated_interest: Decimal | None
    cit_deadline: date | None
    lines: list[SheetLine]
    protest_history: list[str]
    cape_history: list[str]

    @property
    def entry_number_display(self) -> str:
        n = self.entry_number
        return f"{n[:3]}-{n[3:10]}-{n[10:]}" if len(n) == 11 else n


@dataclass
class CounselPacket:
    organization: Organization
    importer: Importer
    as_of: date
    rows: list[CounselRow]

    @property
    def total_duty(self) -> Decimal:
        return sum((r.ieepa_duty for r in self.rows), ZERO)

    @property
    def total_interest(self) -> Decimal:
        return sum((r.estimated_interest or ZERO for r in self.rows), ZERO)

    @property
    def line_count(self) -> int:
        return sum(len(r.lines) for r in self.rows)

    @property
    def earliest_deadline(self) -> date | None:
        return min((r.cit_deadline for r in self.rows if r.cit_deadline), default=None)


def counsel_packet(organization: Organization, importer: Importer, *, as_of: date) -> CounselPacket:
    """Every CIT-path entry of the importer, sorted by its CIT deadline (28 U.S.C. 2636(i), conservative: entry
    summary date + 2 years, rules.md), with its IEEPA lines, estimated interest, protests and CAPE outcomes."""
    cls = list(classifications_for(organization).filter(importer=importer, path=Path.CIT)
               .order_by("cit_deadline", "entry__entry_number")
               .values("entry_id", "entry__entry_number", "entry__entry_type", "entry__port_code", "entry__entry_summary_date",
                       "entry__liquidation_date", "entry__liquidation_status", "ieepa_duty", "estimated_interest",
                       "cit_deadline", "entry__protest_status", "entry__protest_number"))
    ids = [c["entry_id"] for c in cls]
    lines = sheet_lines([{"id": c["entry_id"], "entry_number": c["entry__entry_number"],
                          "liquidation_date": c["entry__liquidation_date"], "port_code": c["entry__port_code"]} for c in cls])
    protests: dict[int, list[str]] = defaultdict(list)
    for entry_id, number, status, filed_on, decision, decided_on in (
        ProtestEntry.objects.filter(entry_id__in=ids, protest__in=protests_for(organization))
        .order_by("protest__created_at").values_list("entry_id", "protest__protest_number", "protest__status",
                                                     "protest__filed_on", "protest__decision", "protest__decided_on")
    ):
        label = dict(S.choices)[status]
        text = f"protest {number[:4]}-{number[4:6]}-{number[6:]}" if len(number) == 12 else "protest (no number yet)"
        text += f": {label}"
        if filed_on:
            text += f", filed {filed_on:%m/%d/%Y}"
        if decision:
            text += f", {dict(Protest.Decision.choices)[decision].lower()} {decided_on:%m/%d/%Y}" if decided_on else ""
        protests[entry_id].append(text)
    cape: dict[int, list[str]] = defaultdict(list)
    outcomes = dict(DeclarationEntry.Outcome.choices)
    for entry_id, name, claim, outcome, error in (
        DeclarationEntry.objects.filter(entry_id__in=ids, declaration__in=declarations_for(organization))
        .order_by("declaration__created_at", "pk")
        .values_list("entry_id", "declaration__name", "declaration__claim_number", "outcome", "error_text")
    ):
        text = f"{name}{f' (claim {claim})' if claim else ''}: {outcomes.get(outcome, outcome).lower()}"
        cape[entry_id].append(text + (f", {error}" if error else ""))
    rows = []
    for c in cls:
        history = list(protests.get(c["entry_id"], []))
        if c["entry__protest_status"] not in ("", "none") and not history:
            number = c["entry__protest_number"]
            history.append(f"protest {number or '(number not reported)'}: {c['entry__protest_status']} (as reported)")
        rows.append(CounselRow(
            c["entry__entry_number"], c["entry__entry_type"], c["entry__port_code"], c["entry__entry_summary_date"],
            c["entry__liquidation_date"], c["entry__liquidation_status"], c["ieepa_duty"], c["estimated_interest"],
            c["cit_deadline"], lines.get(c["entry_id"], []), history, cape.get(c["entry_id"], []),
        ))
    return CounselPacket(organization, importer, as_of, rows)


def cit_counts(organization: Organization) -> dict[int, tuple[int, Decimal]]:
    """importer id → (CIT-path entries, their IEEPA duty): the protests page lists counsel packets by importer."""
    from django.db.models import Count, Sum

    return {r["importer_id"]: (r["n"], r["duty"] or ZERO) for r in
            classifications_for(organization).filter(path=Path.CIT).values("importer_id")
            .annotate(n=Count("pk"), duty=Sum("ieepa_duty")).order_by()}


def protest_path_counts(organization: Organization, as_of: date) -> dict[int, tuple[int, Decimal]]:
    """importer id → (protest-path entries that a draft could take today, their IEEPA duty)."""
    from django.db.models import Count, Sum

    importer_ids = list(importers_for(organization).values_list("pk", flat=True))
    return {r["importer_id"]: (r["n"], r["duty"] or ZERO) for r in
            protest_candidates(organization, importer_ids).filter(protest_deadline__gte=as_of)
            .exclude(entry_id__in=ProtestEntry.objects.filter(protest__status__in=LIVE_STATUSES).values("entry_id"))
            .values("importer_id").annotate(n=Count("pk"), duty=Sum("ieepa_duty")).order_by()}


def entry_protests(organization: Organization, entry: Entry) -> QuerySet[Protest]:
    return protests_for(organization).filter(items__entry=entry)

