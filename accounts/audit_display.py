"""The audit log page's rows in words: what each row's object is and the old → new values of its detail
JSON. The links to each object's page read every app and are added in the top layer (portfolio.audit_display)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from accounts.models import AuditLog

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
