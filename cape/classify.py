"""Classification services: run the ruleset (cape/rules.py) over stored entries and keep the results.

``classify_entries`` is the one write path: it loads entries in chunks with a fixed number of
queries per chunk (entries, CAPE history, stored results), runs the pure engine, upserts
``Classification`` rows and records a ``ClassificationChange`` whenever the path or reasons change.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import queue
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Importer, Membership, Organization
from accounts.selectors import importers_for, organizations_seeing
from accounts.services import ServiceError, audit
from ach.selectors import importer_ids_with_refund_route
from cape import rules
from cape.interest import InterestTerms, interest_terms
from cape.models import Classification, ClassificationChange, ClassificationRun, Declaration, DeclarationEntry
from cape.selectors import bump_totals_version, digest_for, refresh_totals
from cape.signals import digest_sections
from entries import entrynumber, jobs
from entries.models import Entry, Upload
from refundready import bulk
from refundready.dates import EASTERN, today_eastern  # noqa: F401  (re-exported: cape.classify.today_eastern)
from refundready.jobs import forget_lock, running_lock
from refundready.memory import gc_paused
from refundready.pacing import Pacer

logger = logging.getLogger(__name__)
CHUNK = 2000  # entries per chunk on SQLite (bound-variable limits)
CHUNK_PG = 10_000  # on PostgreSQL (one array parameter per query)
WRITERS = 2  # PostgreSQL connections writing chunks while the engine computes the next
_ACCEPTED_DECLARATION = (Declaration.Status.ACCEPTED, Declaration.Status.ACCEPTED_WITH_ERRORS)


def _chunks(ids: list[int], size: int = CHUNK) -> Iterator[list[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


# ---------------------------------------------------------------- one run of the engine
# The engine's result depends on the entry number only through its validity (R1) and on the IEEPA
# duty only through its sign (R2); nothing else per entry (rules.py: no rule reads importer_number).
# Its dates: the entry date gives the projected liquidation date of an entry not liquidated yet, the liquidation
# date counts only for a liquidated or final status, and otherwise the entry and entry summary dates give only the
# CIT deadline (rules.cit_deadline). So entries with equal facts apart from those share one result, computed once
# per run from memo_facts: the key below. An entry's own result is that one with its own CIT deadline, except on
# the CIT path, whose deadline (and so its urgency and stable_until) is the CIT deadline: there the result is
# computed once per key and accrual date. tests/cape/test_classify_runs.py checks over random facts that the
# shared result, so completed, is the one rules.classify gives each entry on its own.
_LIQUIDATED = frozenset({rules.LIQUIDATED, rules.FINAL})


def memo_key(facts: rules.EntryFacts) -> tuple[Any, ...]:
    return _key(
        rules.valid_entry_number(facts.entry_number), facts.ieepa_duty, facts.entry_type, facts.liquidation_status,
        facts.entry_date, facts.liquidation_date, facts.recon_flag, facts.type09_filed, facts.protest_status,
        facts.protest_number, facts.drawback, facts.cape_accepted, facts.cape_rejections, facts.has_refund_route,
        facts.surety_paid, facts.liquidation_reason_code, facts.cit_plaintiff,
    )


def memo_facts(facts: rules.EntryFacts) -> rules.EntryFacts:
    """The facts a run classifies once for every entry of ``facts``' memo key (the dates it does not read cleared)."""
    status = facts.liquidation_status
    return dataclasses.replace(
        facts, entry_date=facts.entry_date if status in rules.NOT_LIQUIDATED_STATUSES else None,
        entry_summary_date=None, liquidation_date=facts.liquidation_date if status in _LIQUIDATED else None,
    )


def _key(valid_number: bool, duty: Decimal, entry_type: str, status: str, entry_date: date | None,
         liquidation_date: date | None, recon: bool, type09: bool, protest_status: str,
         protest_number: str, drawback: bool, accepted: bool, rejections: tuple[str, ...], routed: bool,
         surety: bool, reason_code: int | None, plaintiff: bool) -> tuple[Any, ...]:
    """memo_key from the facts' parts (a run builds it without building the facts; they are built on a miss).
    The reason code matters only as "36 or not" (R3); the dates as memo_facts keeps them."""
    return (
        valid_number, duty > 0, entry_type, status, entry_date if status in rules.NOT_LIQUIDATED_STATUSES else None,
        liquidation_date if status in _LIQUIDATED else None, recon, type09, protest_status, protest_number,
        drawback, accepted, rejections, routed, surety, reason_code == rules.CAPE_LIQUIDATION_REASON, plaintiff,
    )


# Columns written per classification, in order (hand-written SQL because Django's bulk_create
# spends most of its time compiling per-value SQL: 4k rows/s against 30k+ this way). The first seven
# are per entry; the rest depend only on the engine's result (one rendering per memo key).
_CLS_COLUMNS = (
    "entry_id", "importer_id", "ieepa_duty", "estimated_interest", "interest_uncertain",
    "interest_note",
    "path", "reasons", "reasons_text", "deadline", "urgent", "deadline_passed", "projected_liquidation_date",
    "cape_window_closes", "protest_deadline", "protest_deadline_projected", "cit_deadline", "days_since_liquidation",
    "liquidated", "stable_until", "ruleset", "as_of", "computed_at",
)
_CHANGE_COLUMNS = (  # what was, then what is (one rendering per memo key, like the segment above)
    "entry_id", "old_path", "old_reasons", "was_liquidated", "old_ruleset",
    "new_path", "reasons", "is_liquidated", "ruleset", "as_of", "at",
)
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: Any) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            return value.translate(_COPY_ESCAPES)
        return value
    return str(value)  # int, Decimal, date, aware datetime (ISO with offset)


