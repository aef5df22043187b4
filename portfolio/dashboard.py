"""Reads for the dashboards: the importer dashboard, the broker portfolio, the exports page.

Every read is scoped to the acting organisation (accounts.selectors.importers_for and the
per-capability selectors) and costs a fixed number of queries whatever the number of importers:
the portfolio aggregates classifications with ONE ``GROUP BY importer, path`` over
Classification(organization, importer, path) and loads readiness, ACH enrolments, notify parties and
open ACH rejections in bulk. The GROUP BY over a million classifications is cached under the same
version counter as ``cape.selectors.path_totals`` (bumped whenever the organisation's
classifications change), so paging, sorting and filtering the portfolio do not repeat it.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Max, OuterRef, Q, Subquery

from accounts.models import AuditLog, Importer, ImporterAssignment, ImporterNote, Organization
from accounts.selectors import importers_for
from accounts.xlsxcells import typed_row
from ach.models import AchEnrollment, AchRejection
from ach.selectors import _recipient  # the same rule the ACH pages use (4811 notify party or the IOR's own ACH)
from cape import rules
from cape.declarations import declarations_for
from cape.models import Classification, Declaration, RefundEvent
from cape.refunds import expected_dates
from cape.selectors import (
    EntryFilters,
    PathTotal,
    classifications_for,
    importer_path_figures,
    path_totals,
    totals_version,
)
from entries.models import Upload
from entries.selectors import uploads_for
from portfolio.readiness import ImporterReadiness, readiness_for_importers
from refundready.dates import today_eastern
from refundready.spreadsheet import neutralise

ZERO = Decimal("0.00")
DEADLINE_WINDOW_DAYS = 30
PORTFOLIO_SORTS = {
    "name": "Name",
    "duty": "IEEPA duty at stake",
    "deadline": "Nearest deadline",
    "at_risk": "Money at risk (no ACH route)",
    "follow_up": "Next follow-up",
}
# Paths whose duty is still "at stake" (a refund can still be claimed): everything but not eligible.
AT_STAKE_PATHS = tuple(p for p in rules.PATHS if p != rules.Path.NOT_ELIGIBLE)


def _today() -> date:
    return today_eastern()


# ----------------------------------------------------------------------------- classification aggregate
@dataclass
class PathCell:
    count: int = 0
    duty: Decimal = ZERO


@dataclass
class ImporterFigures:
    """One importer's classifications, from the portfolio GROUP BY."""

    paths: dict[str, PathCell] = field(default_factory=lambda: {p: PathCell() for p in rules.PATHS})
    nearest_deadline: date | None = None
    nearest_path: str = ""
    urgent: int = 0
    deadline_passed: int = 0

    @property
    def entries(self) -> int:
        return sum(c.count for c in self.paths.values())

    @property
    def cells(self) -> list[tuple[str, str, int, str]]:
        """(path, plain label, entries, IEEPA duty as "$1,234.56") for the paths this importer has entries on.
        Money is formatted here: the floatformat filter over hundreds of cells costs more than the queries."""
        return [(p, rules.PATH_LABELS[p], c.count, f"${c.duty:,.2f}") for p, c in self.paths.items() if c.count]

    @property
    def duty_at_stake(self) -> Decimal:
        return sum((self.paths[p].duty for p in AT_STAKE_PATHS), start=ZERO)

    @property
    def cape_duty(self) -> Decimal:
        return sum((self.paths[p].duty for p in rules.CAPE_PATHS), start=ZERO)

    @property
    def cape_entries(self) -> int:
        return sum(self.paths[p].count for p in rules.CAPE_PATHS)


