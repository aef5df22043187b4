"""CAPE declarations: selectors (reads scoped to the acting organisation) and services (writes).

Lifecycle (shared/domain/README.md §6): draft → exported (downloaded after preflight) → submitted
(the user records the date and CAPE claim number) → accepted / accepted_with_errors / rejected /
failed_validation. CBP's Claim Details CSV sets each entry's outcome; rejected entries go back to
their path with ``cape_rejected:<error>`` (the classification engine reads DeclarationEntry, rules.md
"Extra reasons"). Every state change is audited.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import Importer, ImporterGrant, Organization
from accounts.selectors import importers_for
from accounts.services import ServiceError, audit
from ach.models import NotifyParty
from ach.selectors import importer_ids_with_refund_route
from cape.claims import ReportFileError, needs_psc, parse_claim_details
from cape.csvfile import DeclarationFileError, render_declaration_csv, sha256_hex, split_for_declarations
from cape.models import CAPE_PATHS, Classification, Declaration, DeclarationEntry, Path
from cape.preflight import EntryFacts, NotifyPartyFacts, PreflightInput, notify_party_problems, run_preflight
from entries.models import Entry

S = Declaration.Status
O = DeclarationEntry.Outcome  # noqa: E741
# An entry on one of these (and not rejected there) is taken: CBP has it or will have it.
FILED_STATUSES = (S.SUBMITTED, S.ACCEPTED, S.ACCEPTED_WITH_ERRORS)
# Drafts and exported files also hold their entries until discarded (no duplicate across declarations).
LIVE_STATUSES = (S.DRAFT, S.EXPORTED, *FILED_STATUSES)
ACCEPTED_STATUSES = (S.ACCEPTED, S.ACCEPTED_WITH_ERRORS)
BATCH = 5000


def today() -> date:
    """Today in U.S. Eastern time (settings.TIME_ZONE is America/New_York; CBP dates are Eastern)."""
    return timezone.localdate()


# =============================================================================== selectors
def declarations_for(organization: Organization | None) -> QuerySet[Declaration]:
    """The organisation's declarations whose importers it may see now (accounts.selectors.importers_for).

    A broker's declaration holds the importer's entries and, once checked, the importer's ACH and 4811
    facts; when the owner revokes the broker's grant, the declarations of that importer disappear with
    it (pages, API, downloads, lifecycle and preflight all read through here), as its entries do. A
    declaration mixing several importers is hidden as soon as one of them is no longer visible."""
    if organization is None:
        return Declaration.objects.none()
    visible = importers_for(organization)
    qs = Declaration.objects.filter(Q(importer__in=visible) | Q(importer__isnull=True), organization=organization)
    # A one-importer file is decided by its importer column. A mixed one (importer null) by its entries, but
    # only against the importers the organisation has lost: an organisation reaches an importer by owning it
    # (ownership is only ever given, never moved) or through a grant (or by creating it for a client), so the
    # importers it no longer sees are those with a grant to it or created by it that importers_for leaves
    # out; usually none, and then no entry is read. Checking every entry of every mixed file against the
    # visible importers instead grew with the organisation's entries (README, Benchmarks: "Where the time
    # goes"); the rows of the mixed files are read once, not per file.
    lost = list(
        Importer.objects.filter(Q(grants__organization=organization) | Q(created_by=organization))
        .exclude(pk__in=visible).values_list("pk", flat=True).distinct()
    )
    if lost and Declaration.objects.filter(organization=organization, importer__isnull=True).exists():
        # Uncorrelated, so computed once (a correlated EXISTS was planned as a merge over every entry, per file:
        # two seconds in the case above).
        on_lost = DeclarationEntry.objects.filter(entry__importer_id__in=lost,
                                                  declaration__organization=organization,
                                                  declaration__importer__isnull=True).values("declaration_id")
        qs = qs.exclude(pk__in=on_lost)
    return qs.select_related("importer", "created_by")


def eligible_classifications(
    organization: Organization,
    *,
    importer_ids: Iterable[int] | None = None,
    entry_ids: Iterable[int] | None = None,
    entry_numbers: Iterable[str] | None = None,
    paths: Iterable[str] | None = None,
    urgent_only: bool = False,
) -> QuerySet[Classification]:
    """Entries on a CAPE path (cape_phase1 / cape_phase2) that the organisation may declare."""
    wanted = [p for p in (paths or CAPE_PATHS) if p in CAPE_PATHS] or list(CAPE_PATHS)
    # The organisation's importers as a list of ids (a handful to a few thousand): as a subquery the
    # planner re-checked grants and ownership once per classification row (a million times in a large build).
    qs = Classification.objects.filter(
        path__in=wanted, importer_id__in=list(importers_for(organization).values_list("pk", flat=True))
    )
    if importer_ids is not None:
        qs = qs.filter(importer_id__in=list(importer_ids))
    if entry_ids is not None:
        qs = qs.filter(entry_id__in=list(entry_ids))
    if entry_numbers is not None:
        qs = qs.filter(entry__entry_number__in=list(entry_numbers))
    if urgent_only:
        qs = qs.filter(urgent=True)
    return qs


def declaration_items(declaration: Declaration) -> QuerySet[DeclarationEntry]:
    return declaration.items.select_related("entry", "entry__importer").order_by("position")


def taken_entries(organization: Organization, importer_ids: Iterable[int] | None = None,
                  statuses: Sequence[str] = LIVE_STATUSES) -> dict[int, tuple[int, str, str]]:
    """entry id → (declaration id, name, status) for entries on a live declaration of this organisation
    (``statuses``: which declarations count; by default every live one, drafts included)."""
    qs = DeclarationEntry.objects.filter(declaration__organization=organization, declaration__status__in=list(statuses)).exclude(
        outcome=O.REJECTED
    )
    if importer_ids is not None:
        qs = qs.filter(entry__importer_id__in=list(importer_ids))
    return {eid: (did, name, status) for eid, did, name, status in
            qs.values_list("entry_id", "declaration_id", "declaration__name", "declaration__status").iterator(chunk_size=20000)}


def _orphaned_draft() -> Q:
    """A DeclarationEntry on a draft of an organisation that no longer manages the entry's importer (the
    owner revoked its grant). The draft was never downloaded (the first download makes it exported), so CBP
    cannot have it, and its organisation can no longer see or discard it (declarations_for): it must not
    keep the owner, or another broker, from declaring the entry. Exported and filed ones still count."""
    active_grant = ImporterGrant.objects.filter(importer_id=OuterRef("entry__importer_id"),
                                                organization_id=OuterRef("declaration__organization_id"),
                                                revoked_at__isnull=True)
    return (Q(declaration__status=S.DRAFT) & ~Q(entry__importer__owner_id=F("declaration__organization_id"))  # type: ignore[return-value]  # Q & ~Exists is a Q
            & ~Exists(active_grant))


def taken_elsewhere(organization: Organization, importer_ids: Iterable[int],
                    statuses: Sequence[str] = LIVE_STATUSES) -> dict[str, str]:
    """entry number → a description, for entries another organisation managing the same importer
    (its owner or its broker) already put on a live declaration: CBP would see a duplicate."""
    qs = (DeclarationEntry.objects.filter(declaration__status__in=list(statuses), entry__importer_id__in=list(importer_ids))
          .exclude(declaration__organization=organization).exclude(outcome=O.REJECTED).exclude(_orphaned_draft()))
    return {n: f"{name} (filed by {org})" for n, name, org in
            qs.values_list("entry__entry_number", "declaration__name", "declaration__organization__name")}


def latest_rejections(entry_ids: Iterable[int], exclude_declaration: Declaration | None = None) -> dict[int, DeclarationEntry]:
    """The most recent rejection of each entry (if any)."""
    qs = DeclarationEntry.objects.filter(entry_id__in=list(entry_ids), outcome=O.REJECTED).select_related("entry", "declaration")
    if exclude_declaration is not None:
        qs = qs.exclude(declaration=exclude_declaration)
    latest: dict[int, DeclarationEntry] = {}
    for item in qs.order_by("outcome_at", "pk"):
        latest[item.entry_id] = item
    return latest


def psc_pending(item: DeclarationEntry) -> bool:
    """A rejection a post-summary correction fixes, with no sign the correction was made: neither
    marked corrected by a user nor newer ES-003 data loaded for the entry since the rejection."""
    if not needs_psc(item.error_text) or item.corrected_at is not None:
        return False
    return not (item.outcome_at and item.entry.updated_at and item.entry.updated_at > item.outcome_at)


def _rejected_items(organization: Organization) -> QuerySet[DeclarationEntry]:
    """Entries rejected on a declaration (the organisation's or another's: the CAPE history is the entry's),
    of importers it may see now."""
    return DeclarationEntry.objects.filter(outcome=O.REJECTED, entry__importer__in=importers_for(organization))


def rejected_entries_ready(organization: Organization) -> list[DeclarationEntry]:
    """Entries rejected on a declaration, not on a live one since, back on a CAPE path and (for a
    PSC error) corrected: the ones a refile declaration can take."""
    rejected_ids = set(_rejected_items(organization).values_list("entry_id", flat=True))
    if not rejected_ids:
        return []
    taken = set(taken_entries(organization))
    on_path = set(eligible_classifications(organization, entry_ids=rejected_ids).values_list("entry_id", flat=True))
    latest = latest_rejections(rejected_ids - taken)
    return [item for eid, item in sorted(latest.items(), key=lambda kv: kv[1].entry.entry_number)
            if eid in on_path and not psc_pending(item)]


def rejected_entries_waiting(organization: Organization) -> list[DeclarationEntry]:
    """Rejected entries still waiting for a post-summary correction."""
    rejected_ids = set(_rejected_items(organization).values_list("entry_id", flat=True))
    taken = set(taken_entries(organization))
    return [item for item in latest_rejections(rejected_ids - taken).values() if psc_pending(item)]


# =============================================================================== building
@dataclass
class LeftOut:
    entry_id: int
    entry_number: str
    reason: str


@dataclass
class BuildResult:
    declarations: list[Declaration] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    considered: int = 0
    importer_ids: set[int] = field(default_factory=set)  # of every candidate entry

    @property
    def entry_count(self) -> int:
        return sum(d.entry_count for d in self.declarations)


def _importer_label(importer: Importer | None) -> str:
    if importer is None:
        return "Mixed importers"
    return importer.name or importer.ir_display


@dataclass
class DeclarationPlan:
    """What a build would write: per group (an importer id, or None when mixed) its chunks of at most
    9,999 (entry id, entry number, IEEPA duty) rows in file order, and the entries left out."""

    chunks: dict[int | None, list[list[tuple[int, str, Decimal]]]] = field(default_factory=dict)
    importers: dict[int, Importer] = field(default_factory=dict)
    left_out: list[LeftOut] = field(default_factory=list)
    considered: int = 0
    importer_ids: set[int] = field(default_factory=set)  # of every candidate entry


def declaration_plan(
    *,
    organization: Organization,
    importer_ids: Sequence[int] | None = None,
    entry_ids: Sequence[int] | None = None,
    entry_numbers: Sequence[str] | None = None,
    paths: Sequence[str] | None = None,
    urgent_only: bool = False,
    mixed: bool = False,
    taken_statuses: Sequence[str] = LIVE_STATUSES,
) -> DeclarationPlan:
    """Select, group and split the entries for declarations without writing anything.

    One importer per file unless ``mixed`` (README §6: brokers may mix IORs; most keep one per file);
    at most 9,999 entries each, most urgent CAPE windows first. Entries already on a declaration whose
    status is in ``taken_statuses`` (and not rejected there) are left out and listed.
    """
    if importer_ids is not None:
        allowed = set(importers_for(organization).filter(pk__in=list(importer_ids)).values_list("pk", flat=True))
        unknown = [i for i in importer_ids if i not in allowed]
        if unknown:
            raise ServiceError("One or more importers are not managed by this organisation.", field="importers")
    candidates_qs = (
        eligible_classifications(organization, importer_ids=importer_ids, entry_ids=entry_ids, entry_numbers=entry_numbers,
                                 paths=paths, urgent_only=urgent_only)
        # Window dates first, entries without a window (unliquidated) last, on every database: PostgreSQL sorts
        # NULL last by default, SQLite first, and the split over several files must be the same on both.
        .order_by("importer_id", F("cape_window_closes").asc(nulls_last=True), "entry__entry_number")
        .values_list("entry_id", "entry__entry_number", "importer_id", "ieepa_duty")
    )
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Sort a million candidates in memory rather than in temporary files (the default work_mem is
            # 4 MB); this transaction only reads.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem = '256MB'")
        if connection.vendor == "postgresql":
            # The compiled query straight through the cursor: psycopg already gives plain tuples of the
            # right types (numeric as Decimal), and a million rows skip the ORM's per-row iteration.
            sql, params = candidates_qs.query.sql_with_params()
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                candidates = [tuple(row) for row in cursor.fetchall()]
        else:  # SQLite stores decimals as REAL: the ORM's converters make them Decimal again
            candidates = list(candidates_qs)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem TO DEFAULT")  # in case an outer transaction goes on
    plan = DeclarationPlan(considered=len(candidates))
    if entry_numbers is not None:
        found = {c[1] for c in candidates}
        missing = [n for n in entry_numbers if n not in found]
        # Why each is not a candidate, in words: the entry's own path (one record, whoever filed it).
        entry_paths = dict(Classification.objects.filter(
            importer_id__in=list(importers_for(organization).values_list("pk", flat=True)),
            entry__entry_number__in=missing).values_list("entry__entry_number", "path")) if missing else {}
        for n in missing:
            if entry_paths.get(n) == Path.FILED:
                reason = "already filed in CAPE: CBP accepted it"
            elif n in entry_paths:
                reason = f"on the {Path(entry_paths[n]).label} path today, not a CAPE path"
            else:
                reason = "not an entry of this organisation's importers on a CAPE path today"
            plan.left_out.append(LeftOut(0, n, reason))
    if not candidates:
        return plan
    importer_set = {c[2] for c in candidates}
    plan.importer_ids = importer_set
    taken = taken_entries(organization, importer_set, taken_statuses)
    elsewhere = taken_elsewhere(organization, importer_set, taken_statuses)
    groups: dict[int | None, list[tuple[int, str, Decimal]]] = defaultdict(list)
    for entry_id, number, importer_id, duty in candidates:
        if entry_id in taken:
            _, dname, dstatus = taken[entry_id]
            plan.left_out.append(LeftOut(entry_id, number, f"already on {S(dstatus).label.lower()} declaration {dname}"))
        elif number in elsewhere:
            plan.left_out.append(LeftOut(entry_id, number, f"already on declaration {elsewhere[number]}"))
        else:
            groups[None if mixed else importer_id].append((entry_id, number, duty))
    plan.importers = {i.pk: i for i in Importer.objects.filter(pk__in=[k for k in groups if k is not None])}
    plan.chunks = {key: split_for_declarations(rows) for key, rows in groups.items()}  # type: ignore[arg-type,misc]  # the None key: mixed importers
    return plan


def declaration_build(
    *,
    organization: Organization,
    user: Any = None,
    importer_ids: Sequence[int] | None = None,
    entry_ids: Sequence[int] | None = None,
    entry_numbers: Sequence[str] | None = None,
    paths: Sequence[str] | None = None,
    urgent_only: bool = False,
    mixed: bool = False,
    name: str = "",
    refiled_from: Declaration | None = None,
    run_checks: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
) -> BuildResult:
    """Build draft declarations from entries on a CAPE path (selection and split: ``declaration_plan``).

    Entries already on a live declaration (draft, exported, submitted or accepted, and not rejected
    there) are left out and listed.

    ``progress(done, total, message)``, when given, is called after the plan and after each declaration
    is written and each is checked; ``total`` is twice the entries to write (written, then checked).
    The writes are one transaction, so a callback that stores progress must do so on its own connection
    to be seen before the commit (cape.build_jobs).
    """
    plan = declaration_plan(organization=organization, importer_ids=importer_ids, entry_ids=entry_ids,
                            entry_numbers=entry_numbers, paths=paths, urgent_only=urgent_only, mixed=mixed)
    result = BuildResult(considered=plan.considered, left_out=plan.left_out, importer_ids=plan.importer_ids)
    if not plan.considered:
        return result
    to_write = sum(len(part) for chunks in plan.chunks.values() for part in chunks)
    files = sum(len(chunks) for chunks in plan.chunks.values())
    total, done = 2 * to_write, 0
    if progress is not None:
        progress(done, total, f"Writing {files} declaration{'' if files == 1 else 's'} ({to_write:,} entries)")
    stamp = today().isoformat()
    now = timezone.now()
    with transaction.atomic():
        for key, chunks in plan.chunks.items():
            importer = plan.importers.get(key) if key is not None else None
            for n, part in enumerate(chunks, start=1):
                numbers = [r[1] for r in part]
                try:
                    data = render_declaration_csv(numbers)
                except DeclarationFileError as exc:
                    raise ServiceError(str(exc), field="entries") from None
                label = name.strip() or f"{_importer_label(importer)} · CAPE {stamp}"
                decl = Declaration.objects.create(
                    organization=organization, importer=importer,
                    name=(label + (f" · {n} of {len(chunks)}" if len(chunks) > 1 else ""))[:120],
                    entry_count=len(part), ieepa_duty=sum((r[2] for r in part), Decimal("0.00")),
                    file_bytes=data, sha256=sha256_hex(data), created_by=user if getattr(user, "is_authenticated", False) else None,
                    refiled_from=refiled_from, created_at=now,
                )
                _insert_items(decl.pk, [r[0] for r in part])
                audit(action="declaration.build", user=user, organization=organization, obj=decl, entries=len(part),
                      sha256=decl.sha256, importer=importer.pk if importer else None, mixed=importer is None,
                      refiled_from=refiled_from.pk if refiled_from else None)
                result.declarations.append(decl)
                if progress is not None:
                    done += len(part)
                    progress(done, total, f"Wrote declaration {len(result.declarations)} of {files}")
        if result.left_out:
            audit(action="declaration.build_left_out", user=user, organization=organization, count=len(result.left_out),
                  sample=[f"{x.entry_number}: {x.reason}" for x in result.left_out[:20]])
    if run_checks:
        for n, decl in enumerate(result.declarations, start=1):
            declaration_preflight(declaration=decl, user=user)
            if progress is not None:
                done += decl.entry_count
                progress(done, total, f"Checked declaration {n} of {files} (preflight)")
    return result


def _insert_items(declaration_id: int, entry_ids: list[int]) -> None:
    """DeclarationEntry rows in bulk without model instances (the declaration build's hot path:
    1,000,000 rows in a few seconds). COPY on PostgreSQL, executemany elsewhere."""
    table = DeclarationEntry._meta.db_table
    pending = DeclarationEntry.Outcome.PENDING.value
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor
            # COPY text built in one piece (ints and a fixed word: nothing to escape), ten times cheaper
            # than a write_row() call per entry.
            tail = f"\t{pending}\t\n"
            text = "".join([f"{declaration_id}\t{entry_id}\t{position}{tail}" for position, entry_id in enumerate(entry_ids, start=1)])
            with raw.copy(f"COPY {table} (declaration_id, entry_id, position, outcome, error_text) FROM STDIN") as copy:
                copy.write(text)
        else:
            cursor.executemany(
                f"INSERT INTO {table} (declaration_id, entry_id, position, outcome, error_text) VALUES (%s, %s, %s, %s, %s)",
                [(declaration_id, entry_id, position, pending, "") for position, entry_id in enumerate(entry_ids, start=1)],
            )


def declaration_build_refile(*, organization: Organization, user: Any = None, mixed: bool = False) -> BuildResult:
    """A new declaration from rejected entries that have since been corrected (README §6: a PSC, then a
    new declaration). Entries still waiting for a correction stay out."""
    ready = rejected_entries_ready(organization)
    if not ready:
        raise ServiceError("No rejected entries are ready to declare again (corrected and back on a CAPE path).")
    origins = {item.declaration_id for item in ready}
    origin = ready[0].declaration if len(origins) == 1 else None
    return declaration_build(organization=organization, user=user, entry_ids=[item.entry_id for item in ready], mixed=mixed,
                             refiled_from=origin)


@transaction.atomic
def declaration_entries_mark_corrected(*, organization: Organization, entry_ids: Sequence[int], user: Any = None) -> int:
    """The user confirms the post-summary corrections for these rejected entries were filed in ACE."""
    items = _rejected_items(organization).filter(entry_id__in=list(entry_ids), corrected_at__isnull=True)
    numbers = list(items.values_list("entry__entry_number", flat=True))
    count = items.update(corrected_at=timezone.now())
    if count:
        audit(action="declaration.entries_corrected", user=user, organization=organization, entries=numbers[:200], count=count)
    return count


# =============================================================================== preflight
def _reclassify_stale(organization: Organization, rows: list[dict[str, Any]], as_of: date) -> bool:
    """Bring classifications up to as_of where they may have changed (stable_until passed)."""
    stale = [r["entry_id"] for r in rows
             if r["cl_as_of"] is not None and r["cl_as_of"] != as_of and (r["cl_stable"] is None or r["cl_stable"] <= as_of)]
    if not stale:
        return False
    from cape.classify import classify_entries  # the classification capability (issue 4)

    classify_entries(entry_ids=stale, as_of=as_of)
    return True


def _preflight_rows(declaration: Declaration) -> list[dict[str, Any]]:
    return list(
        DeclarationEntry.objects.filter(declaration=declaration).order_by("position").values(  # type: ignore[arg-type]  # rows are dicts
            "entry_id",
            number=F("entry__entry_number"),
            importer_id=F("entry__importer_id"),
            importer_name=F("entry__importer__name"),
            protest=F("entry__protest_status"),
            type09=F("entry__type09_filed"),
            path=F("entry__classification__path"),
            passed=F("entry__classification__deadline_passed"),
            cl_as_of=F("entry__classification__as_of"),
            cl_stable=F("entry__classification__stable_until"),
        )
    )


def declaration_preflight(*, declaration: Declaration, user: Any = None, as_of: date | None = None) -> dict[str, Any]:
    """Run every check on the declaration's stored bytes and entries; store and return the result."""
    as_of = as_of or today()
    organization = declaration.organization
    rows = _preflight_rows(declaration)
    if _reclassify_stale(organization, rows, as_of):
        rows = _preflight_rows(declaration)
    numbers = [r["number"] for r in rows]
    importer_ids = {r["importer_id"] for r in rows}
    other: dict[str, list[str]] = defaultdict(list)
    dup_qs = (DeclarationEntry.objects.filter(entry__entry_number__in=numbers, declaration__status__in=LIVE_STATUSES,
                                              entry__importer_id__in=list(importer_ids))
              .exclude(declaration=declaration).exclude(outcome=O.REJECTED).exclude(_orphaned_draft()))
    for number, name, org_id, org_name in dup_qs.values_list("entry__entry_number", "declaration__name",
                                                             "declaration__organization_id", "declaration__organization__name"):
        other[number].append(name if org_id == organization.pk else f"{name} (filed by {org_name})")
    psc = {eid: item.error_text for eid, item in latest_rejections([r["entry_id"] for r in rows], declaration).items()
           if psc_pending(item)}
    with_route = importer_ids_with_refund_route(importer_ids)
    notify_unset = notify_party_problems([
        NotifyPartyFacts(*row) for row in NotifyParty.objects.filter(importer_id__in=importer_ids).values_list(
            "importer_id", "name", "on_ace_profile", "in_box_28", "ach_enrolled")
    ])
    facts = [
        EntryFacts(
            entry_number=r["number"], importer_id=r["importer_id"], importer_name=r["importer_name"] or "",
            path=r["path"], deadline_passed=bool(r["passed"]),
            protest_open=r["protest"] in (Entry.ProtestStatus.OPEN, Entry.ProtestStatus.SUSPENDED),
            type09_filed=bool(r["type09"]), psc_pending_error=psc.get(r["entry_id"], ""),
        )
        for r in rows
    ]
    report = run_preflight(PreflightInput(
        file_bytes=bytes(declaration.file_bytes or b""), stored_sha256=declaration.sha256, entries=facts, as_of=as_of,
        cape_paths=[str(p) for p in CAPE_PATHS], other_declarations=dict(other),
        importers_without_route=importer_ids - with_route, notify_party_unset=notify_unset,
        block_on_warnings=organization.block_on_preflight_warnings,
    ))
    with transaction.atomic():
        Declaration.objects.filter(pk=declaration.pk).update(preflight=report)
        declaration.preflight = report
        audit(action="declaration.preflight", user=user, organization=organization, obj=declaration, ok=report["ok"],
              blocking=report["blocking"], failed=[c["code"] for c in report["checks"] if not c["passed"]])
    return report


def preflight_passing_entries(declaration: Declaration, check: dict[str, Any]) -> list[str]:
    failing = {f["entry_number"] for f in check.get("failing", [])}
    if not check.get("passed") and not failing:
        return []
    return [n for n in declaration.items.order_by("position").values_list("entry__entry_number", flat=True) if n not in failing]


# =============================================================================== lifecycle
def _lock(declaration: Declaration) -> Declaration:
    return Declaration.objects.select_for_update().get(pk=declaration.pk)


def declaration_export(*, declaration: Declaration, user: Any = None) -> bytes:
    """The exact stored bytes, after a fresh preflight; the first download moves draft → exported."""
    if declaration.status not in (S.DRAFT, S.EXPORTED):
        if declaration.file_bytes:
            return bytes(declaration.file_bytes)  # a filed declaration's file stays downloadable, unchanged
        raise ServiceError("This declaration has no file.")
    report = declaration_preflight(declaration=declaration, user=user)
    if report["blocking"]:
        failed = ", ".join(c["name"] for c in report["checks"] if not c["passed"] and (c["level"] == "error" or report["block_on_warnings"]))
        raise ServiceError(f"Preflight failed: {failed}. Fix these before downloading.")
    with transaction.atomic():
        locked = _lock(declaration)
        data = bytes(locked.file_bytes or b"")
        if sha256_hex(data) != locked.sha256:
            raise ServiceError("The stored file does not match its SHA-256; rebuild the declaration.")
        if locked.status == S.DRAFT:
            locked.status = S.EXPORTED
            locked.exported_at = timezone.now()
            locked.save(update_fields=["status", "exported_at"])
            audit(action="declaration.export", user=user, organization=locked.organization, obj=locked, sha256=locked.sha256,
                  bytes=len(data))
        else:
            audit(action="declaration.download", user=user, organization=locked.organization, obj=locked, sha256=locked.sha256)
        declaration.status, declaration.exported_at = locked.status, locked.exported_at
    return data


def declaration_record_submission(*, declaration: Declaration, submitted_on: date, claim_number: str, user: Any = None) -> Declaration:
    """The user filed the file in the ACE Portal CAPE tab and records the date and CAPE claim number."""
    claim = "".join(claim_number.split())
    if not claim.isdigit():
        raise ServiceError("A CAPE claim/declaration number is digits only (for example 100000241223).", field="claim_number")
    if submitted_on > today():
        raise ServiceError("The submission date cannot be in the future.", field="submitted_on")
    with transaction.atomic():
        locked = _lock(declaration)
        if locked.status not in (S.EXPORTED, S.SUBMITTED):
            raise ServiceError(f"Only an exported declaration can be recorded as submitted (this one is {locked.get_status_display().lower()}).")
        if locked.exported_at and submitted_on < timezone.localtime(locked.exported_at).date():
            raise ServiceError("The submission date is before the file was downloaded.", field="submitted_on")
        clash = Declaration.objects.filter(organization=locked.organization, claim_number=claim).exclude(pk=locked.pk).first()
        if clash is not None:
            raise ServiceError(f"Claim number {claim} is already recorded on {clash.name}.", field="claim_number")
        old = (locked.status, locked.claim_number, locked.submitted_on)
        locked.status, locked.claim_number, locked.submitted_on = S.SUBMITTED, claim, submitted_on
        locked.save(update_fields=["status", "claim_number", "submitted_on"])
        audit(action="declaration.submit", user=user, organization=locked.organization, obj=locked, claim_number=claim,
              submitted_on=submitted_on.isoformat(), previous=[old[0], old[1], old[2].isoformat() if old[2] else None])
    _reclassify(locked.organization, list(locked.items.values_list("entry_id", flat=True)))
    return locked


def declaration_record_outcome(*, declaration: Declaration, status: str, on: date | None = None, error_text: str = "",
                               user: Any = None) -> Declaration:
    """A whole-file outcome with no Claim Details: failed initial validation, or rejected outright."""
    if status not in (S.FAILED_VALIDATION, S.REJECTED):
        raise ServiceError("Record accepted outcomes by importing CBP's Claim Details CSV.", field="status")
    with transaction.atomic():
        locked = _lock(declaration)
        if locked.status not in (S.EXPORTED, S.SUBMITTED):
            raise ServiceError("Only an exported or submitted declaration can fail or be rejected.")
        locked.status = status
        locked.save(update_fields=["status"])
        now = timezone.now()
        if status == S.REJECTED:
            locked.items.filter(outcome=O.PENDING).update(outcome=O.REJECTED, error_text=error_text[:200], outcome_at=now)
        audit(action="declaration.outcome", user=user, organization=locked.organization, obj=locked, status=status,
              on=(on or today()).isoformat(), error=error_text[:200] or None)
    _reclassify(locked.organization, list(locked.items.values_list("entry_id", flat=True)))
    return locked


def _reclassify(organization: Organization, entry_ids: list[int]) -> None:
    if not entry_ids:
        return
    from cape.classify import classify_entries  # the classification capability (issue 4)

    classify_entries(entry_ids=entry_ids, as_of=today())


@dataclass
class ClaimDetailsResult:
    declaration: Declaration
    accepted: int = 0
    rejected: int = 0
    unchanged: int = 0
    unknown: list[dict[str, Any]] = field(default_factory=list)  # rows whose entry is not on this declaration
    missing: list[str] = field(default_factory=list)  # entries on the declaration absent from the file
    problems: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""

    @property
    def matched(self) -> int:
        """Rows of the file that name an entry on this declaration."""
        return self.accepted + self.rejected

    @property
    def nothing_matched(self) -> bool:
        return self.matched == 0

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.declaration.status, "accepted": self.accepted, "rejected": self.rejected,
                "unchanged": self.unchanged, "matched": self.matched, "nothing_matched": self.nothing_matched,
                "message": self.message, "unknown": self.unknown, "missing": self.missing, "problems": self.problems}