class _Renderer:
    """Rows in the form the database takes: COPY text lines (PostgreSQL) or adapted tuples (SQLite)."""

    def __init__(self, *, copy: bool) -> None:
        self.copy = copy
        ops = connection.ops
        self._date = ops.adapt_datefield_value
        self._money = lambda v: ops.adapt_decimalfield_value(v, 16, 2) if v is not None else None
        self._dt = ops.adapt_datetimefield_value

    def row(self, values: tuple[Any, ...], *, money_at: tuple[int, ...] = (), date_at: tuple[int, ...] = ()) -> Any:
        if self.copy:  # _copy_value inlined: a million-entry run renders about 12 million values here
            return "\t".join([
                "\\N" if v is None else ("t" if v else "f") if v is True or v is False
                else v.translate(_COPY_ESCAPES) if isinstance(v, str) else str(v)
                for v in values
            ])
        out = list(values)
        for i in money_at:
            out[i] = self._money(out[i])
        for i in date_at:
            out[i] = self._date(out[i])
        return tuple(out)

    def at(self, value: datetime) -> Any:
        return value if self.copy else self._dt(value)


# A result's columns are written as the segment before its CIT deadline, the deadline (the entry's own: see the memo
# above), and the segment after it. Positions of dates within those segments on SQLite:
_BEFORE_CIT_DATES = (3, 6, 7, 8)  # deadline, projected liquidation, CAPE window closes, protest deadline
_AFTER_CIT_DATES = (2, 4)  # stable_until, as_of
# One engine result as a run keeps it: the result, its reasons, the segments before and after the CIT deadline,
# the change row's "is", and its number within the run (which names it in the run's other memos).
Hit = tuple[rules.Result, list[str], Any, Any, Any, int]