def classification_figures(
    organization: Organization, importer_ids: list[int], *, as_of: date
) -> dict[int, ImporterFigures]:
    """Count, IEEPA duty, nearest upcoming deadline and urgency per (importer, path): one GROUP BY,
    cached until the organisation's classifications change (cape.selectors.importer_path_figures)."""
    rows = importer_path_figures(organization, importer_ids, as_of=as_of)
    figures: dict[int, ImporterFigures] = defaultdict(ImporterFigures)
    for row in rows:
        f = figures[row["importer_id"]]
        if row["path"] in f.paths:
            f.paths[row["path"]] = PathCell(row["n"], row["duty"] or ZERO)
        f.urgent += row["urgent_n"]
        f.deadline_passed += row["passed_n"]
        nearest = row["nearest"]
        if nearest is not None and (f.nearest_deadline is None or nearest < f.nearest_deadline):
            f.nearest_deadline, f.nearest_path = nearest, row["path"]
    return figures


# ----------------------------------------------------------------------------- readiness, cached
# portfolio.readiness costs a fixed number of queries, but two of them (latest ES-003 per importer,
# CAPE-path entries without a CAPE file) scan every entry of the organisation. The portfolio keeps the result until something it depends on changes:
# * the classification version (cape.selectors: bumped after every classification, which follows
#   every ES-003 ingestion, entry fact change, declaration submission and outcome);
# * the newest audit row of this organisation and of the organisations that own its importers (every
#   service that changes a 5106 record, readiness state, ACH enrolment, notify party, grant, upload or
#   declaration writes one: house style);
# * the newest finished upload of this organisation; the date (the ES-003 step is "within 7 days").
# READINESS_TTL bounds what no audit row announces (admin edits, raw SQL).
READINESS_TTL = 300


def _readiness_fingerprint(organization: Organization, importers: Sequence[Importer]) -> str:
    return _readiness_digest(organization, [(i.pk, i.owner_id) for i in importers])


def _readiness_digest(organization: Organization, importers: list[tuple[int, int | None]]) -> str:
    """The readiness cache key's part from the state named above; ``importers`` as (id, owner id)."""
    orgs = {organization.pk} | {owner for _pk, owner in importers if owner}
    audit_at = AuditLog.objects.filter(organization_id__in=sorted(orgs)).aggregate(m=Max("at"))["m"]
    upload = Upload.objects.filter(organization=organization).aggregate(m=Max("finished_at"), n=Max("pk"))
    version = totals_version(organization.pk)
    ids = ",".join(str(pk) for pk, _owner in sorted(importers))
    raw = f"{version}|{audit_at}|{upload['m']}|{upload['n']}|{ids}"
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class ReadinessSummary:
    """What the portfolio shows of an importer's checklist (small: cached and unpickled per request)."""

    ready_count: int
    step_count: int
    todo: tuple[str, ...]  # labels of the steps not done, in checklist order

    @property
    def is_ready(self) -> bool:
        return not self.todo


def readiness_cached(
    organization: Organization, importers: Sequence[Importer], *, as_of: date
) -> dict[int, ReadinessSummary]:
    """portfolio.readiness for these importers (this organisation's view), summarised, by importer id."""
    if not importers:
        return {}
    key = f"dashboard:readiness:{organization.pk}:{as_of.isoformat()}:{_readiness_fingerprint(organization, importers)}"
    cached = cache.get(key)
    if cached is None:
        cached = {
            r.importer.pk: ReadinessSummary(
                r.ready_count, len(r.steps), tuple(s.label for s in r.steps if not s.is_ready)
            )
            for r in readiness_for_importers(importers, organization=organization)
        }
        cache.set(key, cached, READINESS_TTL)
    return cached


# ----------------------------------------------------------------------------- broker portfolio
@dataclass(frozen=True)
class PortfolioFilters:
    q: str = ""
    not_ready: bool = False
    no_ach: bool = False
    urgent: bool = False
    sort: str = "name"
    mine_ids: frozenset[int] | None = None  # "my clients": the importers assigned to the member asking
    follow_up_due: bool = False  # a follow-up date today or passed


