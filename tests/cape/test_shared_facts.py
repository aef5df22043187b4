"""Facts are shared and audited (issue 18): a fact the broker sets on an entry is the entry's fact for the
importer too, reclassified for both, and each change names who set it and in which organisation, on the entry
page and in the API, for every organisation that sees the entry. An organisation that does not serve the
importer can neither see nor change it."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.services import ServiceError
from cape.classify import classify_entries, entry_facts_update, today_eastern
from cape.models import Classification
from tests.factories import EntryFactory, api_key_for

pytestmark = pytest.mark.django_db


def test_a_fact_the_broker_sets_is_the_importers_fact_attributed_to_the_broker(
        client, alice, bob, charlie, importer_org, broker_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    entry = EntryFactory(importer=own_importer, liquidation_status="liquidated", liquidation_date=today_eastern())
    classify_entries(entry_ids=[entry.pk], as_of=today_eastern())
    before = Classification.objects.get(entry=entry)
    assert "drawback" not in before.reasons and before.path == "cape_phase1"
    client.force_login(bob)
    r = client.post(reverse("entry_detail", args=[entry.pk]),
                    {"type09_filed": "", "drawback": "on", "protest_status": "none", "importer_is_corporate": "true"})
    assert r.status_code == 302
    entry.refresh_from_db()
    assert entry.drawback is True
    # The importer's organisation sees the fact, the new path (R7: CAPE does not take entries on drawback), and
    # who set it.
    after = Classification.objects.get(entry=entry)
    assert "drawback" in after.reasons and after.path != "cape_phase1"
    client.force_login(alice)
    html = client.get(reverse("entry_detail", args=[entry.pk])).content.decode()
    assert 'data-testid="fact-history"' in html and "Harbor Customs Brokerage" in html and "bob" in html
    api = Client(HTTP_AUTHORIZATION=f"Token {api_key_for(alice)}", HTTP_X_ORGANIZATION=importer_org.slug)
    data = api.get(f"/api/entries/{entry.pk}/").json()
    assert data["classification"]["path"] == after.path
    assert [(f["what"], f["old"], f["new"]) for f in data["fact_history"]] == [("drawback", "no", "yes")]
    assert "bob" in data["fact_history"][0]["who"] and "(Harbor Customs Brokerage)" in data["fact_history"][0]["who"]
    # An outsider neither sees nor changes it.
    client.force_login(charlie)
    assert client.get(reverse("entry_detail", args=[entry.pk])).status_code == 404
    from accounts.models import Organization

    with pytest.raises(ServiceError):
        entry_facts_update(entry=entry, user=charlie, organization=Organization.objects.get(slug="outsider"), drawback=False)
    entry.refresh_from_db()
    assert entry.drawback is True