class _Run:
    """One classification run: a fixed as_of, the memo of engine results, the rows to write."""

    def __init__(self, *, as_of: date, renderer: _Renderer) -> None:
        self.as_of = as_of
        self.renderer = renderer
        self.at = renderer.at(timezone.now())
        self.memo: dict[tuple[Any, ...], Hit] = {}
        self.memo_cit: dict[tuple[int, date | None], Hit] = {}  # CIT path: per memo key and accrual date
        self.interest: dict[tuple[date, bool, bool], tuple[InterestTerms, str]] = {}
        self.cit: dict[date | None, Any] = {}  # accrual date -> the CIT deadline as written
        self.texts: dict[tuple[str, tuple[str, ...]], tuple[list[str], Any, str]] = {}  # path and reasons as written
        self.never = renderer.row(("", "[]", False, ""))  # the "was" of an entry classified for the first time
        self._tail: str | None = None  # COPY: ruleset, as_of and computed_at, the same for every row of the run

    def _result(self, facts: rules.EntryFacts) -> Hit:
        r = rules.classify(facts, self.as_of)
        render = self.renderer.row
        texts = self.texts.get((r.path, r.reasons))
        if texts is None:  # once per path and reasons
            reasons = list(r.reasons)
            reasons_json = json.dumps(reasons)
            texts = self.texts[(r.path, r.reasons)] = (reasons, render((r.path, reasons_json)), _reasons_text(reasons))
        reasons, head, reasons_text = texts
        if self.renderer.copy:  # the run's constant columns rendered once, the path and reasons once per result
            if self._tail is None:
                self._tail = render((r.ruleset, self.as_of, self.at))
            before = "\t".join((head, render((reasons_text, r.deadline, r.urgent, r.deadline_passed,
                                              r.projected_liquidation_date, r.cape_window_closes, r.protest_deadline,
                                              r.protest_deadline_projected)), ""))
            after = "\t".join(("", render((r.days_since_liquidation, r.liquidated, r.stable_until)), self._tail))
            change = f"{head}\t{'t' if r.liquidated else 'f'}\t{self._tail}"
        else:
            before = render((*head, reasons_text, r.deadline, r.urgent, r.deadline_passed, r.projected_liquidation_date,
                             r.cape_window_closes, r.protest_deadline, r.protest_deadline_projected), date_at=_BEFORE_CIT_DATES)
            after = render((r.days_since_liquidation, r.liquidated, r.stable_until, r.ruleset, self.as_of, self.at),
                           date_at=_AFTER_CIT_DATES)
            change = render((*head, r.liquidated, r.ruleset, self.as_of, self.at), date_at=(4,))
        return (r, reasons, before, after, change, len(self.memo) + len(self.memo_cit))

    def _cit(self, accrual: date | None) -> Any:
        """The CIT deadline of an entry with this accrual date, as written (rules.cit_deadline)."""
        deadline = rules.cit_deadline(accrual)
        if self.renderer.copy:
            text = "\\N" if deadline is None else str(deadline)
        else:
            text = self.renderer.row((deadline,), date_at=(0,))
        self.cit[accrual] = text
        return text

    def _interest(self, deposit_date: date, liquidated: bool, corporate: bool) -> tuple[InterestTerms, str]:
        terms = interest_terms(deposit_date=deposit_date, as_of=self.as_of, liquidated=liquidated, corporate=corporate)
        hit = self.interest[(deposit_date, liquidated, corporate)] = (terms, terms.note[:200])
        return hit

    def rows(self, fetched: list[Fetched], *, accepted: set[int], rejected: dict[int, list[str]],
             routed: dict[int, bool]) -> tuple[list[Any], list[Any], list[Any]]:
        """(classification rows of entries classified before, of entries never classified, change rows)."""
        render, copy, loads = self.renderer.row, self.renderer.copy, json.loads
        memo, memo_cit, interest_memo, cit_memo = self.memo, self.memo_cit, self.interest, self.cit
        cit_path, accrual_date = rules.Path.CIT, rules.accrual_date
        not_eligible, unknown, NULL, zero = rules.Path.NOT_ELIGIBLE, Entry.LiquidationStatus.UNKNOWN, "\\N", Decimal("0.00")
        stored: list[Any] = []
        fresh: list[Any] = []
        change_rows: list[Any] = []
        tails: dict[tuple[str, int, date | None], str] = {}
        # R1's validity of every number of the chunk at once; a number that is not valid as it stands may still
        # repair to one (rules.valid_entry_number).
        valid = entrynumber.valid_many([row[4] for row in fetched])
        # The hot loop of a million-entry run: rows unpacked as read (_FETCH_FIELDS), the memo key built from
        # their parts (memo_key of the facts, which are built only on a miss), interest terms once per
        # deposit date and kind of importer.
        for (entry_id, importer_id, corporate, plaintiff, number, entry_type, entry_date, summary_date, status, status_raw,
             liquidation_date, recon, type09, protest_status, protest_number, drawback, surety, reason_code, duty,
             old_path, old_reasons, old_liquidated, old_ruleset), valid_number in zip(fetched, valid, strict=True):
            if status == unknown and status_raw:
                status = status_raw  # rules.md spellings, in case ingestion did not know one
            if duty is None:
                duty = zero
            is_accepted = entry_id in accepted
            rejections = tuple(rejected[entry_id]) if entry_id in rejected else ()
            is_routed = routed[importer_id]
            key = _key(valid_number or rules.valid_entry_number(number), duty, entry_type, status, entry_date,
                       liquidation_date, recon, type09, protest_status, protest_number, drawback, is_accepted, rejections,
                       is_routed, surety, reason_code, plaintiff)
            hit = memo.get(key)
            if hit is None:
                facts = rules.EntryFacts(
                    number, entry_type, duty, status, entry_date, summary_date, liquidation_date, recon, type09,
                    protest_status, protest_number, drawback, is_accepted, rejections, is_routed, "", surety,
                    reason_code, plaintiff)
                hit = memo[key] = self._result(memo_facts(facts))
            accrual = accrual_date(summary_date, entry_date)
            if hit[0].path == cit_path:  # its deadline is the entry's own CIT deadline
                shared = hit[5]
                hit = memo_cit.get((shared, accrual))
                if hit is None:
                    hit = memo_cit[(shared, accrual)] = self._result(rules.EntryFacts(
                        number, entry_type, duty, status, entry_date, summary_date, liquidation_date, recon, type09,
                        protest_status, protest_number, drawback, is_accepted, rejections, is_routed, "", surety,
                        reason_code, plaintiff))
            r, reasons, before, after, change, number_in_run = hit
            cit = cit_memo.get(accrual)
            if cit is None:
                cit = self._cit(accrual)
            interest, note = None, ""
            deposit = summary_date or entry_date
            if r.path != not_eligible and deposit is not None and duty > 0:  # estimate_interest's own conditions
                terms = interest_memo.get((deposit, r.liquidated, corporate))
                if terms is None:
                    terms = self._interest(deposit, r.liquidated, corporate)
                interest, note = terms[0].amount(duty), terms[1]
            cls_rows = fresh if old_path is None else stored
            if copy:  # the per-entry columns, formatted directly
                tail = tails.get((note, number_in_run, accrual))
                if tail is None:
                    tail = tails[(note, number_in_run, accrual)] = (
                        f"\t{'t' if note else 'f'}\t{_copy_value(note)}\t{before}{cit}{after}")
                money = NULL if interest is None else interest
                cls_rows.append(f"{entry_id}\t{importer_id}\t{duty}\t{money}{tail}")
            else:
                cls_rows.append(
                    render((entry_id, importer_id, duty, interest, bool(note), note), money_at=(2, 3)) + before + cit + after)
            if old_path is None:
                was = self.never
            else:
                if isinstance(old_reasons, str):
                    old_reasons = loads(old_reasons)  # psycopg gives jsonb as text (Django's JSONField decodes it)
                if old_path == r.path and old_reasons == reasons:
                    continue
                was = render((old_path, json.dumps(old_reasons or []), bool(old_liquidated), old_ruleset or ""))
            if copy:
                change_rows.append(f"{entry_id}\t{was}\t{change}")
            else:
                change_rows.append((entry_id, *was, *change))
        return stored, fresh, change_rows


# One entry as read for classification: _FETCH_FIELDS, then its stored result's path, reasons,
# liquidated and ruleset (None when never classified). Plain tuples, unpacked in _Run.rows.
Fetched = tuple[Any, ...]


_FETCH_FIELDS = (
    "id", "importer_id", "importer__is_corporate", "importer__cit_plaintiff", "entry_number", "entry_type", "entry_date",
    "entry_summary_date", "liquidation_status", "liquidation_status_raw", "liquidation_date", "recon_flag",
    "type09_filed", "protest_status", "protest_number", "drawback", "surety_paid", "liquidation_reason_code",
    "ieepa_duty",
)