@dataclass(frozen=True)
class ClientWork:
    """The organisation's own client work on one importer (accounts.ImporterAssignment, ImporterNote)."""

    assignees: tuple[str, ...] = ()
    assignee_ids: frozenset[int] = frozenset()
    follow_up_on: date | None = None  # the nearest follow-up not done
    follow_up_text: str = ""
    latest_note: str = ""
    as_of: date | None = None

    @property
    def follow_up_overdue(self) -> bool:
        return self.follow_up_on is not None and self.as_of is not None and self.follow_up_on < self.as_of

    @property
    def follow_up_due(self) -> bool:
        return self.follow_up_on is not None and self.as_of is not None and self.follow_up_on <= self.as_of


@dataclass
class PortfolioRow:
    importer: Importer
    readiness: ReadinessSummary
    figures: ImporterFigures
    ach_status: str
    ach_status_label: str
    recipient: Any  # ach.selectors.RefundRecipient
    open_rejections: int
    client: ClientWork = field(default_factory=ClientWork)

    @property
    def has_route(self) -> bool:
        return bool(self.recipient.can_be_paid)

    @property
    def at_risk(self) -> Decimal:
        """IEEPA duty on CAPE paths with nowhere to be paid (no active ACH, no qualifying 4811)."""
        return ZERO if self.has_route else self.figures.cape_duty

    @property
    def ready_count(self) -> int:
        return self.readiness.ready_count

    @property
    def step_count(self) -> int:
        return self.readiness.step_count

    @property
    def duty_text(self) -> str:
        return f"${self.figures.duty_at_stake:,.2f}"

    @property
    def at_risk_text(self) -> str:
        return f"${self.at_risk:,.2f}"

    @property
    def first_todo(self) -> str:
        return self.readiness.todo[0] if self.readiness.todo else ""

    @property
    def todo_count(self) -> int:
        return len(self.readiness.todo)


@dataclass
class Portfolio:
    rows: list[PortfolioRow]
    total_importers: int
    as_of: date
    state: str = ""  # digest of what the rows were computed from (_portfolio_state): equal digests, equal rows

    @property
    def totals(self) -> dict[str, Any]:
        paths = {p: PathCell() for p in rules.PATHS}
        for r in self.rows:
            for p, c in r.figures.paths.items():
                paths[p] = PathCell(paths[p].count + c.count, paths[p].duty + c.duty)
        return {
            "paths": paths,
            "entries": sum(c.count for c in paths.values()),
            "duty_at_stake": sum((paths[p].duty for p in AT_STAKE_PATHS), start=ZERO),
            "at_risk": sum((r.at_risk for r in self.rows), start=ZERO),
            "not_ready": sum(1 for r in self.rows if not r.readiness.is_ready),
            "urgent": sum(r.figures.urgent for r in self.rows),
        }


def _matches(importer: Importer, q: str) -> bool:
    q = q.strip().lower()
    if not q:
        return True
    digits = "".join(ch for ch in q if ch.isalnum())
    ir = importer.ir_number.lower()
    return (
        q in importer.name.lower() or q in ir or (bool(digits) and digits in "".join(ch for ch in ir if ch.isalnum()))
    )


def _sort_key(sort: str) -> Any:
    far = date.max
    if sort == "duty":
        return lambda r: (-r.figures.duty_at_stake, r.importer.name.lower(), r.importer.pk)
    if sort == "deadline":
        return lambda r: (r.figures.nearest_deadline or far, r.importer.name.lower(), r.importer.pk)
    if sort == "at_risk":
        return lambda r: (-r.at_risk, -r.figures.cape_duty, r.importer.name.lower(), r.importer.pk)
    if sort == "follow_up":
        return lambda r: (r.client.follow_up_on or far, r.importer.name.lower(), r.importer.pk)
    return lambda r: (r.importer.name.lower(), r.importer.ir_number, r.importer.pk)


