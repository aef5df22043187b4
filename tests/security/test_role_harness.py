"""The permission harness for every route and every role (extends tests/test_permission_harness.py):

* a viewer POSTing to every route changes nothing;
* a broker whose grant was revoked sees nothing of the importer;
* another organisation reaching a tenant's objects by id, by filter (?importer=<id> and friends) or by a
  bulk action (POSTed lists of the tenant's ids) gets nothing and changes nothing.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import ImporterGrant
from tests.cape.factories import eligible_entry
from tests.factories import TariffLineFactory
from tests.security.conftest import tenant_counts
from tests.test_permission_harness import MARKERS, _assert_no_tenant_data, _urls

FILTER_PARAMS = [
    "importer",
    "importer_id",
    "importers",
    "organization",
    "org",
    "entry",
    "declaration",
    "upload",
    "pk",
    "id",
]


@pytest.fixture
def tenant(alice, own_importer, importer_org):  # type: ignore[no-untyped-def]
    entry = eligible_entry(own_importer, organization=importer_org, entry_number="BHX00000010")
    TariffLineFactory(entry=entry)
    return {"importer": own_importer, "entry": entry}


def _routes() -> list[str]:
    return [u for u in _urls("blue-heron") if not u.startswith("/admin/")]


@pytest.mark.django_db
def test_a_viewer_posting_to_every_route_changes_nothing(tenant, vera) -> None:  # type: ignore[no-untyped-def]
    before = tenant_counts()
    client = Client()
    payloads = [
        {},
        {
            "confirmation": "Blue Heron Housewares",
            "name": "x",
            "ir_number": "93-417726199",
            "entry": [tenant["entry"].pk],
            "type09_filed": "on",
            "drawback": "on",
            "status": "accepted",
            "bank_name": "B",
            "routing_number": "011000015",
            "account_number": "000123456789",
            "account_type": "checking",
            "account_holder": "x",
        },
    ]
    for url in _routes():
        for data in payloads:
            client.force_login(vera)
            response = client.post(url, data)
            assert response.status_code != 500, url
    after = tenant_counts()
    assert after == before, {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    entry = tenant["entry"]
    entry.refresh_from_db()
    assert not entry.type09_filed and not entry.drawback


@pytest.mark.django_db
def test_a_broker_whose_grant_was_revoked_sees_nothing(tenant, bob, broker_org) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(bob)
    assert "Blue Heron" in client.get("/accounts/importers/").content.decode()  # with the grant: visible
    ImporterGrant.objects.filter(organization=broker_org).update(revoked_at=timezone.now())
    for url in _routes():
        _assert_no_tenant_data(client, url, "get")


@pytest.mark.django_db
def test_another_organisation_gets_nothing_by_filter(tenant, charlie, importer_org) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(charlie)
    ids = {str(tenant["importer"].pk), str(tenant["entry"].pk), str(importer_org.pk)}
    for url in _routes():
        for param in FILTER_PARAMS:
            for value in ids:
                _assert_no_tenant_data(client, f"{url}?{param}={value}", "get")


@pytest.mark.django_db
def test_another_organisation_gets_nothing_and_changes_nothing_by_bulk_action(tenant, charlie) -> None:  # type: ignore[no-untyped-def]
    from cape.models import Declaration

    client = Client()
    client.force_login(charlie)
    importer, entry = tenant["importer"], tenant["entry"]
    before = tenant_counts()
    form = {
        "entry": [entry.pk],
        "importers": [importer.pk],
        "importer": [importer.pk],
        "entry_numbers": entry.entry_number,
        "ids": [entry.pk],
        "selected": [importer.pk],
    }
    for url in _routes():
        response = client.post(url, form)
        body = response.content.decode(errors="replace") if not response.streaming else ""
        for marker in MARKERS:
            assert marker not in body, f"POST {url} leaked {marker}"
        if url.startswith("/api/"):
            response = client.post(
                url,
                json.dumps({"importers": [importer.pk], "entry_numbers": [entry.entry_number], "entries": [entry.pk]}),
                content_type="application/json",
            )
            for marker in MARKERS:
                assert marker not in response.content.decode(errors="replace"), f"POST {url} (JSON) leaked {marker}"
    after = tenant_counts()
    changed = {k for k in before if before[k] != after[k]}
    # Charlie may create things of his own (an empty declaration, say); none may hold the tenant's rows.
    from cape.models import DeclarationEntry

    assert not DeclarationEntry.objects.filter(entry=entry).exists()
    assert not Declaration.objects.filter(importer=importer).exists()
    assert changed <= {
        "cape.Declaration",
        "accounts.AccountApplication",
        "accounts.VerificationCode",
        "accounts.Importer",
        "accounts.ImporterGrant",
        "accounts.Form5106Record",
        "accounts.ReadinessState",
    }, changed
    entry.refresh_from_db()
    assert not entry.type09_filed and entry.organization_id == importer.owner_id