def _fetch(ids: list[int], *, whole_importers: list[int] | None = None) -> list[Fetched]:
    """The entries ``ids`` (sorted) with their stored result, in one query on PostgreSQL (two elsewhere).
    ``whole_importers``: ``ids`` are all of these importers' entries in their range, which is then read
    as a range (a tenth of the cost of matching 10,000 ids)."""
    if connection.vendor == "postgresql":
        e, i, c = Entry._meta.db_table, Importer._meta.db_table, Classification._meta.db_table
        cols = ", ".join(f"i.{f[10:]}" if f.startswith("importer__") else f"e.{f}" for f in _FETCH_FIELDS)
        with connection.cursor() as cursor:
            # ``ids`` is sorted: the bounds keep the plan an index walk over the chunk's range. Without them a
            # first run's fresh statistics (an empty results table) chose a hash join over a sequential scan of
            # every stored result, per chunk (README, Benchmarks: "Where the time goes").
            lo, hi = ids[0], ids[-1]
            which, params = ("e.importer_id = ANY(%s)", [whole_importers]) if whole_importers else ("e.id = ANY(%s)", [ids])
            cursor.execute(
                f"SELECT {cols}, c.path, c.reasons, c.liquidated, c.ruleset FROM {e} e JOIN {i} i ON i.id = e.importer_id "
                f"LEFT JOIN {c} c ON c.entry_id = e.id AND c.entry_id BETWEEN %s AND %s "
                f"WHERE {which} AND e.id BETWEEN %s AND %s ORDER BY e.id",
                [lo, hi, *params, lo, hi],
            )
            return cursor.fetchall()
    old = {
        entry_id: (path, reasons, liquidated, ruleset)
        for entry_id, path, reasons, liquidated, ruleset in Classification.objects.filter(entry_id__in=ids).values_list(
            "entry_id", "path", "reasons", "liquidated", "ruleset")
    }
    return [
        (*row, *old.get(row[0], (None, None, None, None)))
        for row in Entry.objects.filter(pk__in=ids).order_by("pk").values_list(*_FETCH_FIELDS)
    ]


def _cape_history(entry_ids: list[int]) -> tuple[set[int], dict[int, list[str]]]:
    """R3 inputs: entries on an accepted (with or without errors) declaration and not rejected there;
    and the CBP error text of every rejection, oldest first."""
    accepted: set[int] = set()
    rejected: dict[int, list[str]] = defaultdict(list)
    if connection.vendor == "postgresql":  # one array parameter instead of thousands of placeholders
        de, d = DeclarationEntry._meta.db_table, Declaration._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT de.entry_id, de.outcome, de.error_text, d.status FROM {de} de JOIN {d} d ON d.id = de.declaration_id "
                f"WHERE de.entry_id = ANY(%s) ORDER BY d.created_at, d.id, de.position",
                [entry_ids],
            )
            items: Iterable[tuple[Any, ...]] = cursor.fetchall()
    else:
        items = (
            DeclarationEntry.objects.filter(entry_id__in=entry_ids)
            .values_list("entry_id", "outcome", "error_text", "declaration__status")
            .order_by("declaration__created_at", "declaration_id", "position")
        )
    for entry_id, outcome, error_text, status in items:
        if outcome == DeclarationEntry.Outcome.REJECTED:
            rejected[entry_id].append(error_text or "")
        elif status in _ACCEPTED_DECLARATION:
            accepted.add(entry_id)
    return accepted, rejected


def _routed_importers(importer_ids: Iterable[int]) -> set[int]:
    """Importers with a refund route: an active ACH refund enrollment (or a 4811 notify party with one), or
    a paper-check waiver CBP granted (31 CFR 208.4; ruleset 2026.12)."""
    wanted = list(importer_ids)
    routed = set(importer_ids_with_refund_route(wanted))
    for chunk in _chunks(wanted, 10_000):
        routed.update(Importer.objects.filter(pk__in=chunk, paper_check_waiver_granted=True).values_list("pk", flat=True))
    return routed


def _reasons_text(reasons: Iterable[str]) -> str:
    text = "|" + "|".join(r.replace("|", "/") for r in reasons) + "|"
    if len(text) > 500:  # many distinct CBP rejections: keep the codes that filters use
        text = text[:499].rsplit("|", 1)[0] + "|"
    return text


# ---------------------------------------------------------------- writing
def _write(stored: list[Any], fresh: list[Any], change_rows: list[Any]) -> None:
    """Write the classifications (``stored``: entries classified before, upserted; ``fresh``: never
    classified when read) and add the change rows, atomically, on this thread's connection, through the bulk
    interface (refundready.bulk). On PostgreSQL the rows come rendered in COPY's text format (_Renderer)."""
    cls_table, change_table = Classification._meta.db_table, ClassificationChange._meta.db_table
    pg = bulk.is_postgresql()
    with connection.wrap_database_errors, transaction.atomic(), connection.cursor() as cursor:
        if pg and fresh:
            # COPY straight into the table: a third of the cost of staging and upserting. Should another run
            # have classified one of them since it was read, the unique entry_id refuses the COPY and
            # this chunk's fresh rows take the upsert instead.
            try:
                with transaction.atomic():
                    bulk.copy_rows(cursor, cls_table, _CLS_COLUMNS, fresh, text=True)
            except IntegrityError:  # bulk raises Django's errors for psycopg's (wrap_database_errors)
                stored = stored + fresh
        else:
            stored = stored + fresh
        bulk.upsert(cursor, cls_table, _CLS_COLUMNS, stored, key="entry_id", text=pg)
        bulk.copy_rows(cursor, change_table, _CHANGE_COLUMNS, change_rows, text=pg)  # plain inserts