# The unfiltered rows, kept in this process under a digest of everything they are computed from, so
# that filtering, sorting and paging the portfolio cost a few small queries instead of rebuilding 200
# rows (model instances, ACH recipient rules, figures) on every request:
# * each importer's own columns the rows show and the inputs of the ACH recipient rule (enrolment
#   status, paper-check waiver, foreign flag; the notify party's name and 4811 boxes), read as plain
#   values in one query, and the open ACH rejections per importer;
# * the classification version (the figures) and the readiness digest (the readiness summaries);
# * the date. An entry expires with READINESS_TTL (what the readiness summaries allow), and only counts
#   while a token under the same key is in Django's cache, so cache.clear() drops it too.
PORTFOLIO_MEMO_SIZE = 32
_portfolio_memo: OrderedDict[str, tuple[float, str, list[PortfolioRow]]] = OrderedDict()
_portfolio_memo_lock = threading.Lock()


def _portfolio_state(organization: Organization, as_of: date) -> str:
    open_rejections = (
        AchRejection.objects.filter(importer=OuterRef("pk"), resolved_on__isnull=True)
        .order_by()
        .values("importer")
        .annotate(n=Count("pk"))
        .values("n")
    )
    importers = list(
        importers_for(organization)
        .order_by("name", "ir_number")
        .annotate(open_rejections=Subquery(open_rejections))
        .values_list(
            "pk", "name", "ir_number", "status", "owner_id",
            "ach_enrollment__pk", "ach_enrollment__status", "ach_enrollment__paper_check_waiver",
            "ach_enrollment__foreign_no_us_bank",
            "notify_party__pk", "notify_party__name", "notify_party__ir_number", "notify_party__on_ace_profile",
            "notify_party__in_box_28", "notify_party__ach_enrolled", "open_rejections",
        )
    )
    version = totals_version(organization.pk)
    readiness = _readiness_digest(organization, [(row[0], row[4]) for row in importers]) if importers else ""
    raw = repr((organization.pk, as_of.isoformat(), version, readiness, importers))
    return hashlib.sha256(raw.encode()).hexdigest()


def _portfolio_rows(organization: Organization, *, as_of: date) -> tuple[str, list[PortfolioRow]]:
    """(state digest, every importer's row sorted by name), from the memo when nothing changed."""
    state = _portfolio_state(organization, as_of)
    token_key = f"dashboard:portfolio-memo:{state}"
    token = cache.get(token_key)
    with _portfolio_memo_lock:
        hit = _portfolio_memo.get(state)
    if hit is not None and token is not None and hit[1] == token and time.monotonic() - hit[0] < READINESS_TTL:
        return state, hit[2]
    rows = _build_portfolio_rows(organization, as_of=as_of)
    if token is None:
        # The first process to build this state leaves the token; the others adopt it. (Setting a new one on
        # every build made web processes sharing one cache, Redis in production, invalidate each other's
        # rows on every request, so that each portfolio request rebuilt all 200.)
        token = secrets.token_hex(8)
        if not cache.add(token_key, token, READINESS_TTL):
            token = cache.get(token_key) or token
    with _portfolio_memo_lock:
        _portfolio_memo[state] = (time.monotonic(), token, rows)
        _portfolio_memo.move_to_end(state)
        while len(_portfolio_memo) > PORTFOLIO_MEMO_SIZE:
            _portfolio_memo.popitem(last=False)
    return state, rows


