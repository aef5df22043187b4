"""Writes: drafting protests from the protest path, and their lifecycle (every step audited).

* One importer per protest; entries whose protest deadline (liquidation + 180 days, 19 U.S.C. 1514(c)(3)) has
  not passed, ordered by deadline; the lead entry is the one with the earliest deadline (the protest is filed
  with its Center/team, CBP ACE Protest FAQ); a protest's spreadsheet stays under the ACE attachment limit
  (10 MB), so an importer with many entries gets several protests.
* An entry can be on only one open protest (exported, or filed and not decided): exporting and filing lock
  the entries' rows, then look for another open protest holding any of them, so two people exporting two
  drafts that share an entry cannot both succeed.
* Filing sets the entries' protest status to open with CBP's protest number, as a person's statement (rules.md
  "Inputs": a user-set protest status wins over the report's), and reclassifies them at once (rule R5).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, cast

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Importer, Organization
from accounts.selectors import importers_for
from accounts.services import ServiceError, audit
from cape.classify import classify_entries
from entries.models import Entry, TariffLine
from protests.documents import (
    SPREADSHEET_BUDGET,
    ProtestNumberError,
    line_bytes,
    parse_protest_number,
    split_by_size,
)
from protests.exports import render_spreadsheets
from protests.models import Protest, ProtestEntry, ProtestReason
from protests.selectors import OPEN_STATUSES, protest_candidates, reason_for, sheet_lines, taken_entries
from refundready.dates import today_eastern

ZERO = Decimal("0.00")
S = Protest.Status
D = Protest.Decision
MAX_REASON = 20_000
# What a decided protest means for its entries' protest status (rules.md "Inputs": none/open/suspended/denied/
# approved). A protest allowed in part is recorded as denied: what CBP did not allow is what is left to contest,
# at the CIT within 180 days of the denial "in whole or in part" (28 U.S.C. 2636(a)).
DECISION_STATUS = {D.ALLOWED: Entry.ProtestStatus.APPROVED, D.DENIED: Entry.ProtestStatus.DENIED,
                   D.PARTLY: Entry.ProtestStatus.DENIED}


def today() -> date:
    return today_eastern()


def _reclassify(entry_ids: list[int]) -> None:
    """Reclassify the entries at once (rule R5 reads the protest status): one result per entry, shared by every
    organisation that sees its importer."""
    classify_entries(entry_ids=entry_ids, as_of=today())


# =============================================================================== drafting
@dataclass
class DraftResult:
    protests: list[Protest] = field(default_factory=list)
    left_out: list[dict[str, str]] = field(default_factory=list)
    left_out_count: int = 0
    considered: int = 0

    @property
    def message(self) -> str:
        n = len(self.protests)
        entries = sum(p.entry_count for p in self.protests)
        text = f"Drafted {n} protest{'' if n == 1 else 's'} covering {entries:,} entr{'y' if entries == 1 else 'ies'}"
        if self.left_out_count:
            text += f"; {self.left_out_count:,} left out (see why below)"
        return text + "."


LEFT_OUT_KEPT = 200


def protest_drafts_build(*, organization: Organization, user: Any, importer_ids: Iterable[int] | None = None,
                         as_of: date | None = None, budget: int = SPREADSHEET_BUDGET) -> DraftResult:
    """Draft protests for the importers (every visible one when None) from their protest-path entries."""
    as_of = as_of or today()
    visible = set(importers_for(organization).values_list("pk", flat=True))
    if importer_ids is not None:
        asked = {int(i) for i in importer_ids}
        if asked - visible:
            raise ServiceError("Choose importers of record your organisation files for.", field="importers")
        wanted = sorted(asked)
    else:
        wanted = sorted(visible)
    if not wanted:
        raise ServiceError("Choose at least one importer.", field="importers")
    reason = reason_for(organization)
    result = DraftResult()
    with transaction.atomic():
        # Two drafts for the same importer at once would both take its entries: one waits for the other.
        list(Importer.objects.select_for_update().filter(pk__in=wanted).order_by("pk").values_list("pk", flat=True))
        taken = taken_entries(wanted)
        picked: list[dict[str, Any]] = []
        rows = (protest_candidates(organization, wanted).order_by("importer_id", "protest_deadline", "entry__entry_number")
                .values("entry_id", "importer_id", "protest_deadline", "ieepa_duty", "estimated_interest",
                        "entry__entry_number", "entry__port_code", "entry__liquidation_date"))

        def leave_out(number: str, why: str) -> None:
            result.left_out_count += 1
            if len(result.left_out) < LEFT_OUT_KEPT:
                result.left_out.append({"entry_number": number, "reason": why})

        for r in cast("Iterator[dict[str, Any]]", rows.iterator(chunk_size=20_000)):  # values() rows
            result.considered += 1
            number = r["entry__entry_number"]
            if r["protest_deadline"] < as_of:
                leave_out(number, f"The protest deadline ({r['protest_deadline']:%m/%d/%Y}) has passed "
                                  "(180 days after liquidation, 19 U.S.C. 1514(c)(3)); the Court of International "
                                  "Trade is the way left: ask counsel.")
                continue
            holder = taken.get((r["importer_id"], number))
            if holder is not None:
                pid, org_id = holder
                leave_out(number, f"Already on protest {pid}." if org_id == organization.pk
                          else "Already on a protest of another organisation that files for this importer.")
                continue
            picked.append(r)
        lines = sheet_lines([{"id": r["entry_id"], "entry_number": r["entry__entry_number"],
                              "liquidation_date": r["entry__liquidation_date"], "port_code": r["entry__port_code"]}
                             for r in picked],
                            TariffLine.objects.filter(entry_id__in=protest_candidates(organization, wanted).values("entry_id")))
        by_importer: dict[int, list[tuple[dict[str, Any], int]]] = defaultdict(list)
        sizes: dict[int, int] = {}
        for r in picked:
            own = lines.get(r["entry_id"])
            if not own:
                leave_out(r["entry__entry_number"], "No IEEPA tariff line is loaded for this entry: upload its "
                                                    "ES-003 lines first (the spreadsheet lists them line by line).")
                continue
            sizes[r["entry_id"]] = sum(line_bytes(line) for line in own)
            by_importer[r["importer_id"]].append((r, sizes[r["entry_id"]]))
        now = timezone.now()
        items: list[tuple[int, int, int, bool]] = []
        importers = Importer.objects.in_bulk(wanted)
        for importer_id in wanted:
            for chunk in split_by_size(by_importer.get(importer_id, []), budget):
                lead = chunk[0]
                chunk_lines = [line for r in chunk for line in lines[r["entry_id"]]]
                xlsx, csv = render_spreadsheets(importers[importer_id], chunk_lines, len(chunk), lead["protest_deadline"])
                protest = Protest.objects.create(
                    organization=organization, importer_id=importer_id, status=S.DRAFT, reason_text=reason,
                    port_code=lead["entry__port_code"],
                    # The ES-003 carries no Center/team for an entry (entries.Entry has no such field): not known.
                    center_team="",
                    deadline=lead["protest_deadline"], entry_count=len(chunk),
                    line_count=len(chunk_lines), spreadsheet_xlsx=xlsx, spreadsheet_csv=csv,
                    ieepa_duty=sum((r["ieepa_duty"] for r in chunk), ZERO),
                    estimated_interest=sum((r["estimated_interest"] or ZERO for r in chunk), ZERO),
                    spreadsheet_bytes=len(csv),
                    created_by=user if getattr(user, "is_authenticated", False) else None, created_at=now, updated_at=now,
                )
                items += [(protest.pk, r["entry_id"], i, i == 1) for i, r in enumerate(chunk, start=1)]
                result.protests.append(protest)
                audit(action="protest.draft", user=user, organization=organization, obj=protest, importer_id=importer_id,
                      entries=protest.entry_count, ieepa_duty=str(protest.ieepa_duty), deadline=protest.deadline.isoformat())  # type: ignore[union-attr]  # set above
        _insert_items(items)
    return result


def _insert_items(items: list[tuple[int, int, int, bool]]) -> None:
    """(protest id, entry id, position, lead) rows: one COPY on PostgreSQL (a hundred thousand rows in a fraction
    of a second, where building as many model instances took seconds), bulk_create elsewhere."""
    if not items:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cur, cur.cursor.copy(
                "COPY protests_protestentry (protest_id, entry_id, position, lead) FROM STDIN") as copy:
            for row in items:
                copy.write_row(row)
        if len(items) >= 10_000:
            # Fresh statistics at once (a sample, tens of milliseconds): until autovacuum gets to the table the
            # planner would read a protest's entries through the entry index, scanning every row of the table per
            # protest (measured: 200 protests' spreadsheets took 44 s instead of a few).
            with connection.cursor() as cur:
                cur.execute("ANALYZE protests_protestentry")
        return
    ProtestEntry.objects.bulk_create([ProtestEntry(protest_id=p, entry_id=e, position=n, lead=lead) for p, e, n, lead in items],
                                     batch_size=5000)


# =============================================================================== lifecycle
def _locked(protest: Protest) -> Protest:
    return Protest.objects.select_for_update().get(pk=protest.pk)


def _assert_no_other_open_protest(protest: Protest) -> list[int]:
    """Lock the protest's entries, then refuse if any is on another open protest (of any organisation: the
    entry is recognised by importer and number). Returns the entry ids. Call inside a transaction."""
    entry_ids = list(protest.items.values_list("entry_id", flat=True))
    numbers: list[str] = []
    for start in range(0, len(entry_ids), 10_000):
        numbers += list(Entry.objects.select_for_update().filter(pk__in=entry_ids[start:start + 10_000]).order_by("pk")
                        .values_list("entry_number", flat=True))
    clashes: list[tuple[str, int]] = []
    for start in range(0, len(numbers), 10_000):
        clashes += list(ProtestEntry.objects.filter(protest__status__in=OPEN_STATUSES, entry__importer_id=protest.importer_id,
                                                    entry__entry_number__in=numbers[start:start + 10_000])
                        .exclude(protest_id=protest.pk).values_list("entry__entry_number", "protest__organization_id")[:5])
        if clashes:
            break
    if clashes:
        shown = ", ".join(f"{n[:3]}-{n[3:10]}-{n[10:]}" for n, _ in clashes[:5])
        raise ServiceError(
            f"{shown} {'is' if len(clashes) == 1 else 'are'} already on an open protest. An entry can be on only one "
            "open protest: discard this draft and draft again (entries already protested are left out)."
        )
    return entry_ids


def protest_export(*, protest: Protest, user: Any) -> Protest:
    """A file downloaded for filing: draft → exported (once; later downloads change nothing)."""
    with transaction.atomic():
        p = _locked(protest)
        if p.status == S.DRAFT:
            _assert_no_other_open_protest(p)
            p.status, p.exported_at, p.updated_at = S.EXPORTED, timezone.now(), timezone.now()
            p.save(update_fields=["status", "exported_at", "updated_at"])
            audit(action="protest.exported", user=user, organization=p.organization, obj=p, entries=p.entry_count)
    return p


def protest_record_filing(*, protest: Protest, user: Any, protest_number: str, filed_on: date) -> Protest:
    """The protest was filed in the ACE Protest Module (or on CBP Form 19): CBP's number and the date."""
    if filed_on > today():
        raise ServiceError("The filing date cannot be in the future.", field="filed_on")
    try:
        number = parse_protest_number(protest_number, filed_on=filed_on)
    except ProtestNumberError as exc:
        raise ServiceError(str(exc), field="protest_number") from None
    with transaction.atomic():
        p = _locked(protest)
        if p.status not in (S.DRAFT, S.EXPORTED):
            raise ServiceError(f"This protest is {p.get_status_display().lower()}; its filing is already recorded.")
        if Protest.objects.filter(organization=p.organization, protest_number=number).exclude(pk=p.pk).exists():
            raise ServiceError("Another of your protests already has this protest number.", field="protest_number")
        entry_ids = _assert_no_other_open_protest(p)
        now = timezone.now()
        p.status, p.protest_number, p.filed_on, p.updated_at = S.FILED, number, filed_on, now
        p.exported_at = p.exported_at or now
        p.save(update_fields=["status", "protest_number", "filed_on", "updated_at", "exported_at"])
        for start in range(0, len(entry_ids), 10_000):
            # A person's statement: the next ES-003 leaves it alone (rules.md "Inputs", Entry.protest_set_by_user),
            # as the entry facts page does (cape.classify.entry_facts_update).
            Entry.objects.filter(pk__in=entry_ids[start:start + 10_000]).update(
                protest_status=Entry.ProtestStatus.OPEN, protest_number=number, protest_set_by_user=True, updated_at=now)
        audit(action="protest.filed", user=user, organization=p.organization, obj=p, protest_number=number,
              filed_on=filed_on.isoformat(), entries=len(entry_ids))
        _reclassify(entry_ids)
    return p


