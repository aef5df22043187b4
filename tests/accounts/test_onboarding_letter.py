"""The sub-account request letter (PDF) for the Trade Account Owner to sign."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountApplication, AuditLog, ReadinessState
from accounts.onboarding.letter import subaccount_letter_html
from tests.accounts.factories import Form5106RecordFactory
from tests.factories import ImporterFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def application_on_file(importer_org, own_importer):  # type: ignore[no-untyped-def]
    return AccountApplication.objects.create(
        token="t",
        status=AccountApplication.Status.SUBMITTED,
        company_name="Blue Heron Housewares Inc",
        ir_number=own_importer.ir_number,
        email="alice@blueheron.example",
        importer=own_importer,
        organization=importer_org,
        expires_at=timezone.now(),
        submitted_at=timezone.now(),
        details={
            "owner_first_name": "Alice",
            "owner_last_name": "Ng",
            "street": "400 Pier Rd",
            "city": "Portland",
            "state": "ME",
            "postal_code": "04101",
            "country": "US",
            "telephone": "207-555-0100",
        },
    )


def test_the_letter_repeats_the_application_details_and_asks_to_add_sub_accounts(
    application_on_file, own_importer, importer_org
) -> None:  # type: ignore[no-untyped-def]
    second = ImporterFactory(ir_number="93-417726101", name="Blue Heron Outlet", owner=importer_org)
    html = subaccount_letter_html(importers=[own_importer, second])
    assert "Blue Heron Housewares Inc" in html and "400 Pier Rd" in html and "Portland, ME 04101" in html
    assert "United States" in html and "207-555-0100" in html
    assert "add the following importer sub-accounts" in html and "ACE Portal top account" in html
    assert "93-417726100" in html and "93-417726101" in html
    assert "Alice Ng" in html and "ACE.Applications@cbp.dhs.gov" in html
    assert "must match exactly" in html and "Source: A1WWL" in html


def test_without_an_application_the_letter_uses_the_5106_and_says_so(own_importer) -> None:  # type: ignore[no-untyped-def]
    Form5106RecordFactory(
        importer=own_importer, company_name="Blue Heron Housewares, Inc.", address="9 Dock St\nBath, ME 04530"
    )
    ReadinessState.objects.create(importer=own_importer, tao_name="Alice Ng", tao_email="alice@blueheron.example")
    html = subaccount_letter_html(importers=[own_importer])
    assert "Blue Heron Housewares, Inc." in html and "9 Dock St" in html and "from the 5106 record" in html
    assert "Alice Ng" in html


def test_the_pdf_is_served_to_members_only_and_audited(
    client, alice, charlie, own_importer, application_on_file
) -> None:  # type: ignore[no-untyped-def]
    url = reverse("onboarding_subaccount_letter", args=[own_importer.pk])
    client.force_login(charlie)
    assert client.get(url).status_code == 404
    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert AuditLog.objects.filter(action="onboarding.subaccount_letter", organization=own_importer.owner).exists()


def test_the_letter_lists_only_importers_the_organisation_may_see(
    client, alice, charlie, own_importer, application_on_file
) -> None:  # type: ignore[no-untyped-def]
    from accounts.models import Importer

    outsider = Importer.objects.get(ir_number="55-555555500")
    client.force_login(alice)
    client.get(reverse("onboarding_subaccount_letter", args=[own_importer.pk]) + f"?also={outsider.pk}")
    log = AuditLog.objects.get(action="onboarding.subaccount_letter")
    assert log.detail["importer_ids"] == [own_importer.pk]
