"""Reads of entries and their classifications, always scoped to the acting organisation.

An entry is one row per entry number, belonging to its importer of record; an organisation sees it when
the importer is one the organisation owns or manages through an unrevoked grant
(accounts.selectors.importers_for). Everyone who sees it sees the same facts, classification and CAPE
history; revoking a grant hides it from the broker at once, and the data stays with the importer.

The API's lists use keyset pagination over (sort key, entry id): no COUNT(*) and no OFFSET, so page 5,000
of a million entries costs the same as page 1 (indexes Classification(importer, …, entry)); the entries
page numbers its pages and reads a page in the second half from the other end.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, Min, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL

from accounts.audit_display import value_in_words
from accounts.models import AuditLog, Organization
from accounts.selectors import importers_for
from cape import rules
from cape.models import Classification, ClassificationChange, ClassificationRun
from cape.signals import totals_warming
from entries import entrynumber
from entries.models import Entry
from refundready.dates import today_eastern

logger = logging.getLogger(__name__)

SORTS = ("deadline", "amount")
# The entries page's sortable columns: column -> (order_by fields ascending, default direction). On PostgreSQL
# at 1,000,000 entries (bench/web.py's data): deadline, amount and path read the per-importer indexes
# (Classification (importer, deadline, entry), (importer, ieepa_duty, entry), (importer, path, deadline, entry);
# several importers: _ids_by_importer); the entry number walks the unique entry_number index; the importer is
# walked importer by importer, each in deadline order (_walk_importers). Type and reasons have no index: a
# top-N sort of the organisation's rows.
LIST_SORTS: dict[str, tuple[tuple[str, ...], str]] = {
    "entry": (("entry__entry_number",), "asc"),
    "importer": (("importer__name", "importer_id", "deadline", "entry_id"), "asc"),
    "path": (("path", "deadline", "entry_id"), "asc"),
    "deadline": (("deadline", "entry_id"), "asc"),
    "amount": (("ieepa_duty", "entry_id"), "desc"),
    "type": (("entry__entry_type", "entry_id"), "asc"),
    "reasons": (("reasons_text", "entry_id"), "asc"),
}
URGENCY = ("urgent", "deadline_passed", "any")
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def entries_for(organization: Organization | None) -> QuerySet[Entry]:
    if organization is None:
        return Entry.objects.none()
    return Entry.objects.filter(importer__in=importers_for(organization))


def classifications_for(organization: Organization | None) -> QuerySet[Classification]:
    if organization is None:
        return Classification.objects.none()
    return Classification.objects.filter(importer__in=importers_for(organization))


@dataclass(frozen=True)
class EntryFilters:
    path: str = ""
    reason: str = ""
    urgency: str = ""
    within_days: int | None = None
    importer_id: int | None = None
    sort: str = "deadline"
    as_of: date | None = None  # for "deadline within N days"; today (Eastern) when None
    q: str = ""  # an entry number in any typed form, part of one, an importer's name or IR number
    port: str = ""  # CBP port code (4 digits, e.g. 2704 Los Angeles)
    direction: str = ""  # "asc" / "desc" on the entries page; "" is the column's own default
    ruleset_changed: str = ""  # entries whose path this ruleset changed (the dashboard's notice links here)
    importer_ids: tuple[int, ...] | None = None  # only these importers ("my clients": accounts.ImporterAssignment)

    def as_key(self) -> str:
        data = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in self.__dict__.items()
                if k not in ("sort", "direction")}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:24]


def filtered_classifications(organization: Organization | None, filters: EntryFilters) -> QuerySet[Classification]:
    return _filtered(classifications_for(organization), organization, filters)


def _filtered(qs: QuerySet[Classification], organization: Organization | None,
              filters: EntryFilters) -> QuerySet[Classification]:
    if filters.path:
        qs = qs.filter(path=filters.path)
    if filters.reason:
        qs = qs.filter(reasons_text__contains=f"|{filters.reason}")
    if filters.urgency == "urgent":
        qs = qs.filter(urgent=True)
    elif filters.urgency == "deadline_passed":
        qs = qs.filter(deadline_passed=True)
    elif filters.urgency == "any":
        qs = qs.filter(Q(urgent=True) | Q(deadline_passed=True))
    if filters.within_days is not None:
        today = filters.as_of or today_eastern()
        qs = qs.filter(deadline__gte=today, deadline__lte=today + timedelta(days=filters.within_days))
    if filters.importer_id is not None:
        qs = qs.filter(importer_id=filters.importer_id)
    if filters.importer_ids is not None:
        qs = qs.filter(importer_id__in=filters.importer_ids)
    if filters.port.strip():
        qs = qs.filter(entry__port_code=filters.port.strip())
    if filters.q.strip():
        qs = qs.filter(search_condition(organization, filters.q))
    if filters.ruleset_changed:
        qs = qs.filter(entry_id__in=_ruleset_path_changes(organization, filters.ruleset_changed).values("entry_id"))
    return qs


_ENTRY_SHAPE = re.compile(r"^[0-9A-Z]{3}[0-9]{7}[0-9]$")
_ENTRY_PART = re.compile(r"^[0-9A-Z]{0,3}[0-9]+$")  # letters only where the filer code is: not a name


def search_condition(organization: Organization | None, text: str) -> Q:
    """Classifications whose entry number or importer matches what a person typed.

    An entry number is recognised in any form it is typed or pasted in (entries.entrynumber.repair undoes
    dashes, spaces, Excel's ="..." guard, float notation and lost leading zeros): a whole number matches
    exactly; part of one (4 characters or more) matches anywhere in the number. An importer matches by part
    of its name or by its IR number typed with or without dashes."""
    raw = text.strip()
    cond = Q(pk__in=[])
    number = entrynumber.repair(raw)
    typed = entrynumber.clean(raw)
    # A whole number is one probe of the unique entry_number index. Eleven characters typed are a whole number
    # even with a wrong check digit (such entries are
    # listed for review, rule R1); fewer are one that lost its leading zeros only if the check digit agrees,
    # and are also looked for inside numbers (a scan of the organisation's entries).
    if len(typed) == 11 and _ENTRY_SHAPE.match(number):
        cond |= Q(entry__entry_number=number)
    else:
        if _ENTRY_SHAPE.match(number) and rules.valid_entry_number(number):
            cond |= Q(entry__entry_number=number)
        if len(typed) >= 4 and _ENTRY_PART.match(typed):
            cond |= Q(entry__entry_number__contains=typed)
    if organization is not None:
        compact = re.sub(r"[\s\-]", "", raw).upper()
        needle = raw.casefold()
        importer_ids = [
            pk for pk, name, ir in importers_for(organization).values_list("pk", "name", "ir_number")
            if (needle and needle in (name or "").casefold()) or (len(compact) >= 4 and ir.replace("-", "").startswith(compact))
        ]
        if importer_ids:
            cond |= Q(importer_id__in=importer_ids)
    return cond


# ---------------------------------------------------------------- one sorted list over many importers
# A broker's list spans its importers; the indexes are per importer (Classification(importer, …, entry)), so
# that writing a million classifications maintains six indexes, not eleven (bench/classify.py, issue 18).
# PostgreSQL does not merge the importers' ordered index scans for ``importer_id IN (…)``: the list sorted by
# deadline, amount or path reads each importer's first rows in order (a LATERAL scan with LIMIT per importer)
# and keeps the page's entry ids; the page's rows are then read by id. Past PER_IMPORTER_ROWS rows (a page deep
# in the middle of a long list) one narrow top-N sort of the organisation's rows is cheaper.
PER_IMPORTER_SORTS = {"deadline", "amount", "path"}
PER_IMPORTER_ROWS = 100_000


def _visible_importer_ids(organization: Organization, filters: EntryFilters) -> list[int]:
    ids = set(importers_for(organization).values_list("pk", flat=True))
    if filters.importer_id is not None:
        ids &= {filters.importer_id}
    if filters.importer_ids is not None:
        ids &= set(filters.importer_ids)
    return sorted(ids)


def _order(columns: tuple[str, ...], descending: bool) -> list[Any]:
    """NULLs (an entry without a deadline) where PostgreSQL's indexes keep them: last ascending, first
    descending, so either direction is an index scan one way or the other."""
    if descending:
        return [F(c).desc(nulls_first=True) for c in columns]
    return [F(c).asc(nulls_last=True) for c in columns]


def _ids_by_importer(
    organization: Organization | None, filters: EntryFilters, columns: tuple[str, ...], *, descending: bool,
    start: int, stop: int, after: Q | None = None,
) -> list[int] | None:
    """Entry ids of rows ``start:stop`` of the organisation's list in ``columns`` order (the last column is
    entry_id), read importer by importer; None where that does not pay (not PostgreSQL, one importer, a search,
    a deep page): the caller then sorts in one query. ``after``: a keyset condition each importer's rows meet."""
    if (organization is None or connection.vendor != "postgresql" or filters.q.strip() or filters.port.strip()
            or filters.ruleset_changed or stop <= start):
        return None
    importers = _visible_importer_ids(organization, filters)
    if len(importers) < 2 or len(importers) * stop > PER_IMPORTER_ROWS:
        return None
    # The importer of each scan is the LATERAL's ``imp.id``; every other filter is the list's own.
    inner = _filtered(Classification.objects.filter(importer_id=RawSQL("imp.id", ())), organization,
                      replace(filters, importer_id=None, importer_ids=None))
    if after is not None:
        inner = inner.filter(after)
    inner = inner.order_by(*_order(columns, descending)).values_list(*columns)[:stop]
    inner_sql, params = inner.query.sql_with_params()
    way = "DESC NULLS FIRST" if descending else "ASC NULLS LAST"
    outer_order = ", ".join(f"c.{connection.ops.quote_name(c)} {way}" for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.entry_id FROM unnest(%s::bigint[]) AS imp(id) CROSS JOIN LATERAL ({inner_sql}) c "
            f"ORDER BY {outer_order} LIMIT %s" + (" OFFSET %s" if start else ""),
            [importers, *params, stop - start, *([start] if start else [])],
        )
        return [row[0] for row in cursor.fetchall()]