class _Writers:
    """Write finished chunks on connections of their own while the caller computes the next ones
    (PostgreSQL, outside any transaction of the caller's: the engine's CPU and the database's then
    overlap). Each chunk commits on its own, as it does inline; chunks hold distinct entries, so
    the writers never wait for each other's rows. After a failure the rest of the queue is dropped
    and the caller gets the error."""

    def __init__(self, on_written: Callable[[int], None], count: int, *, pace: bool = False) -> None:
        self.queue: queue.Queue[tuple[list[Any], list[Any], list[Any]] | None] = queue.Queue(maxsize=2 * count)
        self.on_written = on_written
        self.lock = threading.Lock()
        self.error: BaseException | None = None
        self.pace = pace
        self.threads = [threading.Thread(target=self._run, name=f"classification-writer-{k}", daemon=True)
                        for k in range(count)]
        for t in self.threads:
            t.start()

    def _run(self) -> None:
        # The writers' database work is most of a run's (PostgreSQL backends, which the worker's niceness does
        # not reach): a background run's writers pace themselves too, not only the engine's thread.
        pacer = Pacer(working=False) if self.pace else None  # working from its first chunk
        try:
            while (item := self.queue.get()) is not None:
                if self.error is not None:
                    continue
                stored, fresh, change_rows = item
                if pacer is not None:
                    pacer.start()
                _write(stored, fresh, change_rows)
                with self.lock:
                    self.on_written(len(stored) + len(fresh))
                if pacer is not None:
                    pacer.pace(resume=False)  # waiting for the next chunk is not work
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, which raises it
            with self.lock:
                self.error = self.error or exc
            while self.queue.get() is not None:  # let the caller finish putting
                pass
        finally:
            if pacer is not None:
                pacer.stop()
            connection.close()

    def put(self, item: tuple[list[Any], list[Any], list[Any]]) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(item)

    def finish(self) -> None:
        for _ in self.threads:
            self.queue.put(None)
        for t in self.threads:
            t.join()


Progress = Callable[[int, int], None]


