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


def new_key_on(response: object) -> str:
    """The API key a page shows once, right after it was made (the database holds only its hash)."""
    import re

    match = re.search(r'<code id="new-token">([^<]+)</code>', response.content.decode())  # type: ignore[attr-defined]
    assert match, "the page shows no new key"
    return match.group(1)
