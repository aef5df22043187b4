"""The API's one exception mapping (accounts.api_errors): a service's refusal is a 400 with the body of a
validation error, whichever endpoint it comes from."""

from __future__ import annotations

import pytest

from tests.cape.factories import DeclarationFactory

pytestmark = pytest.mark.django_db


def test_a_refusal_naming_a_field_is_a_400_beside_that_field(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    r = client.post(f"/api/importers/{own_importer.pk}/facts/", {"paper_check_waiver_granted": True},
                    content_type="application/json")
    assert r.status_code == 400
    assert r.json() == {"paper_check_waiver_date": ["Give the date CBP granted the paper-check waiver (31 CFR 208.4)."]}


def test_a_refusal_of_the_whole_request_is_a_400_under_non_field_errors(client, bob, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)  # a broker: the importer's own organisation keeps its CIT facts
    r = client.post(f"/api/importers/{own_importer.pk}/facts/", {"cit_plaintiff": True}, content_type="application/json")
    assert r.status_code == 400
    assert r.json() == {"non_field_errors": ["Only the importer's own organisation can change its CIT and paper-check facts."]}


def test_a_refused_state_change_is_a_400_and_changes_nothing(client, alice, importer_org) -> None:  # type: ignore[no-untyped-def]
    declaration = DeclarationFactory(organization=importer_org, status="draft")
    client.force_login(alice)
    r = client.post(f"/api/declarations/{declaration.pk}/submission/",
                    {"submitted_on": "2026-11-20", "claim_number": "100000241223"}, content_type="application/json")
    assert r.status_code == 400
    assert r.json() == {"non_field_errors": ["Only an exported declaration can be recorded as submitted (this one is draft)."]}
    declaration.refresh_from_db()
    assert declaration.status == "draft" and not declaration.claim_number
