"""Services: facts no ES-003 carries, set in bulk (a facts file) or per importer, each change audited and
the affected entries classified again (ruleset 2026.12: surety_paid, cit_plaintiff, paper-check waiver)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import AuditLog, Organization

# An importer's facts (CIT plaintiff, paper-check waiver) are set in accounts, which asks for the reclassification
# through accounts.signals.importer_facts_changed (cape/receivers.py); re-exported here.
from accounts.services import IMPORTER_FACTS, ServiceError, audit, importer_facts_update  # noqa: F401
from cape.classify import classify_entries, today_eastern
from cape.models import Classification
from entries.facts import COLUMNS, FactsParse, parse_facts_file
from entries.models import Entry

ENTRY_FACTS = ("drawback", "type09_filed", "surety_paid", "protest_number", "protest_status")


@dataclass
class FactsImportResult:
    file: str
    rows_read: int = 0
    rows_applied: int = 0
    # {"entry_number", "entry_id", "fact", "old", "new"}
    changes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    # entry_id -> (entry_number, path, first reason) after the reclassification
    paths: dict[int, tuple[str, str, str]] = field(default_factory=dict)


def entry_facts_import(*, organization: Organization, user: Any, path: str | Path, file_label: str | None = None,
                       as_of: date | None = None, parsed: FactsParse | None = None) -> FactsImportResult:
    """Apply a facts file to the organisation's entries. Unknown entries and bad values hold back only their
    row (reported with file, row and column); every change is audited with old and new value; the changed
    entries are classified again as of ``as_of`` (default today, U.S. Eastern)."""
    from cape.selectors import entries_for

    parsed = parsed or parse_facts_file(path, file_label=file_label)
    result = FactsImportResult(file=parsed.file, rows_read=parsed.rows_read, errors=list(parsed.errors))
    as_of = as_of or today_eastern()
    numbers = sorted({r.entry_number for r in parsed.rows})
    with transaction.atomic():
        entries: dict[str, Entry] = {}
        for i in range(0, len(numbers), 5000):
            for e in entries_for(organization).select_for_update(of=("self",)).filter(entry_number__in=numbers[i:i + 5000]):
                entries[e.entry_number] = e
        changed: dict[int, Entry] = {}
        logs: list[AuditLog] = []
        now = timezone.now()
        for row in parsed.rows:
            entry = entries.get(row.entry_number)
            if entry is None:
                result.errors.append({"file": parsed.file, "row": row.row, "column": COLUMNS["entry_number"],
                                      "value": row.entry_number,
                                      "reason": "no entry with this number in your data (upload its ES-003 report first)"})
                continue
            result.rows_applied += 1
            for name, new in row.values.items():
                old = getattr(entry, name)
                if old == new:
                    continue
                setattr(entry, name, new)
                if name in ("protest_status", "protest_number"):
                    entry.protest_set_by_user = True  # wins over a later report's (rules.md "Inputs")
                changed[entry.pk] = entry
                result.changes.append({"entry_number": entry.entry_number, "entry_id": entry.pk, "fact": name,
                                       "old": old, "new": new})
                logs.append(AuditLog(user=user if getattr(user, "is_authenticated", False) else None,
                                     organization=organization, action="entry.fact_set", object_type="entries.entry",
                                     object_id=str(entry.pk), at=now,
                                     detail={"entry_number": entry.entry_number, "fact": name, "old": old, "new": new,
                                             "source": "facts file", "file": parsed.file, "row": row.row}))
        if changed:
            for e in changed.values():
                e.updated_at = now
            Entry.objects.bulk_update(list(changed.values()), [*ENTRY_FACTS, "protest_set_by_user", "updated_at"],
                                      batch_size=2000)
            AuditLog.objects.bulk_create(logs, batch_size=2000)
            classify_entries(entry_ids=list(changed), as_of=as_of)
            for entry_id, path_, reasons, number in Classification.objects.filter(entry_id__in=list(changed)).values_list(
                    "entry_id", "path", "reasons", "entry__entry_number"):
                result.paths[entry_id] = (number, path_, reasons[0] if reasons else "")
        audit(action="entry.facts_imported", user=user, organization=organization, file=parsed.file,
              rows_read=result.rows_read, rows_applied=result.rows_applied, changes=len(result.changes),
              errors=len(result.errors))
    result.errors.sort(key=lambda e: (e["row"] or 0))
    return result