def _build_portfolio_rows(organization: Organization, *, as_of: date) -> list[PortfolioRow]:
    """Every importer the organisation owns or manages, one row each, by name (fixed query count)."""
    notes = ImporterNote.objects.filter(organization=organization, importer=OuterRef("pk"))
    open_follow_up = notes.filter(follow_up_on__isnull=False, follow_up_done_on__isnull=True).order_by("follow_up_on", "pk")
    importers = list(
        importers_for(organization)
        .select_related("ach_enrollment", "notify_party")
        .annotate(
            cw_follow_up_on=Subquery(open_follow_up.values("follow_up_on")[:1]),
            cw_follow_up_text=Subquery(open_follow_up.values("text")[:1]),
            cw_latest_note=Subquery(notes.order_by("-created_at", "-pk").values("text")[:1]),
        )
        .order_by("name", "ir_number")
    )
    figures = classification_figures(organization, [i.pk for i in importers], as_of=as_of)
    readiness = readiness_cached(organization, importers, as_of=as_of)
    ids = [i.pk for i in importers]
    rejections = (
        dict(
            AchRejection.objects.filter(importer_id__in=ids, resolved_on__isnull=True)
            .values("importer_id")
            .annotate(n=Count("pk"))
            .values_list("importer_id", "n")
        )
        if ids
        else {}
    )
    assignees: dict[int, list[tuple[int, str]]] = defaultdict(list)
    if ids:
        for importer_id, member_id, username, first, last in (
            ImporterAssignment.objects.filter(organization=organization, importer_id__in=ids)
            .order_by("member__username")
            .values_list("importer_id", "member_id", "member__username", "member__first_name", "member__last_name")
        ):
            assignees[importer_id].append((member_id, f"{first} {last}".strip() or username))
    rows = []
    for imp in importers:
        enrollment = _related(imp, "ach_enrollment")
        notify = _related(imp, "notify_party")
        status = enrollment.status if enrollment is not None else AchEnrollment.Status.NOT_STARTED
        rows.append(
            PortfolioRow(
                importer=imp,
                readiness=readiness[imp.pk],
                figures=figures.get(imp.pk) or ImporterFigures(),
                ach_status=status,
                ach_status_label=AchEnrollment.Status(status).label,
                recipient=_recipient(imp, enrollment, notify),
                open_rejections=rejections.get(imp.pk, 0),
                client=ClientWork(
                    assignees=tuple(name for _pk, name in assignees.get(imp.pk, [])),
                    assignee_ids=frozenset(pk for pk, _name in assignees.get(imp.pk, [])),
                    follow_up_on=imp.cw_follow_up_on,
                    follow_up_text=_short(imp.cw_follow_up_text or ""),
                    latest_note=_short(imp.cw_latest_note or ""),
                    as_of=as_of,
                ),
            )
        )
    return rows


