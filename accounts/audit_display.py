"""The audit log page's rows in words: what each row's object is, a link to its page when it has one the
organisation may open, and the old → new values of its detail JSON."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse

from accounts.models import AuditLog, ImporterGrant, Organization

# object_type (the model's label_lower, accounts.services.audit) -> what a person calls it.
OBJECT_NAMES: dict[str, str] = {
    "accounts.importer": "importer",
    "accounts.importergrant": "access grant",
    "accounts.organization": "organisation",
    "accounts.membership": "membership",
    "accounts.form5106record": "5106 record",
    "accounts.readinessstate": "readiness",
    "accounts.accountapplication": "account application",
    "accounts.importernote": "note on an importer",
    "entries.entry": "entry",
    "entries.upload": "upload",
    "cape.declaration": "declaration",
    "cape.declarationbuildjob": "declaration build",
    "ach.achenrollment": "ACH enrollment",
    "ach.notifyparty": "notify party",
    "ach.achrejection": "ACH rejection",
}
NONE_WORD = "(none)"
ARROW = "→"


def object_name(object_type: str) -> str:
    return OBJECT_NAMES.get(object_type, object_type.rsplit(".", 1)[-1] if object_type else "")


def value_in_words(value: Any) -> str:
    """A JSON value as a person reads it: yes/no, lists joined with commas, (none) for nothing."""
    if value is None or value == "" or value == [] or value == {}:
        return NONE_WORD
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(value_in_words(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{_words(str(k))}: {value_in_words(v)}" for k, v in value.items())
    return str(value)


def _words(name: str) -> str:
    return name.replace("_", " ").strip()


def _changed_name(action: str, detail: dict[str, Any]) -> str:
    if detail.get("fact"):
        return _words(str(detail["fact"]))
    verb = action.rsplit(".", 1)[-1]
    return _words(verb.removesuffix("_set")) or "value"


def change_lines(action: str, detail: Any) -> list[str]:
    """Old → new lines from a row's detail: ``old``/``new`` (named by ``fact`` or the action),
    ``changes`` ({name: [old, new]}) and ``old_status``/``status``."""
    if not isinstance(detail, dict):
        return []
    lines: list[str] = []
    if "old" in detail or "new" in detail:
        # An entry fact names its entry (the row's object is the entry; its number is what people read).
        entry = f"{detail['entry_number']} " if detail.get("fact") and detail.get("entry_number") else ""
        lines.append(
            f"{entry}{_changed_name(action, detail)}: {value_in_words(detail.get('old'))} {ARROW} "
            f"{value_in_words(detail.get('new'))}"
        )
    changes = detail.get("changes")
    if isinstance(changes, dict):
        for name, pair in changes.items():
            if isinstance(pair, (list, tuple)) and len(pair) == 2:
                lines.append(f"{_words(str(name))}: {value_in_words(pair[0])} {ARROW} {value_in_words(pair[1])}")
    if "old_status" in detail and "status" in detail:
        lines.append(f"status: {value_in_words(detail['old_status'])} {ARROW} {value_in_words(detail['status'])}")
    return lines


@dataclass
class AuditRow:
    row: AuditLog
    object_label: str
    url: str = ""
    changes: list[str] = field(default_factory=list)


def _int_ids(ids: Iterable[str]) -> set[int]:
    return {int(i) for i in ids if i.isdigit()}


def _object_urls(organization: Organization, wanted: dict[str, set[int]]) -> dict[tuple[str, int], str]:
    """Pages of the objects the organisation may open: one query per kind of object, each scoped by the
    same selector its page uses, so a row never links to another organisation's object."""
    from accounts.selectors import importers_for
    from cape.models import Declaration
    from cape.selectors import entries_for
    from entries.selectors import uploads_for

    urls: dict[tuple[str, int], str] = {}
    if ids := wanted.get("accounts.importer"):
        for pk in importers_for(organization).filter(pk__in=ids).values_list("pk", flat=True):
            urls["accounts.importer", pk] = reverse("importer_detail", args=[pk])
    if ids := wanted.get("accounts.importergrant"):
        grants = ImporterGrant.objects.filter(pk__in=ids, importer__in=importers_for(organization))
        for pk, importer_id in grants.values_list("pk", "importer_id"):
            urls["accounts.importergrant", pk] = reverse("importer_detail", args=[importer_id])
    if ids := wanted.get("accounts.importernote"):
        from accounts.selectors import notes_for

        for pk, importer_id in notes_for(organization).filter(pk__in=ids).values_list("pk", "importer_id"):
            urls["accounts.importernote", pk] = reverse("importer_detail", args=[importer_id]) + "#client-work"
    if ids := wanted.get("entries.entry"):
        for pk in entries_for(organization).filter(pk__in=ids).values_list("pk", flat=True):
            urls["entries.entry", pk] = reverse("entry_detail", args=[pk])
    if ids := wanted.get("entries.upload"):
        for pk in uploads_for(organization).filter(pk__in=ids).values_list("pk", flat=True):
            urls["entries.upload", pk] = reverse("upload_detail", args=[pk])
    if ids := wanted.get("cape.declaration"):
        for pk in Declaration.objects.filter(organization=organization, pk__in=ids).values_list("pk", flat=True):
            urls["cape.declaration", pk] = reverse("cape_declaration", args=[pk])
    return urls


LINKED_TYPES = ("accounts.importer", "accounts.importergrant", "accounts.importernote", "entries.entry", "entries.upload", "cape.declaration")


def audit_rows(organization: Organization, rows: Iterable[AuditLog]) -> list[AuditRow]:
    rows = list(rows)
    wanted: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r.object_type in LINKED_TYPES:
            wanted[r.object_type].add(r.object_id)
    urls = _object_urls(organization, {t: _int_ids(ids) for t, ids in wanted.items()})
    out = []
    for r in rows:
        label = f"{object_name(r.object_type)} {r.object_id}".strip()
        url = urls.get((r.object_type, int(r.object_id)), "") if r.object_id.isdigit() else ""
        out.append(AuditRow(row=r, object_label=label, url=url, changes=change_lines(r.action, r.detail)))
    return out