def declaration_import_claim_details(*, declaration: Declaration, data: bytes, filename: str = "claim details",
                                     accepted_on: date | None = None, user: Any = None) -> ClaimDetailsResult:
    """Apply CBP's CAPE Claim Details CSV to the declaration's entries.

    Rows for entries not on this declaration are reported (``unknown``), never dropped silently;
    entries on the declaration that the file does not list stay pending (``missing``). The status
    becomes accepted (all accepted), accepted_with_errors (some rejected) or rejected (none accepted).
    A file none of whose rows names an entry of this declaration (most likely another declaration's
    Claim Details) changes nothing: the status, claim number and last import summary stay as they
    were, and the result lists every unknown entry with a message saying nothing matched.
    """
    try:
        parsed = parse_claim_details(data, filename)
    except ReportFileError as exc:
        raise ServiceError(str(exc), field="file") from None
    result = ClaimDetailsResult(declaration=declaration, problems=[p.as_dict() for p in parsed.problems])
    if not parsed.rows:
        raise ServiceError(f"{filename}: no usable rows. " + "; ".join(f"row {p.row}: {p.reason}" for p in parsed.problems[:5]),
                           field="file")
    accepted_on = accepted_on or today()
    with transaction.atomic():
        locked = _lock(declaration)
        if locked.status not in (S.EXPORTED, S.SUBMITTED, *ACCEPTED_STATUSES, S.REJECTED):
            raise ServiceError("Claim details apply to a declaration that was downloaded and filed in CAPE.")
        claims = parsed.claim_numbers
        if locked.claim_number and claims and locked.claim_number not in claims:
            raise ServiceError(
                f"{filename} is for claim number {', '.join(sorted(claims))}, but this declaration is claim {locked.claim_number}.",
                field="file")
        items = {i.entry.entry_number: i for i in locked.items.select_related("entry")}
        now = timezone.now()
        changed: list[DeclarationEntry] = []
        for row in parsed.rows:
            if locked.claim_number and row.claim_number and row.claim_number != locked.claim_number:
                result.problems.append({"file": filename, "row": row.row, "column": "CLAIM_NUMBER", "value": row.claim_number,
                                        "reason": f"another claim than this declaration's {locked.claim_number}; row skipped"})
                continue
            item = items.get(row.entry_number)
            if item is None:
                result.unknown.append({"row": row.row, "entry_number": row.entry_number, "status": row.status_raw, "error": row.error})
                continue
            error = row.error if row.outcome == O.REJECTED else ""
            if item.outcome == row.outcome and item.error_text == error:
                result.unchanged += 1
            else:
                item.outcome, item.error_text, item.outcome_at = row.outcome, error, now
                changed.append(item)
            if row.outcome == O.ACCEPTED:
                result.accepted += 1
            else:
                result.rejected += 1
        listed = {r.entry_number for r in parsed.rows}
        result.missing = [n for n in items if n not in listed]
        if result.nothing_matched:
            # Not one row is about this declaration: deciding "rejected" from it would be a guess.
            result.message = (
                f"Nothing matched: none of the {len(parsed.rows):,} row{'' if len(parsed.rows) == 1 else 's'} in "
                f"{filename} names an entry on this declaration, so its status is unchanged "
                f"({locked.get_status_display().lower()}). Check that this is the Claim Details file of "
                f"claim {locked.claim_number or '(not recorded)'}."
            )
            audit(action="declaration.claim_details_unmatched", user=user, organization=locked.organization, obj=locked,
                  file=filename, status=locked.status, unknown=len(result.unknown), problems=len(result.problems),
                  sample=[u["entry_number"] for u in result.unknown[:20]])
            result.declaration = locked
            return result
        DeclarationEntry.objects.bulk_update(changed, ["outcome", "error_text", "outcome_at"], batch_size=BATCH)
        outcomes = set(locked.items.exclude(outcome=O.PENDING).values_list("outcome", flat=True))
        if O.ACCEPTED in outcomes and O.REJECTED in outcomes:
            new_status = S.ACCEPTED_WITH_ERRORS
        elif O.ACCEPTED in outcomes:
            new_status = S.ACCEPTED
        else:
            new_status = S.REJECTED
        old_status = locked.status
        locked.status = new_status
        if new_status in ACCEPTED_STATUSES and locked.accepted_on is None:
            locked.accepted_on = accepted_on
        if not locked.claim_number and len(claims) == 1:
            locked.claim_number = next(iter(claims))
        if locked.submitted_on is None:
            locked.submitted_on = locked.accepted_on or accepted_on
        summary = result.as_dict() | {"status": new_status, "file": filename, "imported_at": now.isoformat(timespec="seconds")}
        summary["unknown"] = summary["unknown"][:500]
        summary["missing"] = summary["missing"][:500]
        summary["unknown_count"], summary["missing_count"] = len(result.unknown), len(result.missing)
        locked.outcome_summary = summary
        locked.save(update_fields=["status", "accepted_on", "claim_number", "submitted_on", "outcome_summary"])
        audit(action="declaration.claim_details_import", user=user, organization=locked.organization, obj=locked,
              file=filename, old_status=old_status, status=new_status, accepted=result.accepted, rejected=result.rejected,
              unknown=len(result.unknown), missing=len(result.missing), problems=len(result.problems))
        result.declaration = locked
    # Rejected entries return to their path with cape_rejected:<error>; accepted ones become filed. Every
    # entry of the declaration, not only the rows the file changed: the declaration's own status (accepted,
    # accepted with errors) is an input of R3 for the entries the file did not list, and a result must never
    # outlive its facts (issue 18: 7,692 accepted entries kept their CAPE path until an unrelated change).
    _reclassify(locked.organization, list(locked.items.values_list("entry_id", flat=True)))
    return result


@transaction.atomic
def declaration_discard(*, declaration: Declaration, user: Any = None) -> None:
    """Delete a declaration that CBP never saw (draft or exported), freeing its entries."""
    locked = _lock(declaration)
    if locked.status not in (S.DRAFT, S.EXPORTED):
        raise ServiceError("Only a draft or exported (not yet submitted) declaration can be discarded.")
    audit(action="declaration.discard", user=user, organization=locked.organization, obj=locked, name=locked.name,
          status=locked.status, entries=locked.entry_count, sha256=locked.sha256)
    locked.delete()