def _rows_in_order(qs: QuerySet[Classification], entry_ids: list[int]) -> list[Classification]:
    by_entry = {row.entry_id: row for row in qs.filter(entry_id__in=entry_ids).order_by()}
    return [by_entry[i] for i in entry_ids if i in by_entry]


# ---------------------------------------------------------------- keyset pages
@dataclass
class EntryPage:
    rows: list[Classification]
    next_cursor: str | None
    is_first: bool
    size: int = PAGE_SIZE
    extra: dict[str, Any] = field(default_factory=dict)


def _encode(sort: str, row: Classification) -> str:
    if sort == "amount":
        return f"a_{row.ieepa_duty}_{row.entry_id}"
    return f"d_{row.deadline.isoformat() if row.deadline else 'none'}_{row.entry_id}"


def _decode(sort: str, cursor: str) -> tuple[Any, int] | None:
    """(sort value, entry id) from a cursor, or None when it is not one of ours (start again)."""
    parts = cursor.split("_")
    if len(parts) != 3:
        return None
    kind, value, last_id = parts
    try:
        if sort == "amount" and kind == "a":
            return Decimal(value), int(last_id)
        if sort == "deadline" and kind == "d":
            return (None if value == "none" else date.fromisoformat(value)), int(last_id)
    except (ValueError, ArithmeticError):
        return None
    return None