def classify_entries(*, entry_ids: Iterable[int] | None = None, importer_ids: Iterable[int] | None = None,
                     organization: Organization | None = None, as_of: date, progress: Progress | None = None,
                     pace: bool = False) -> int:
    """Classify entries as of ``as_of``: the given ``entry_ids``; else every entry of ``importer_ids``; else
    every entry of the importers ``organization`` sees. Upsert their Classification and record changes of path
    or reasons. An entry is one row shared by every organisation that sees its importer, so its result is
    too: whoever's action classifies it, every one of them sees the new result (their cached figures are
    refreshed on commit). Returns the count. ``progress(done, total)`` is called after each chunk is written.
    ``pace``: a background run, which pauses between chunks while pages are being served (refundready.pacing)."""
    whole: list[int] | None = None
    if entry_ids is None:
        if importer_ids is None:
            if organization is None:
                raise ValueError("classify_entries needs entry_ids, importer_ids or an organization")
            importer_ids = importers_for(organization).values_list("pk", flat=True)
        whole = sorted(set(int(i) for i in importer_ids))
        ids = []
        for chunk in _chunks(whole, 1000):
            ids += list(Entry.objects.filter(importer_id__in=chunk).values_list("pk", flat=True))
        ids.sort()
    else:
        wanted = sorted(set(int(i) for i in entry_ids))
        ids = []
        for chunk in _chunks(wanted, 10_000):
            ids += list(Entry.objects.filter(pk__in=chunk).values_list("pk", flat=True))
        ids.sort()
    if not ids:
        return 0
    routed: dict[int, bool] = {}
    if whole is not None:
        found = _routed_importers(whole)
        routed = {i: i in found for i in whole}
    pg = connection.vendor == "postgresql"
    run = _Run(as_of=as_of, renderer=_Renderer(copy=pg))
    total, done = len(ids), 0

    def written(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    # R3's inputs come from the product's declarations (any organisation's: the CAPE history is the entry's):
    # without any declaration at all there is no query per chunk.
    has_history = Declaration.objects.exists()
    # A second connection cannot see the caller's uncommitted rows: inside a transaction, write inline.
    writer = _Writers(written, WRITERS, pace=pace) if pg and not connection.in_atomic_block else None
    pacer = Pacer() if pace else None
    try:
        with gc_paused():
            for n, chunk in enumerate(_chunks(ids, CHUNK_PG if pg else CHUNK)):
                if n and pacer is not None:  # between chunks
                    pacer.pace()
                fetched = _fetch(chunk, whole_importers=whole)
                missing = {e[1] for e in fetched} - routed.keys()
                if missing:
                    found = _routed_importers(missing)
                    routed.update({i: i in found for i in missing})
                accepted, rejected = _cape_history(chunk) if has_history else (set(), {})
                stored, fresh, change_rows = run.rows(fetched, accepted=accepted, rejected=rejected, routed=routed)
                if writer is not None:
                    with pacer.waiting() if pacer is not None else contextlib.nullcontext():  # a full queue
                        writer.put((stored, fresh, change_rows))
                else:
                    _write(stored, fresh, change_rows)
                    written(len(stored) + len(fresh))
    finally:
        if pacer is not None:
            pacer.stop()
        if writer is not None:
            writer.finish()
    if writer is not None and writer.error is not None:
        raise writer.error
    # Every organisation that sees one of these importers reads the new results: a background run publishes
    # their new figures warm (cape.selectors.refresh_totals); an inline one (an edit on a page) only bumps,
    # so that the page does not pay for the organisations' GROUP BYs.
    touched = sorted(routed)
    transaction.on_commit(lambda: results_changed(touched, warm=pace))
    return done


def results_changed(importer_ids: list[int], *, warm: bool = False) -> None:
    """The stored results of these importers' entries changed: every organisation that sees one of them
    drops its cached figures (bump_totals_version), or has them computed afresh first (``warm``)."""
    for org in organizations_seeing(importer_ids):
        if warm:
            refresh_totals(org)
        else:
            bump_totals_version(org.pk)


def queue_upload_classification(upload_id: int) -> None:
    """After an upload commits: record its classification run as queued (the upload page, and every page of
    each organisation that sees one of its importers, shows it at once with its own progress bar) and
    enqueue the task that runs it."""
    # Here, not at the top: cape.tasks imports this module (a task calls its service).
    from cape.tasks import classify_upload

    upload = Upload.objects.filter(pk=upload_id).only("organization_id").first()
    if upload is None:
        return
    run = ClassificationRun.objects.create(organization_id=upload.organization_id, upload_id=upload_id,
                                           kind=ClassificationRun.Kind.UPLOAD)
    importer_ids = Entry.objects.filter(last_upload_id=upload_id).order_by().values_list("importer_id", flat=True).distinct()
    run.importers.set(list(importer_ids))
    classify_upload.delay(upload_id)


def classify_upload_entries(*, upload_id: int) -> int:
    """Classify every entry an ES-003 upload touched (last_upload), as of today in Eastern time."""
    upload = Upload.objects.select_related("organization").filter(pk=upload_id).first()
    if upload is None:
        return 0
    ids = list(Entry.objects.filter(last_upload_id=upload_id).values_list("pk", flat=True))
    run = (
        ClassificationRun.objects.filter(upload_id=upload_id).exclude(status=ClassificationRun.Status.DONE).order_by("-pk").first()
        or ClassificationRun(organization=upload.organization, upload=upload, kind=ClassificationRun.Kind.UPLOAD)
    )
    return tracked_run(run, entry_ids=ids, as_of=today_eastern())


RUN_FAILED_MESSAGE = (
    "The classification stopped ({error}) and is retried automatically; entries keep their previous results until "
    "it completes."
)
RUN_INTERRUPTED_MESSAGE = (
    "This classification was interrupted {attempts} times (the worker running it stopped: it ran out of memory or "
    "was restarted), so it was not tried again. Entries keep their previous results; the nightly run classifies "
    "them again."
)
RUN_NEVER_STARTED_MESSAGE = (
    "No worker started this classification within 24 hours (the job queue lost it, or no worker was running), so "
    "it was stopped. Entries keep their previous results; the nightly run classifies them again."
)


def _enqueue_run(run_id: int) -> None:
    # Here, not at the top: cape.tasks imports this module (a task calls its service).
    from cape.tasks import classify_run

    classify_run.delay(run_id)


# A classification run on the one job runtime (entries.jobs). Its task is sent again as cape.tasks.classify_run
# whatever its kind: run_queued finds its entries again from the kind.
RUN_JOB = jobs.JobType(
    name="classification run",
    model=ClassificationRun,
    enqueue=_enqueue_run,
    interrupted_message=lambda run: RUN_INTERRUPTED_MESSAGE.format(attempts=run.attempts),
    never_started_message=RUN_NEVER_STARTED_MESSAGE,
    requeue_values=lambda run: {"done": 0},
)


def tracked_run(run: ClassificationRun, *, entry_ids: list[int] | None, as_of: date) -> int:
    """classify_entries with its progress recorded on ``run`` (running, done of total, then done or
    failed). ``entry_ids`` None: every entry of the importers the run's organisation sees. A failure is
    recorded and raised again, so that the task's retry policy applies.

    On the job runtime: the run's liveness lock is held from before its claim to the end, so a run found
    running with its lock free lost its worker (it is requeued or failed by the sweep, cape.recovery); a second
    delivery while a live process runs it returns 0 at once. A failed run may be claimed again (the task's
    retry)."""
    organization = run.organization
    if entry_ids is None:
        entry_ids = list(Entry.objects.filter(importer__in=importers_for(organization)).values_list("pk", flat=True))
    total = len(entry_ids)
    if run.pk is None:
        run.save()  # a nightly run is recorded as it starts
    with running_lock(RUN_JOB.lock_kind, run.pk, wait=False) as held:
        if not held:
            return 0
        found = RUN_JOB.load(run.pk)
        if found is not None and found.status == ClassificationRun.Status.RUNNING:
            if jobs.release_orphan(RUN_JOB, found, enqueue=False) == "failed":
                return 0
        if not jobs.claim(RUN_JOB, run.pk, statuses=(ClassificationRun.Status.PENDING, ClassificationRun.Status.FAILED),
                          total=total, done=0, as_of=as_of, error="", finished_at=None):
            return 0
        run.refresh_from_db()
        if not run.importers.exists():
            importer_ids: set[int] = set()
            for chunk in _chunks(sorted(entry_ids), 10_000):
                importer_ids.update(Entry.objects.filter(pk__in=chunk).order_by().values_list("importer_id", flat=True).distinct())
            run.importers.set(sorted(importer_ids))
        channel = RUN_JOB.channel(run.pk, separate="never")

        def progress(done: int, total: int) -> None:
            channel.write(done=done, total=total)

        try:
            count = classify_entries(entry_ids=entry_ids, as_of=as_of, progress=progress, pace=True) if total else 0
        except Exception as exc:
            jobs.fail(RUN_JOB, run, RUN_FAILED_MESSAGE.format(error=exc.__class__.__name__))
            raise
        finally:
            channel.close()
        ClassificationRun.objects.filter(pk=run.pk).update(status=ClassificationRun.Status.DONE, done=count,
                                                           total=max(total, count), finished_at=timezone.now())
    forget_lock(RUN_JOB.lock_kind, run.pk)
    return count


def classification_runs_recover(*, stale_after: timedelta | None = None) -> jobs.JobRecovery:
    """Requeue (or fail) every classification run left running by a worker that is gone; fail those no worker
    ever started (entries.jobs.sweep)."""
    return jobs.sweep(RUN_JOB, stale_after=stale_after)


def reclassify_later(*, organization: Organization, entry_ids: Iterable[int] | None = None,
                     importer_ids: Iterable[int] | None = None) -> ClassificationRun | None:
    """A state change that can move many entries (a CAPE outcome, a Claim Details import, a refund route, a
    grant): record a queued run over what it affects, shown at once as "reclassifying…" on the pages of every
    organisation that sees those importers, and run it on commit (cape.tasks.classify_run). Until it is done
    the pages say so instead of showing the old paths as current."""
    if entry_ids is not None:
        ids = sorted(set(int(i) for i in entry_ids))
        imps: set[int] = set()
        for chunk in _chunks(ids, 10_000):
            imps.update(Entry.objects.filter(pk__in=chunk).order_by().values_list("importer_id", flat=True).distinct())
    else:
        imps = set(int(i) for i in importer_ids or ())
        ids = []
        for chunk in _chunks(sorted(imps), 1000):
            ids += list(Entry.objects.filter(importer_id__in=chunk).values_list("pk", flat=True))
    if not ids:
        return None
    run = ClassificationRun.objects.create(organization=organization, kind=ClassificationRun.Kind.CHANGE,
                                           total=len(ids), params={"entry_ids": ids} if entry_ids is not None else
                                           {"importer_ids": sorted(imps)})
    run.importers.set(sorted(imps))
    pk = run.pk

    def enqueue() -> None:
        # Here, not at the top: cape.tasks imports this module (a task calls its service).
        from cape.tasks import classify_run

        try:
            classify_run.delay(pk)
        except OSError:  # broker unreachable: the worker's recovery and the nightly run take the run up
            logger.exception("Could not enqueue classification run %s", pk)

    transaction.on_commit(enqueue)
    return run


def run_queued(run_id: int) -> int:
    """The body of cape.tasks.classify_run: a run recorded by reclassify_later, or any run the job runtime
    requeued after its worker died (its entries found again from its kind)."""
    run = ClassificationRun.objects.select_related("organization").filter(pk=run_id).first()
    if run is None or run.status == ClassificationRun.Status.DONE:
        return 0
    params = run.params or {}
    as_of = today_eastern()
    if "entry_ids" in params:
        ids = [int(i) for i in params["entry_ids"]]
    elif "importer_ids" in params:
        ids = []
        for chunk in _chunks(sorted(int(i) for i in params.get("importer_ids", [])), 1000):
            ids += list(Entry.objects.filter(importer_id__in=chunk).values_list("pk", flat=True))
    elif run.kind == ClassificationRun.Kind.UPLOAD and run.upload_id is not None:
        ids = list(Entry.objects.filter(last_upload_id=run.upload_id).values_list("pk", flat=True))
    elif run.kind == ClassificationRun.Kind.NIGHTLY:
        as_of = run.as_of or as_of
        ids = due_entry_ids(organization=run.organization, as_of=as_of)
    else:
        ids = []
    return tracked_run(run, entry_ids=ids, as_of=as_of)


# ---------------------------------------------------------------- nightly: only what can change
@dataclass(frozen=True)
class NightlyResult:
    touched: int
    total: int


def due_entry_ids(*, organization: Organization, as_of: date) -> list[int]:
    """Entries (of the importers the organisation sees) whose stored result could differ on ``as_of``: never
    classified, another ruleset, past their stable_until, computed for a later date, or whose ACH refund
    route changed since."""
    visible = importers_for(organization)
    entries = Entry.objects.filter(importer__in=visible)
    ids = set(entries.filter(classification__isnull=True).values_list("pk", flat=True))
    stored = Classification.objects.filter(importer__in=visible)
    ids.update(
        stored.filter(
            ~Q(ruleset=rules.RULESET) | Q(stable_until__lte=as_of) | Q(as_of__gt=as_of)
            # facts changed since (an upload whose classify task never ran, an edit by hand)
            | Q(entry__updated_at__gt=F("computed_at"))
        ).values_list("entry_id", flat=True)
    )
    importer_ids = set(stored.values_list("importer_id", flat=True).distinct())
    if importer_ids:
        routed = _routed_importers(importer_ids)
        marker = "|no_ach_refund|"
        ids.update(stored.filter(importer_id__in=routed, reasons_text__contains=marker).values_list("entry_id", flat=True))
        ids.update(
            stored.exclude(importer_id__in=routed)
            .exclude(path=rules.Path.NOT_ELIGIBLE)
            .exclude(reasons_text__contains=marker)
            .values_list("entry_id", flat=True)
        )
    return sorted(ids)


def classify_organization(*, organization: Organization, as_of: date) -> NightlyResult:
    """The nightly run for one organisation: reclassify only the entries (of the importers it sees) whose
    result can change. Entries shared with another organisation are done by whichever runs first; the
    other then finds nothing due."""
    ids = due_entry_ids(organization=organization, as_of=as_of)
    total = Entry.objects.filter(importer__in=importers_for(organization)).count()
    touched = 0
    if ids:
        run = ClassificationRun(organization=organization, kind=ClassificationRun.Kind.NIGHTLY)
        touched = tracked_run(run, entry_ids=ids, as_of=as_of)
    return NightlyResult(touched=touched, total=total)


# ---------------------------------------------------------------- facts users set
PROTEST_STATUSES = {c.value for c in Entry.ProtestStatus}


def entry_facts_update(
    *,
    entry: Entry,
    user: Any,
    organization: Organization,
    type09_filed: bool | None = None,
    drawback: bool | None = None,
    protest_status: str | None = None,
    importer_is_corporate: bool | None = None,
    as_of: date | None = None,
) -> Classification | None:
    """Set facts the ES-003 lacks (each change audited, in the acting organisation's log, and shown with who
    set it on the entry page of every organisation that sees the entry), then reclassify what they affect:
    the entry, or every entry of the importer when the corporate status (interest) changes. The entry is
    the importer's, shared: a fact one organisation sets is the fact for all."""
    if not importers_for(organization).filter(pk=entry.importer_id).exists():
        raise ServiceError("This entry belongs to an importer this organisation does not serve.")
    if protest_status is not None and protest_status not in PROTEST_STATUSES:
        raise ServiceError(f"Unknown protest status {protest_status!r}.", field="protest_status")
    as_of = as_of or today_eastern()
    importer_changed = False
    with transaction.atomic():
        locked = Entry.objects.select_for_update().get(pk=entry.pk)
        changed: dict[str, tuple[Any, Any]] = {}
        for name, value in (("type09_filed", type09_filed), ("drawback", drawback), ("protest_status", protest_status)):
            if value is not None and getattr(locked, name) != value:
                changed[name] = (getattr(locked, name), value)
                setattr(locked, name, value)
        if changed:
            locked.updated_at = timezone.now()
            extra = []
            if "protest_status" in changed:
                locked.protest_set_by_user = True  # the report's status no longer overrides it (rules.md "Inputs")
                extra.append("protest_set_by_user")
            locked.save(update_fields=[*changed, *extra, "updated_at"])
            for name, (before, after) in changed.items():
                audit(action="entry.fact_set", user=user, organization=organization, obj=locked,
                      entry_number=locked.entry_number, fact=name, old=before, new=after)
        if importer_is_corporate is not None:
            importer = Importer.objects.select_for_update().get(pk=locked.importer_id)
            if importer.is_corporate != importer_is_corporate and importer.owner_id not in (None, organization.pk):
                # The importer's own organisation keeps its company facts; a broker may set them only
                # for a client that has not onboarded (no owner yet).
                raise ServiceError("Only the importer's own organisation can change whether it is a corporation.",
                                   field="importer_is_corporate")
            if importer.is_corporate != importer_is_corporate:
                audit(action="importer.corporate_set", user=user, organization=organization, obj=importer,
                      old=importer.is_corporate, new=importer_is_corporate)
                importer.is_corporate = importer_is_corporate
                importer.save(update_fields=["is_corporate"])
                importer_changed = True
        if importer_changed:
            classify_entries(importer_ids=[locked.importer_id], as_of=as_of)
        else:
            classify_entries(entry_ids=[locked.pk], as_of=as_of)
    entry.refresh_from_db()
    return Classification.objects.filter(entry_id=entry.pk).first()


# ---------------------------------------------------------------- the daily digest
def digest_send(*, organization: Organization, as_of: date, since: datetime) -> int:
    """Email the deadline digest to every member who has not opted out (Membership.email_digest).
    Returns the number of messages sent; nothing is sent when there is nothing to say."""
    from django.conf import settings
    from django.core.mail import EmailMultiAlternatives
    from django.template.loader import render_to_string

    recipients = sorted(
        {
            m.user.email
            for m in Membership.objects.filter(organization=organization, email_digest=True).select_related("user")
            if m.user.is_active and m.user.email
        }
    )
    if not recipients:
        return 0
    digest = digest_for(organization, as_of=as_of, since=since)
    # The sections of the apps above (protests: unfiled protests within 30 days, CIT limits within 90).
    sections: dict[str, Any] = {}
    for _receiver, answer in digest_sections.send(sender=Organization, organization=organization, as_of=as_of):
        sections.update(cast("dict[str, Any]", answer) or {})  # the receiver's answer
    if digest.is_empty and all(section.is_empty for section in sections.values()):
        return 0
    base_url = getattr(settings, "SITE_URL", "").rstrip("/")
    context = {"digest": digest, "base_url": base_url, "organization": organization, **sections,
               "ruleset": rules.RULESET}
    subject = (
        f"RefundReady deadlines for {organization.name}, {as_of:%B} {as_of.day}: "
        f"{digest.cape_closing_count} CAPE window(s) closing, {digest.protest_due_count} protest deadline(s)"
    )
    text = render_to_string("email/digest.txt", context)
    html = render_to_string("email/digest.html", context)
    sent = 0
    for address in recipients:  # one message each: members never see each other's addresses
        message = EmailMultiAlternatives(subject, text, None, [address])
        message.attach_alternative(html, "text/html")
        sent += message.send()
    audit(action="digest.sent", organization=organization, recipients=len(recipients), as_of=as_of.isoformat(),
          cape_closing=digest.cape_closing_count, protest_due=digest.protest_due_count)
    return sent
