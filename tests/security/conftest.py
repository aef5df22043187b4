from __future__ import annotations

from django.apps import apps


def tenant_counts() -> dict[str, int]:
    """Row counts of every table the app owns (the audit log excepted: reading can be audited)."""
    from django.contrib.auth import get_user_model

    counts = {
        m._meta.label: m._default_manager.count()
        for m in apps.get_models()
        if m._meta.app_label in {"accounts", "entries", "cape", "ach"} and m._meta.label != "accounts.AuditLog"
    }
    counts["users"] = get_user_model().objects.count()
    return counts