def entry_page(
    organization: Organization | None, filters: EntryFilters, *, after: str | None = None, size: int = PAGE_SIZE,
    fields: tuple[str, ...] | None = None,
) -> EntryPage:
    """A page of classifications with their entry and importer; ``fields`` limits the columns read
    (QuerySet.only) to what the caller shows, the cursor's columns always included."""
    size = max(1, min(size, MAX_PAGE_SIZE))
    qs = filtered_classifications(organization, filters).select_related("entry", "importer")
    if fields is not None:
        qs = qs.only("entry_id", "deadline", "ieepa_duty", *fields)
    sort = filters.sort if filters.sort in SORTS else "deadline"
    pos = _decode(sort, after) if after else None
    keyset: Q | None = None
    if sort == "amount":  # largest first; equal amounts by entry, last entry first
        columns, descending = ("ieepa_duty", "entry_id"), True
        if pos is not None:
            amount, last = pos
            keyset = Q(ieepa_duty__lt=amount) | Q(ieepa_duty=amount, entry_id__lt=last)
    else:
        columns, descending = ("deadline", "entry_id"), False
        if pos is not None:
            deadline, last = pos
            if deadline is None:
                keyset = Q(deadline__isnull=True, entry_id__gt=last)
            else:
                keyset = Q(deadline__gt=deadline) | Q(deadline=deadline, entry_id__gt=last) | Q(deadline__isnull=True)
    ids = _ids_by_importer(organization, filters, columns, descending=descending, start=0, stop=size + 1, after=keyset)
    if ids is not None:
        rows = _rows_in_order(qs, ids)
    else:
        if keyset is not None:
            qs = qs.filter(keyset)
        rows = list(qs.order_by(*_order(columns, descending))[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return EntryPage(rows=rows, next_cursor=_encode(sort, rows[-1]) if more and rows else None, is_first=pos is None, size=size)


# ---------------------------------------------------------------- numbered pages (the entries page)
@dataclass
class NumberedPage:
    rows: list[Classification]
    number: int
    count: int
    size: int = PAGE_SIZE

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.size + 1 if self.rows else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * self.size + len(self.rows)

    def page_numbers(self, around: int = 2) -> list[int | None]:
        """First, last and the pages around this one; None where numbers are left out (an ellipsis)."""
        last = self.num_pages
        wanted = {1, last, *range(max(1, self.number - around), min(last, self.number + around) + 1)}
        out: list[int | None] = []
        for n in sorted(wanted):
            if out and out[-1] is not None and n - out[-1] > 1:
                out.append(None)
            out.append(n)
        return out


def entry_count(organization: Organization | None, filters: EntryFilters, *, totals: list[PathTotal] | None = None) -> int:
    """How many classifications match, for the page numbers. Filtered by path and importer only it is read
    off the totals by path the page shows anyway (importer_path_figures, cached); any other filter counts
    once and caches the figure under the organisation's classification version (bump_totals_version), so
    paging through a search repeats no COUNT over a million rows."""
    if organization is None:
        return 0
    if filters.path and totals is not None and filters == EntryFilters(
        path=filters.path, importer_id=filters.importer_id, sort=filters.sort, direction=filters.direction,
        as_of=filters.as_of,
    ):
        return next((t.count for t in totals if t.path == filters.path), 0)
    if totals is not None and filters == EntryFilters(importer_id=filters.importer_id, sort=filters.sort,
                                                      direction=filters.direction, as_of=filters.as_of):
        return sum(t.count for t in totals)
    if filters.within_days is not None and filters.as_of is None:
        filters = EntryFilters(**{**filters.__dict__, "as_of": today_eastern()})
    grants = sorted(importers_for(organization).values_list("pk", flat=True))
    digest = hashlib.sha256(",".join(map(str, grants)).encode()).hexdigest()[:12]
    key = f"cape:entry-count:{organization.pk}:{totals_version(organization.pk)}:{filters.as_key()}:{digest}"
    count = cache.get(key)
    if count is None:
        count = filtered_classifications(organization, filters).count()
        cache.set(key, count, 3600)
    return count


def _walk_importers(
    organization: Organization, filters: EntryFilters, qs: QuerySet[Classification], *, start: int, size: int,
    descending: bool,
) -> list[Classification] | None:
    """A page sorted by importer name without sorting every row: the importers in name order with their
    cached counts (importer_path_figures) say which importers the page spans, and each is read in deadline
    order from the (importer, deadline, entry) index. Only without filters other than the importer (the counts are
    per importer); None otherwise, and the caller sorts."""
    if filters != EntryFilters(importer_id=filters.importer_id, sort=filters.sort, direction=filters.direction,
                               as_of=filters.as_of):
        return None
    importers = list(importers_for(organization).order_by("name", "pk").values_list("pk", flat=True))
    if filters.importer_id is not None:
        importers = [pk for pk in importers if pk == filters.importer_id]
    per_importer: dict[int, int] = {}
    for row in importer_path_figures(organization, importers, as_of=today_eastern()):
        per_importer[row["importer_id"]] = per_importer.get(row["importer_id"], 0) + row["n"]
    if descending:
        importers.reverse()
    rows: list[Classification] = []
    skip = start
    for pk in importers:
        n = per_importer.get(pk, 0)
        if skip >= n:
            skip -= n
            continue
        part = qs.filter(importer_id=pk).order_by(*_order(("deadline", "entry_id"), descending))
        rows += list(part[skip: skip + size - len(rows)])
        skip = 0
        if len(rows) >= size:
            break
    return rows


def entry_numbered_page(
    organization: Organization | None, filters: EntryFilters, *, number: int = 1, count: int, size: int = PAGE_SIZE,
    fields: tuple[str, ...] | None = None,
) -> NumberedPage:
    """Page ``number`` of the list sorted by one of LIST_SORTS. A page in the second half is read from the
    other end in the reverse order (OFFSET counted from the last row), so the last page costs what the
    first does; only the middle of a very long list pays for its offset."""
    size = max(1, min(size, MAX_PAGE_SIZE))
    last = max(1, -(-count // size))
    number = max(1, min(number, last))
    columns, default = LIST_SORTS.get(filters.sort, LIST_SORTS["deadline"])
    descending = (filters.direction or default) == "desc"
    qs = filtered_classifications(organization, filters).select_related("entry", "importer")
    if fields is not None:
        qs = qs.only("entry_id", *fields)
    start = (number - 1) * size
    if filters.sort == "importer" and organization is not None:
        walked = _walk_importers(organization, filters, qs, start=start, size=size, descending=descending)
        if walked is not None:
            return NumberedPage(rows=walked, number=number, count=count, size=size)
    from_end = start > count // 2
    reverse = descending != from_end
    begin, stop = (max(0, count - start - size), count - start) if from_end else (start, start + size)
    ids = (_ids_by_importer(organization, filters, columns, descending=reverse, start=begin, stop=stop)
           if filters.sort in PER_IMPORTER_SORTS else None)
    rows = _rows_in_order(qs, ids) if ids is not None else list(qs.order_by(*_order(columns, reverse))[begin:stop])
    if from_end:
        rows.reverse()
    return NumberedPage(rows=rows, number=number, count=count, size=size)


# ---------------------------------------------------------------- totals by path
def _version_key(organization_id: int) -> str:
    return f"cape:classification-version:{organization_id}"


# While a background run warms the figures for the version it is about to publish: (organisation, version).
_warming: ContextVar[tuple[int, int] | None] = ContextVar("rr_totals_warming", default=None)


def totals_version(organization_id: int) -> int:
    """The classification version that cached figures of this organisation are keyed by."""
    warming = _warming.get()
    if warming is not None and warming[0] == organization_id:
        return warming[1]
    return cache.get(_version_key(organization_id), 0)


def bump_totals_version(organization_id: int) -> None:
    """Called after classifications change, so cached totals are never stale."""
    try:
        cache.incr(_version_key(organization_id))
    except ValueError:
        cache.set(_version_key(organization_id), 1, None)


def refresh_totals(organization: Organization) -> None:
    """After a background run (ingest classification, nightly): compute what pages read first, the
    portfolio's and the entries list's figures by importer and path and the portfolio's readiness
    summaries (portfolio's, through the cape.signals.totals_warming hook), under the version about to be
    published, then publish it. The first pages after the run
    then find them cached instead of each paying for GROUP BYs over every classification (about a second
    at a million entries, with twenty users queued behind it). Warming is a hint: should it fail, the
    version is bumped all the same and pages compute what they miss."""
    token = _warming.set((organization.pk, cache.get(_version_key(organization.pk), 0) + 1))
    try:
        importers = list(
            importers_for(organization).select_related("ach_enrollment", "notify_party").order_by("name", "ir_number")
        )
        as_of = today_eastern()
        importer_path_figures(organization, [i.pk for i in importers], as_of=as_of)
        totals_warming.send(sender=Organization, organization=organization, importers=importers, as_of=as_of)
    except Exception:  # noqa: BLE001 - see above
        logger.warning("could not warm the figures of organisation %s", organization.pk, exc_info=True)
    finally:
        _warming.reset(token)
    bump_totals_version(organization.pk)


@dataclass(frozen=True)
class PathTotal:
    path: str
    label: str
    count: int
    ieepa_duty: Decimal


def importer_path_figures(organization: Organization, importer_ids: list[int], *, as_of: date) -> list[dict[str, Any]]:
    """Per (importer, path) of these importers: count, IEEPA duty, nearest deadline on or after as_of,
    urgent and passed counts. One GROUP BY over the organisation's classifications (a million rows:
    about half a second), cached until its classifications next change: the broker portfolio's figures
    and the entries list's totals (all importers or one) are both read from it."""
    version = totals_version(organization.pk)
    ids = sorted(importer_ids)
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
    key = f"dashboard:figures:{organization.pk}:{version}:{as_of.isoformat()}:{digest}"
    rows = cache.get(key)
    if rows is None:
        rows = list(
            Classification.objects.filter(importer_id__in=ids)
            .order_by()
            .values("importer_id", "path")
            .annotate(
                n=Count("entry_id"),
                duty=Sum("ieepa_duty"),
                nearest=Min("deadline", filter=Q(deadline__gte=as_of)),
                urgent_n=Count("entry_id", filter=Q(urgent=True)),
                passed_n=Count("entry_id", filter=Q(deadline_passed=True)),
            )
        )
        cache.set(key, rows, 3600)
    return rows


def path_totals(
    organization: Organization | None, filters: EntryFilters | None = None, *, importer_ids: list[int] | None = None
) -> list[PathTotal]:
    """Count and IEEPA duty per path (every path listed, zeros included), cached until the
    organisation's classifications next change (so paging through a list does not repeat it).
    Filtered by importer only (or not at all), they are summed from importer_path_figures, which the
    portfolio shares; any other filter runs its own GROUP BY. ``importer_ids``: the organisation's
    visible importers (accounts.selectors.importers_for), when the caller has already read them."""
    if organization is None:
        return []
    filters = filters or EntryFilters()
    if filters.within_days is not None and filters.as_of is None:
        filters = EntryFilters(**{**filters.__dict__, "as_of": today_eastern()})
    grants = sorted(importers_for(organization).values_list("pk", flat=True) if importer_ids is None else importer_ids)
    by_importer_only = filters == EntryFilters(importer_id=filters.importer_id, sort=filters.sort, as_of=filters.as_of)
    version = totals_version(organization.pk)
    digest = hashlib.sha256(",".join(map(str, grants)).encode()).hexdigest()[:12]
    today = today_eastern().isoformat()
    if by_importer_only and filters.importer_id is not None:
        # every importer's totals under one key: a broker's first look at each client costs no GROUP BY
        by_key = f"cape:path-totals-by-importer:{organization.pk}:{version}:{today}:{digest}"
        per_importer: dict[int, dict[str, tuple[int, Decimal]]] | None = cache.get(by_key)
        if per_importer is None:
            per_importer = {}
            for row in importer_path_figures(organization, grants, as_of=today_eastern()):
                per_importer.setdefault(row["importer_id"], {})[row["path"]] = (row["n"], row["duty"] or Decimal("0.00"))
            cache.set(by_key, per_importer, 3600)
        cached = per_importer.get(filters.importer_id, {})
        return [
            PathTotal(p, rules.PATH_LABELS[p], *cached.get(p, (0, Decimal("0.00")))) for p in rules.PATHS
        ]
    scope = f"importer=None:{today}" if by_importer_only else filters.as_key()
    key = f"cape:path-totals:{organization.pk}:{version}:{scope}:{digest}"
    cached = cache.get(key)
    if cached is None:
        cached = {}
        if by_importer_only:
            for row in importer_path_figures(organization, grants, as_of=today_eastern()):
                n, duty = cached.get(row["path"], (0, Decimal("0.00")))
                cached[row["path"]] = (n + row["n"], duty + (row["duty"] or Decimal("0.00")))
        else:
            agg = (
                filtered_classifications(organization, filters)
                .order_by()
                .values("path")
                .annotate(n=Count("entry_id"), duty=Sum("ieepa_duty"))
            )
            cached = {row["path"]: (row["n"], row["duty"] or Decimal("0.00")) for row in agg}
        cache.set(key, cached, 3600)
    return [
        PathTotal(p, rules.PATH_LABELS[p], cached.get(p, (0, Decimal("0.00")))[0], cached.get(p, (0, Decimal("0.00")))[1])
        for p in rules.PATHS
    ]


# ---------------------------------------------------------------- runs in progress
@dataclass(frozen=True)
class Reclassifying:
    """Classification runs queued or running over entries the organisation sees: the pages say so (with a
    progress bar) instead of presenting the stored paths of those importers as current."""

    runs: list[ClassificationRun]
    done: int
    total: int
    importer_ids: frozenset[int]

    @property
    def percent(self) -> int:
        return min(99, 100 * self.done // self.total) if self.total else 0

    def __bool__(self) -> bool:
        return bool(self.runs)


def reclassifying(organization: Organization | None) -> Reclassifying:
    if organization is None:
        return Reclassifying([], 0, 0, frozenset())
    runs = list(
        ClassificationRun.objects.filter(status__in=(ClassificationRun.Status.PENDING, ClassificationRun.Status.RUNNING),
                                         importers__in=importers_for(organization))
        .distinct().order_by("created_at", "pk").prefetch_related("importers")
    )
    visible = set(importers_for(organization).values_list("pk", flat=True)) if runs else set()
    ids = frozenset(i.pk for r in runs for i in r.importers.all() if i.pk in visible)
    return Reclassifying(runs, sum(r.done for r in runs), sum(r.total for r in runs), ids)


# ---------------------------------------------------------------- one entry
def entry_detail(organization: Organization | None, pk: int) -> Entry:
    from django.shortcuts import get_object_or_404

    return get_object_or_404(entries_for(organization).select_related("importer", "classification"), pk=pk)


def _ruleset_path_changes(organization: Organization | None, ruleset: str) -> QuerySet[ClassificationChange]:
    """Changes of path that a new ruleset made: the first result under ``ruleset`` of an entry whose stored
    result was of another ruleset, with another path."""
    return (
        ClassificationChange.objects.filter(entry__importer__in=importers_for(organization), ruleset=ruleset)
        .exclude(old_ruleset="").exclude(old_ruleset=ruleset).exclude(old_path=F("new_path"))
    )


@dataclass(frozen=True)
class RulesetChangeGroup:
    old_path: str
    new_path: str
    reason: str
    count: int


@dataclass(frozen=True)
class RulesetChanges:
    ruleset: str
    count: int  # entries whose path changed
    groups: list[RulesetChangeGroup]


def ruleset_changes(organization: Organization, ruleset: str = rules.RULESET) -> RulesetChanges:
    """How many of the organisation's entries the ruleset moved to another path, by (old path, new path,
    first reason): one GROUP BY over the changes it recorded."""
    from django.db.models.fields.json import KT

    rows = (
        _ruleset_path_changes(organization, ruleset)
        .filter(entry__in=entries_for(organization))
        .annotate(reason=KT("reasons__0"))
        .values("old_path", "new_path", "reason")
        .annotate(n=Count("entry_id", distinct=True))
        .order_by("-n", "old_path", "new_path", "reason")
    )
    groups = [RulesetChangeGroup(r["old_path"], r["new_path"], r["reason"] or "", r["n"]) for r in rows]
    return RulesetChanges(ruleset=ruleset, count=sum(g.count for g in groups), groups=groups)


def fact_history(entry: Entry, limit: int = 50) -> list[Any]:
    """Who set which fact of this entry (or of its importer), when, from what to what: the audit rows of every
    organisation that worked on it (the entry is shared: each sees who, in which organisation, changed it)."""
    rows = (AuditLog.objects.filter(object_type="entries.entry", object_id=str(entry.pk),
                                    action__in=("entry.fact_set", "entry.merged"))
            .select_related("user", "organization").order_by("-at", "-pk"))
    out = []
    for a in rows[:limit]:
        d = a.detail or {}
        who = (a.user.get_full_name() or a.user.username) if a.user else "RefundReady"
        if a.organization is not None:
            who += f" ({a.organization.name})"
        if d.get("source"):
            who += f", {d['source']}"
        if a.action == "entry.merged":
            what = (f"Copies kept by {d.get('copies', 2)} organisations merged into this one record"
                    + (f"; they differed on {', '.join(str(k).replace('_', ' ') for k in d['conflicts'])} "
                       "(the latest ES-003 report's values kept)" if d.get("conflicts") else ""))
            out.append({"at": a.at, "what": what, "old": "", "new": "", "who": who, "merged": True})
        else:
            out.append({"at": a.at, "what": str(d.get("fact", "")).replace("_", " "), "old": value_in_words(d.get("old")),
                        "new": value_in_words(d.get("new")), "who": who, "merged": False})
    return out


def changes_for_entry(organization: Organization, entry: Entry) -> QuerySet[ClassificationChange]:
    return ClassificationChange.objects.filter(entry=entry).order_by("-at", "-pk")


@dataclass(frozen=True)
class TimelineItem:
    label: str
    cbp_term: str
    when: date | None
    note: str = ""


def timeline(entry: Entry, classification: Classification | None) -> list[TimelineItem]:
    c = classification
    items = [
        TimelineItem("Entry date", "Entry Date (7501 box 11)", entry.entry_date),
        TimelineItem("Duty deposited", "Entry Summary Date", entry.entry_summary_date),
        TimelineItem("Projected liquidation", "entry date + 314 days (19 U.S.C. 1504)",
                     c.projected_liquidation_date if c else None, "projected"),
        TimelineItem("Liquidation", "Liquidation Date", entry.liquidation_date,
                     "in the future: counts as not liquidated" if entry.liquidation_date and c and not c.liquidated else ""),
        TimelineItem("CAPE window closes", rules.CAPE_WINDOW_WORDS, c.cape_window_closes if c else None),
        TimelineItem("Protest deadline", "19 U.S.C. 1514(c)(3): 180 days after liquidation",
                     c.protest_deadline if c else None, "projected" if c and c.protest_deadline_projected else ""),
        TimelineItem("Court of International Trade deadline", "28 U.S.C. 2636(i): 2 years, conservative",
                     c.cit_deadline if c else None, "counsel review"),
    ]
    return items


@dataclass(frozen=True)
class ReasonExplained:
    code: str
    rule: str
    source: str
    text: str


_FIRST_CLAUSE = re.compile(r"(?<=[.:;])\s")


def reason_label(code: str) -> str:
    """A reason's plain-words label: the opening clause of its explanation in the ruleset's reason table
    (rules.REASONS, through rules.explain), shortened to what fits a badge. The table has no short label
    of its own; deriving it keeps one source of wording (the ruleset's)."""
    _rule, _source, text = rules.explain(code.split(":", 1)[0] if code.startswith("cape_rejected:") else code)
    label = _FIRST_CLAUSE.split(text, maxsplit=1)[0].rstrip(".:; ")
    if len(label) > 60:
        label = re.sub(r"\s*\([^)]*\)", "", label)  # drop parentheticals: (CBP Form 19), (no 9903.01 ...)
    if len(label) > 80 and len(label.split(", ", 1)[0]) >= 25:  # never a stub ("A surety", "Suspended")
        label = label.split(", ", 1)[0]
    if code.startswith("cape_rejected:"):
        # "... with the error shown": CBP's own words, on the badge itself (the entries list shows no other text).
        return f"{label}: {code.split(':', 1)[1]}"
    return label or code


def reason_choices() -> list[tuple[str, str]]:
    """(code, label) of every reason in the ruleset's table, by label: the entries list's reason filter."""
    return sorted(((code, reason_label(code)) for code in rules.REASONS), key=lambda c: (c[1].casefold(), c[0]))


def explain_reasons(reasons: list[str]) -> list[ReasonExplained]:
    out = []
    for code in reasons:
        rule, source, text = rules.explain(code)
        out.append(ReasonExplained(code, rule, source, text))
    return out


# ---------------------------------------------------------------- digest
@dataclass
class Digest:
    organization: Organization
    as_of: date
    cape_closing: list[Classification]
    cape_closing_count: int
    protest_due: list[Classification]
    protest_due_count: int
    newly_liquidated: list[ClassificationChange]
    path_changes: list[ClassificationChange]

    @property
    def is_empty(self) -> bool:
        return not (self.cape_closing_count or self.protest_due_count or self.newly_liquidated or self.path_changes)


DIGEST_LIMIT = 50


def digest_for(organization: Organization, *, as_of: date, since: Any) -> Digest:
    """What the daily email says (issue 4, deadline alerts)."""
    visible = classifications_for(organization).select_related("entry", "importer")
    cape = visible.filter(path__in=rules.CAPE_PATHS, cape_window_closes__gte=as_of, cape_window_closes__lte=as_of + timedelta(days=14))
    cape = cape.order_by("cape_window_closes", "entry_id")
    protest = visible.filter(path=rules.Path.PROTEST, protest_deadline__gte=as_of,
                             protest_deadline__lte=as_of + timedelta(days=30)).order_by("protest_deadline", "entry_id")
    changes = (
        ClassificationChange.objects.filter(at__gte=since, entry__in=entries_for(organization))
        .exclude(old_path="")
        .select_related("entry", "entry__importer")
        .order_by("entry_id", "-at", "-pk")
    )
    newly_liquidated: dict[int, ClassificationChange] = {}
    crossed: dict[int, ClassificationChange] = {}
    for ch in changes[:5000]:
        if ch.is_liquidated and not ch.was_liquidated:
            newly_liquidated.setdefault(ch.entry_id, ch)
        if ch.old_path != ch.new_path:
            crossed.setdefault(ch.entry_id, ch)
    return Digest(
        organization=organization, as_of=as_of,
        cape_closing=list(cape[:DIGEST_LIMIT]), cape_closing_count=cape.count(),
        protest_due=list(protest[:DIGEST_LIMIT]), protest_due_count=protest.count(),
        newly_liquidated=list(newly_liquidated.values())[:DIGEST_LIMIT],
        path_changes=list(crossed.values())[:DIGEST_LIMIT],
    )