def _short(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def portfolio_for(
    organization: Organization, filters: PortfolioFilters | None = None, *, as_of: date | None = None
) -> Portfolio:
    """Every importer the organisation owns or manages, one row each, filtered and sorted. The rows
    are shared with other requests (the memo above): read them, never change them."""
    filters = filters or PortfolioFilters()
    as_of = as_of or _today()
    state, every = _portfolio_rows(organization, as_of=as_of)
    rows = [r for r in every if _matches(r.importer, filters.q)] if filters.q else list(every)
    if filters.not_ready:
        rows = [r for r in rows if not r.readiness.is_ready]
    if filters.no_ach:
        rows = [r for r in rows if not r.has_route]
    if filters.urgent:
        rows = [r for r in rows if r.figures.urgent]
    if filters.mine_ids is not None:
        rows = [r for r in rows if r.importer.pk in filters.mine_ids]
    if filters.follow_up_due:
        rows = [r for r in rows if r.client.follow_up_due]
    rows.sort(key=_sort_key(filters.sort if filters.sort in PORTFOLIO_SORTS else "name"))
    return Portfolio(rows=rows, total_importers=len(every), as_of=as_of, state=state)


def _related(obj: Any, name: str) -> Any:
    try:
        return getattr(obj, name)
    except Exception:  # RelatedObjectDoesNotExist of a reverse one-to-one
        return None


def portfolio_xlsx(portfolio: Portfolio) -> bytes:
    from io import BytesIO

    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Portfolio")
    bold = Font(bold=True)
    header = [
        "Importer",
        "IR number (importer of record number)",
        "Readiness (steps done)",
        "Readiness steps",
        "Entries",
    ]
    header += [f"Entries: {rules.PATH_LABELS[p]}" for p in rules.PATHS]
    header += [f"IEEPA duty: {rules.PATH_LABELS[p]}" for p in rules.PATHS]
    header += [
        "IEEPA duty at stake",
        "Nearest deadline",
        "Nearest deadline path",
        "Entries urgent (14 days)",
        "ACH refund enrollment",
        "Refund recipient",
        "Refund recipient name",
        "Money at risk (no ACH route)",
        "Open ACH rejections",
        "Assigned to",
        "Next follow-up",
        "Follow-up note",
        "Latest note",
    ]
    cells = []
    for h in header:
        c = WriteOnlyCell(ws, value=h)
        c.font = bold
        cells.append(c)
    ws.append(cells)
    for r in portfolio.rows:
        f = r.figures
        ws.append(
            typed_row(
                ws,
                [
                    r.importer.name,
                    # SSN-form numbers show their last four digits only, as on every page and export.
                    r.importer.ir_display,
                    r.ready_count,
                    r.step_count,
                    f.entries,
                    *[f.paths[p].count for p in rules.PATHS],
                    *[f.paths[p].duty for p in rules.PATHS],
                    f.duty_at_stake,
                    f.nearest_deadline,
                    rules.PATH_LABELS.get(f.nearest_path, ""),
                    f.urgent,
                    r.ach_status_label,
                    r.recipient.receiver_label,
                    r.recipient.name,
                    r.at_risk,
                    r.open_rejections,
                    ", ".join(r.client.assignees),
                    r.client.follow_up_on,
                    r.client.follow_up_text,
                    r.client.latest_note,
                ],
                text=neutralise,
            )
        )
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


# ----------------------------------------------------------------------------- importer dashboard
@dataclass(frozen=True)
class TimelineItem:
    on: date
    kind: str
    label: str
    importer: str = ""
    projected: bool = False
    declaration_id: int | None = None


@dataclass(frozen=True)
class NextStep:
    text: str
    importer: str = ""
    url_name: str = ""
    urgent: bool = False


@dataclass
class ImporterDashboard:
    importers: list[Importer]
    readiness: list[ImporterReadiness]
    totals: list[PathTotal]
    deadlines: list[Classification]
    deadline_count: int
    uploads: list[Upload]
    timeline: list[TimelineItem]
    next_steps: list[NextStep]
    as_of: date
    urgent_count: int = 0
    passed_count: int = 0

    @property
    def duty_at_stake(self) -> Decimal:
        return sum((t.ieepa_duty for t in self.totals if t.path in AT_STAKE_PATHS), start=ZERO)

    @property
    def entry_count(self) -> int:
        return sum(t.count for t in self.totals)


def timeline_for(organization: Organization, importer_ids: list[int], *, limit: int = 30) -> list[TimelineItem]:
    """Declarations (downloaded, filed, accepted, expected liquidation and refund window) and refund
    events of these importers, latest first (two queries; cape.refunds.refund_timeline per importer)."""
    items: list[TimelineItem] = []
    decls = (
        declarations_for(organization)
        .filter(Q(importer_id__in=importer_ids) | Q(importer__isnull=True, items__entry__importer_id__in=importer_ids))
        .exclude(status=Declaration.Status.DRAFT)
        .select_related("importer")
        .distinct()
        .order_by("-pk")[:limit]
    )
    for d in decls:
        who = d.importer.name if d.importer else "Several importers"
        if d.exported_at:
            items.append(
                TimelineItem(
                    d.exported_at.date(),
                    "exported",
                    f"{d.name}: CAPE file downloaded ({d.entry_count:,} entries)",
                    who,
                    False,
                    d.pk,
                )
            )
        if d.submitted_on:
            items.append(
                TimelineItem(
                    d.submitted_on,
                    "submitted",
                    f"{d.name}: filed in CAPE, claim {d.claim_number or '—'}",
                    who,
                    False,
                    d.pk,
                )
            )
        if d.accepted_on:
            items.append(
                TimelineItem(d.accepted_on, "accepted", f"{d.name}: {d.get_status_display()}", who, False, d.pk)
            )
            exp = expected_dates(d.accepted_on)
            if exp is not None:
                items.append(
                    TimelineItem(
                        exp.liquidation, "expected_liquidation", f"{d.name}: expected liquidation", who, True, d.pk
                    )
                )
                items.append(
                    TimelineItem(
                        exp.refund_to,
                        "refund_window",
                        f"{d.name}: refund expected {exp.refund_from:%m/%d/%Y}–{exp.refund_to:%m/%d/%Y}",
                        who,
                        True,
                        d.pk,
                    )
                )
    events = (
        RefundEvent.objects.filter(organization=organization, importer_id__in=importer_ids)
        .select_related("importer", "entry")
        .order_by("-event_date", "-pk")[:limit]
    )
    for e in events:
        amount = f" ${e.amount:,.2f}" if e.amount is not None else ""
        where = f" (entry {e.entry.entry_number_display})" if e.entry else ""
        items.append(TimelineItem(e.event_date, e.kind, f"{e.get_kind_display()}{where}:{amount}", e.importer.name))  # type: ignore[arg-type]  # a nullable column; the sort below assumes a date
    items.sort(key=lambda t: (t.on, t.kind), reverse=True)
    return items[:limit]


def importer_dashboard(
    organization: Organization, importer: Importer | None = None, *, as_of: date | None = None
) -> ImporterDashboard:
    """The importer dashboard for the organisation's importers (or one of them: a broker's client view)."""
    as_of = as_of or _today()
    importers = [importer] if importer is not None else list(importers_for(organization).order_by("name", "ir_number"))
    ids = [i.pk for i in importers]
    readiness = readiness_for_importers(importers, organization=organization) if importers else []
    totals = path_totals(organization, EntryFilters(importer_id=importer.pk if importer else None))
    visible = classifications_for(organization)
    if importer is not None:
        visible = visible.filter(importer=importer)
    upcoming = visible.filter(deadline__gte=as_of, deadline__lte=as_of + timedelta(days=DEADLINE_WINDOW_DAYS))
    deadlines = list(upcoming.select_related("entry", "importer").order_by("deadline", "-ieepa_duty", "entry_id")[:15])
    deadline_count = upcoming.count() if len(deadlines) >= 15 else len(deadlines)
    flags = visible.aggregate(
        u=Count("entry_id", filter=Q(urgent=True)), p=Count("entry_id", filter=Q(deadline_passed=True))
    )
    dash = ImporterDashboard(
        importers=importers,
        readiness=readiness,
        totals=totals,
        deadlines=deadlines,
        deadline_count=deadline_count,
        uploads=list(uploads_for(organization)[:5]),
        timeline=timeline_for(organization, ids),
        next_steps=[],
        as_of=as_of,
        urgent_count=flags["u"] or 0,
        passed_count=flags["p"] or 0,
    )
    dash.next_steps = _next_steps(dash)
    return dash


def _next_steps(dash: ImporterDashboard) -> list[NextStep]:
    steps: list[NextStep] = []
    if dash.urgent_count:
        first = dash.deadlines[0] if dash.deadlines else None
        when = f" (the first on {first.deadline:%m/%d/%Y})" if first and first.deadline else ""
        steps.append(
            NextStep(
                f"{dash.urgent_count:,} entr{'y has' if dash.urgent_count == 1 else 'ies have'} a deadline within 14 days{when}: "
                "build the CAPE files or file the protests (CBP Form 19) now.",
                url_name="entry_list",
                urgent=True,
            )
        )
    if dash.passed_count:
        steps.append(
            NextStep(
                f"{dash.passed_count:,} entr{'y has' if dash.passed_count == 1 else 'ies have'} a deadline that has passed: "
                "review them with your customs broker or counsel.",
                url_name="entry_list",
                urgent=True,
            )
        )
    many = len(dash.readiness) > 1
    for r in dash.readiness:
        for s in r.steps:
            if not s.is_ready and s.next_step:
                steps.append(NextStep(f"{s.label}: {s.next_step}", r.importer.name if many else ""))
    if not dash.uploads:
        steps.append(
            NextStep(
                "Upload your ES-003 report from ACE Reports (with the liquidation columns) to see every entry's refund path.",
                url_name="upload_list",
            )
        )
    return steps[:8]