def protest_record_decision(*, protest: Protest, user: Any, decision: str, decided_on: date) -> Protest:
    """CBP's decision: allowed, denied or allowed in part, with its date."""
    if decision not in D.values:
        raise ServiceError("Choose allowed, denied or allowed in part.", field="decision")
    if decided_on > today():
        raise ServiceError("The decision date cannot be in the future.", field="decided_on")
    with transaction.atomic():
        p = _locked(protest)
        if p.status != S.FILED:
            raise ServiceError("Record the filing (protest number and date) before CBP's decision.")
        if p.filed_on and decided_on < p.filed_on:
            raise ServiceError(f"The decision date is before the filing date ({p.filed_on:%m/%d/%Y}).", field="decided_on")
        entry_ids = list(p.items.values_list("entry_id", flat=True))
        now = timezone.now()
        p.status, p.decision, p.decided_on, p.updated_at = S.DECIDED, decision, decided_on, now
        p.save(update_fields=["status", "decision", "decided_on", "updated_at"])
        for start in range(0, len(entry_ids), 10_000):
            Entry.objects.filter(pk__in=entry_ids[start:start + 10_000]).update(
                protest_status=DECISION_STATUS[D(decision)], protest_set_by_user=True, updated_at=now)
        audit(action="protest.decided", user=user, organization=p.organization, obj=p, decision=decision,
              decided_on=decided_on.isoformat(), entries=len(entry_ids),
              cit_summons_by=p.cit_summons_by.isoformat() if p.cit_summons_by else None)
        _reclassify(entry_ids)
    return p


