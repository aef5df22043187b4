"""Issue #20 item 4: the workspace and the letter to CBP carry the company name as on the CBP Form 5106
record, not as typed on the application (CBP matched the two up to case and punctuation)."""

from __future__ import annotations

import io
import re

import pytest
from django.core import mail
from django.urls import reverse
from pypdf import PdfReader

from accounts.models import AccountApplication, Importer, Organization
from accounts.onboarding.letter import subaccount_letter_html
from tests.accounts.factories import Form5106RecordFactory
from tests.factories import PASSWORD, GrantFactory, ImporterFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the code email leaves on commit

IR = "45-678901200"
POC = "pat.poc@osprey.example"
EMAIL = "owner@osprey.example"
RECORD_NAME = "Osprey Marine Supply Inc"
TYPED_NAME = "osprey marine supply inc."
DETAILS = {
    "org_structure": "corporation",
    "fiscal_year_end": "",
    "duns": "",
    "website": "",
    "owner_first_name": "Dana",
    "owner_middle_name": "",
    "owner_last_name": "Reyes",
    "country": "US",
    "street": "1 Harbor Way",
    "city": "Miami",
    "state": "FL",
    "postal_code": "33101",
    "telephone": "305-821-8995",
}


@pytest.fixture(autouse=True)
def _locmem(settings):  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def osprey(broker_org) -> Importer:  # type: ignore[no-untyped-def]
    importer = ImporterFactory(ir_number=IR, name=RECORD_NAME, owner=None, status=Importer.Status.PENDING)
    GrantFactory(importer=importer, organization=broker_org)
    Form5106RecordFactory(importer=importer, company_name=RECORD_NAME, poc_email=POC)
    return importer


def _apply(client) -> Organization:  # type: ignore[no-untyped-def]
    response = client.post(reverse("onboarding_apply"), {"company_name": TYPED_NAME, "ir_number": IR, "email": EMAIL})
    assert response.status_code == 302, response.content.decode()
    message = [m for m in mail.outbox if POC in m.to][-1]
    code = re.search(r"Verification code: (\d{6})", message.body).group(1)  # type: ignore[union-attr]
    client.post(reverse("onboarding_verify"), {"code": code})
    client.post(reverse("onboarding_details"), DETAILS)
    response = client.post(
        reverse("onboarding_authorize"), {"authorized": "on", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.url == reverse("onboarding_done")
    return AccountApplication.objects.get(status=AccountApplication.Status.SUBMITTED).organization  # type: ignore[return-value]


def test_the_workspace_is_named_as_on_the_5106_record(client, osprey) -> None:  # type: ignore[no-untyped-def]
    organization = _apply(client)
    assert organization.name == RECORD_NAME
    page = client.get(reverse("onboarding_readiness")).content.decode()
    top_bar = re.search(r'data-testid="active-org">([^<]*)<', page).group(1)  # type: ignore[union-attr]
    assert top_bar.startswith(RECORD_NAME)
    assert TYPED_NAME not in page


def test_the_letter_to_cbp_uses_the_5106_records_name(client, osprey) -> None:  # type: ignore[no-untyped-def]
    organization = _apply(client)
    response = client.get(reverse("onboarding_subaccount_letter", args=[osprey.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert text.count(RECORD_NAME) >= 3  # letterhead, request, signature (and the importers table)
    assert TYPED_NAME not in text
    # An organisation from before the change still has the typed name: the letter uses the record's anyway.
    Organization.objects.filter(pk=organization.pk).update(name=TYPED_NAME)
    html = subaccount_letter_html(importers=[Importer.objects.get(pk=osprey.pk)])
    assert RECORD_NAME in html and TYPED_NAME not in html


def test_the_migration_renames_old_workspaces_after_their_5106_record_and_keeps_every_row(osprey) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django.utils import timezone

    before = ("accounts", "0004_h_rules_importer_facts_ruleset_notice")
    after = ("accounts", "0005_h_pages_organization_name_from_5106")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old = Organization.objects.create(name=TYPED_NAME, kind=Organization.Kind.IMPORTER, slug="osprey")
    renamed_by_owner = Organization.objects.create(name="Osprey HQ", kind=Organization.Kind.IMPORTER, slug="hq")
    other = ImporterFactory(name="Kite Goods LLC", owner=renamed_by_owner)
    Form5106RecordFactory(importer=other, company_name="Kite Goods LLC", poc_email="kite@kite.example")
    for org, importer, typed in ((old, osprey, TYPED_NAME), (renamed_by_owner, other, "kite goods llc")):
        AccountApplication.objects.create(
            token=f"t{org.pk}", status=AccountApplication.Status.SUBMITTED, company_name=typed,
            ir_number=importer.ir_number, email=EMAIL, importer=importer, organization=org,
            expires_at=timezone.now(), submitted_at=timezone.now(), details={"telephone": "305-821-8995"},
        )
    counts = (Organization.objects.count(), AccountApplication.objects.count(), Importer.objects.count())
    MigrationExecutor(connection).migrate([after])
    assert Organization.objects.get(pk=old.pk).name == RECORD_NAME
    assert Organization.objects.get(pk=renamed_by_owner.pk).name == "Osprey HQ"  # renamed since: left alone
    assert (Organization.objects.count(), AccountApplication.objects.count(), Importer.objects.count()) == counts
    assert AccountApplication.objects.get(organization=old).details == {"telephone": "305-821-8995"}
    # Back to the latest schema: later migrations (entries 0008, cape 0014 …) depend on accounts 0006, so going
    # back to 0004 unapplied them, and the tests after this one need them.
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
