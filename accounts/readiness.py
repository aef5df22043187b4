"""Readiness state a person records (ACE account state, sub-account view, TAO): the write side of the
readiness checklist. The checklist itself reads ACH, ES-003 and CAPE data and lives in the top layer
(portfolio.readiness)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Importer, ImporterGrant, Organization, ReadinessState
from accounts.onboarding.form5106 import organization_domains
from accounts.services import audit


def broker_domains_for(importer_ids: list[int]) -> dict[int, dict[str, str]]:
    """Per importer, the email domains of every broker managing it (domain -> broker name): the
    domains a broker recorded for itself and its members' login domains (free-mail left out)."""
    grants = list(
        ImporterGrant.objects.filter(
            importer_id__in=importer_ids, revoked_at__isnull=True, organization__kind=Organization.Kind.BROKER
        ).values_list("importer_id", "organization_id", "organization__name", "organization__email_domains")
    )
    recorded = {org_id: domains for _, org_id, _, domains in grants}
    domains_by_org = organization_domains(recorded, recorded)
    result: dict[int, dict[str, str]] = defaultdict(dict)
    for importer_id, org_id, name, _ in grants:
        for d in sorted(domains_by_org[org_id]):
            result[importer_id].setdefault(d, name)
    return result


TRACKED = {
    "ace_account": "ace_account_changed_on",
    "sub_account": "sub_account_changed_on",
    "tao_name": "tao_changed_on",
    "tao_email": "tao_changed_on",
}


@transaction.atomic
def readiness_state_update(
    *, importer: Importer, organization: Organization | None, user: Any, **changes: Any
) -> ReadinessState:
    """Record what a person knows (ACE account state, sub-account view, TAO). A step's date moves only
    when its value changes."""
    unknown = set(changes) - set(TRACKED)
    if unknown:
        raise ValueError(f"Not a readiness field: {', '.join(sorted(unknown))}")
    state, _ = ReadinessState.objects.select_for_update().get_or_create(importer=importer)
    today = timezone.localdate()
    changed: dict[str, list[Any]] = {}
    for name, value in changes.items():
        value = value if value is not None else ""
        old = getattr(state, name)
        if old != value:
            changed[name] = [old, value]
            setattr(state, name, value)
            setattr(state, TRACKED[name], today)
    if changed:
        state.updated_at = timezone.now()
        state.save()
        audit(
            action="readiness.update",
            user=user,
            organization=organization,
            obj=state,
            importer_id=importer.pk,
            changes=changed,
        )
    return state