def protest_discard(*, protest: Protest, user: Any) -> None:
    """A draft or exported protest that was not filed: its entries are free to go on another."""
    with transaction.atomic():
        p = _locked(protest)
        if p.status not in (S.DRAFT, S.EXPORTED):
            raise ServiceError("A filed protest stays on record; record CBP's decision instead.")
        audit(action="protest.discarded", user=user, organization=p.organization, obj=p, status=p.status,
              entries=p.entry_count, importer_id=p.importer_id)
        p.delete()


def protest_reason_update(*, protest: Protest, user: Any, text: str) -> Protest:
    text = (text or "").strip()
    if not text:
        raise ServiceError("The reason for protest is required by CBP.", field="reason_text")
    if len(text) > MAX_REASON:
        raise ServiceError(f"Keep the reason under {MAX_REASON:,} characters.", field="reason_text")
    with transaction.atomic():
        p = _locked(protest)
        if p.status not in (S.DRAFT, S.EXPORTED):
            raise ServiceError("The reason of a filed protest is what CBP has; it is no longer edited here.",
                               field="reason_text")
        if p.reason_text != text:
            p.reason_text, p.updated_at = text, timezone.now()
            p.save(update_fields=["reason_text", "updated_at"])
            audit(action="protest.reason_changed", user=user, organization=p.organization, obj=p)
    return p


def protest_reason_set(*, organization: Organization, user: Any, text: str) -> ProtestReason | None:
    """The organisation's reason for new drafts; blank goes back to the default narrative."""
    text = (text or "").strip()
    if len(text) > MAX_REASON:
        raise ServiceError(f"Keep the reason under {MAX_REASON:,} characters.", field="text")
    with transaction.atomic():
        if not text:
            deleted, _ = ProtestReason.objects.filter(organization=organization).delete()
            if deleted:
                audit(action="protest.default_reason_restored", user=user, organization=organization)
            return None
        reason, _ = ProtestReason.objects.update_or_create(
            organization=organization,
            defaults={"text": text, "updated_by": user if getattr(user, "is_authenticated", False) else None,
                      "updated_at": timezone.now()})
        audit(action="protest.reason_set", user=user, organization=organization, obj=reason)
    return reason
