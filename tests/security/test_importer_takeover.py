"""Issue #17 item 1: nobody becomes owner of an importer of record by typing its IR number.

Ownership comes only from proof (the account application's verification code, sent to the CBP Form 5106 point
of contact) or from a grant by the proven owner. Refusals for an existing importer say nothing about who holds it,
and every change of owner or grant is in the audit log of every organisation involved."""

from __future__ import annotations

import json
import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import AuditLog, Form5106Record, Importer, ImporterGrant, Membership
from accounts.services import (
    IMPORTER_BY_APPLICATION,
    IMPORTER_UNAVAILABLE,
    ImporterNotManaged,
    ServiceError,
    importer_create,
    importer_for_upload,
)
from ach.crypto import encrypt
from ach.models import AchEnrollment
from tests.accounts.factories import Form5106RecordFactory
from tests.factories import PASSWORD, BrokerFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

CLIENT_IR = "27-418830200"
POC = "ap@cedarlane.example"


@pytest.fixture(autouse=True)
def _locmem(settings):  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def brokers_client(bob, broker_org):  # type: ignore[no-untyped-def]
    """A client the broker added (no owner yet), with its 5106 record and ACH refund bank details."""
    importer = importer_create(organization=broker_org, ir_number=CLIENT_IR, name="Cedar Lane Imports LLC", user=bob)
    Form5106RecordFactory(importer=importer, company_name="Cedar Lane Imports LLC", poc_email=POC)
    AchEnrollment.objects.create(
        importer=importer, bank_name="Harbor Savings Bank", routing_number="011000015",
        account_number_encrypted=encrypt("000987654321"), account_last4="4321", account_type="checking",
        account_holder="Cedar Lane Imports LLC",
    )
    return importer


def _staff_client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def _charlie_staff(charlie):  # type: ignore[no-untyped-def]
    """A staff member (not the owner) of the unrelated importer organisation."""
    org = Membership.objects.get(user=charlie).organization
    return MembershipFactory(organization=org, role=Membership.Role.STAFF, user__username="charlie-staff").user


def _assert_still_the_brokers(importer: Importer, broker_org) -> None:  # type: ignore[no-untyped-def]
    importer.refresh_from_db()
    assert importer.owner_id is None
    assert list(ImporterGrant.objects.filter(importer=importer, revoked_at=None).values_list("organization", flat=True)) == [
        broker_org.pk
    ]


def test_an_unrelated_importer_org_cannot_take_a_brokers_client_through_the_page(charlie, bob, broker_org, brokers_client) -> None:  # type: ignore[no-untyped-def]
    client = _staff_client(_charlie_staff(charlie))
    response = client.post(reverse("importer_new"), {"ir_number": "27418830200", "name": "Cedar Lane"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "account application" in page and "Form 5106" in page
    _assert_still_the_brokers(brokers_client, broker_org)
    # Nothing of the broker's client is in view: neither the importer, its bank details, nor its 5106 POC.
    assert client.get(reverse("importer_detail", args=[brokers_client.pk])).status_code == 404
    assert client.get(reverse("ach_importer", args=[brokers_client.pk])).status_code == 404
    assert POC not in client.get(reverse("onboarding_5106_list")).content.decode()
    # ...and the POC email cannot be rewritten to send future codes to the attacker.
    client.post(reverse("onboarding_5106_new"), {"ir_number": CLIENT_IR, "company_name": "Cedar Lane Imports LLC",
                                                 "poc_email": "me@outsider.example"})
    assert Form5106Record.objects.get(importer=brokers_client).poc_email == POC


def test_an_unrelated_importer_org_cannot_take_a_brokers_client_through_the_api(charlie, bob, broker_org, brokers_client) -> None:  # type: ignore[no-untyped-def]
    client = _staff_client(_charlie_staff(charlie))
    response = client.post("/api/importers/", json.dumps({"ir_number": CLIENT_IR, "name": "Cedar Lane"}),
                           content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"ir_number": [IMPORTER_BY_APPLICATION]}
    _assert_still_the_brokers(brokers_client, broker_org)
    assert client.get(f"/api/importers/{brokers_client.pk}/").status_code == 404
    assert client.get(f"/api/form5106/{brokers_client.form5106.pk}/").status_code == 404


def test_squatting_an_unused_ir_number_creates_nothing_and_the_real_broker_adds_it_later(charlie, bob, broker_org) -> None:  # type: ignore[no-untyped-def]
    client = _staff_client(_charlie_staff(charlie))
    before = Importer.objects.count()
    page = client.post(reverse("importer_new"), {"ir_number": "31-000000100", "name": "Squatted"}).content.decode()
    api = client.post("/api/importers/", {"ir_number": "31-000000200", "name": "Squatted"})
    client.post(reverse("onboarding_5106_new"), {"ir_number": "31-000000300", "company_name": "Squatted",
                                                 "poc_email": "me@outsider.example"})
    assert IMPORTER_BY_APPLICATION.split(" (")[0] in page and api.status_code == 400
    assert Importer.objects.count() == before
    # The real broker is not blocked.
    broker = _staff_client(bob)
    response = broker.post(reverse("importer_new"), {"ir_number": "31-000000100", "name": "Real Client"})
    assert response.status_code == 302
    assert Importer.objects.get(ir_number="31-000000100").grants.get().organization == broker_org


def test_an_importer_org_gets_the_same_reply_whether_the_number_exists_or_not(importer_org, charlie, brokers_client) -> None:  # type: ignore[no-untyped-def]
    replies = set()
    for ir in (CLIENT_IR, "55-555555500", "31-000000100"):  # a broker's client, another workspace's, unused
        with pytest.raises(ServiceError) as exc:
            importer_create(organization=importer_org, ir_number=ir, name="X")
        replies.add(exc.value.message)
    assert replies == {IMPORTER_BY_APPLICATION}
    # Its own importer is simply returned.
    own = Importer.objects.get(owner=importer_org)
    assert importer_create(organization=importer_org, ir_number=own.ir_number) == own


def test_a_broker_gets_one_neutral_reply_for_an_owned_or_another_brokers_importer(bob, broker_org, brokers_client, charlie) -> None:  # type: ignore[no-untyped-def]
    rival = BrokerFactory(name="Rival Customs")
    rival_user = UserFactory(username="rival")
    MembershipFactory(user=rival_user, organization=rival, role=Membership.Role.STAFF)
    client = _staff_client(rival_user)
    pages = [client.post(reverse("importer_new"), {"ir_number": ir, "name": "X"}).content.decode()
             for ir in (CLIENT_IR, "55-555555500")]  # managed by another broker; owned by a workspace
    apis = [client.post("/api/importers/", {"ir_number": ir, "name": "X"}).json() for ir in (CLIENT_IR, "55-555555500")]
    assert apis[0] == apis[1] == {"ir_number": [IMPORTER_UNAVAILABLE]}

    def message(page: str) -> str:
        return re.search(r"This importer of record cannot be added[^<]*", page).group(0)  # type: ignore[union-attr]

    assert message(pages[0]) == message(pages[1])
    for text in pages + [json.dumps(apis)]:
        assert "Harbor" not in text and "Outsider" not in text and "owned" not in text and "manages" not in text
    # A broker re-adding its own pending client is idempotent.
    assert importer_create(organization=broker_org, ir_number=CLIENT_IR, user=bob) == brokers_client
    assert ImporterGrant.objects.filter(importer=brokers_client).count() == 1


def test_the_upload_path_cannot_take_or_squat_an_importer(importer_org, charlie, brokers_client, broker_org) -> None:  # type: ignore[no-untyped-def]
    before = Importer.objects.count()
    for ir in (CLIENT_IR, "31-000000100"):
        with pytest.raises(ImporterNotManaged):
            importer_for_upload(organization=importer_org, ir_number=ir, name="X")
    assert Importer.objects.count() == before
    rival = BrokerFactory(name="Rival Customs")
    replies = set()
    for ir in (CLIENT_IR, "55-555555500"):
        with pytest.raises(ServiceError) as exc:
            importer_for_upload(organization=rival, ir_number=ir, name="X")
        replies.add(exc.value.message)
    assert replies == {IMPORTER_UNAVAILABLE}
    _assert_still_the_brokers(brokers_client, broker_org)


def _code() -> str:
    return re.search(r"Verification code: (\d{6})", [m for m in mail.outbox if POC in m.to][-1].body).group(1)  # type: ignore[union-attr]


def test_the_owner_proven_by_the_code_is_audited_in_every_involved_organisations_log(
    client, bob, broker_org, brokers_client, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    second = BrokerFactory(name="Second Broker")
    ImporterGrant.objects.create(importer=brokers_client, organization=second)
    details = {"org_structure": "llc", "owner_first_name": "Dana", "owner_last_name": "Reyes", "country": "US",
               "street": "12 Cedar Lane", "city": "Newark", "state": "NJ", "postal_code": "07102",
               "telephone": "973-555-0142"}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("onboarding_apply"), {"company_name": "Cedar Lane Imports LLC", "ir_number": CLIENT_IR,
                                                  "email": "dana@cedarlane.example"})
    client.post(reverse("onboarding_verify"), {"code": _code()})
    client.post(reverse("onboarding_details"), details)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("onboarding_authorize"),
                               {"authorized": "on", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    brokers_client.refresh_from_db()
    owner = brokers_client.owner
    assert owner is not None and owner.name == "Cedar Lane Imports LLC"
    for org in (owner, broker_org, second):  # the new owner, both managing brokers (the first one created it)
        row = AuditLog.objects.get(action="importer.link", organization=org)
        assert row.object_id == str(brokers_client.pk)


def test_grant_create_and_revoke_are_in_the_owners_and_the_brokers_logs(alice, importer_org, own_importer, broker_org) -> None:  # type: ignore[no-untyped-def]
    from accounts.services import grant_create

    new_broker = BrokerFactory(name="New Broker")
    grant = grant_create(importer=own_importer, organization=new_broker, user=alice)
    assert set(AuditLog.objects.filter(action="grant.create", object_id=str(grant.pk)).values_list("organization", flat=True)) == {
        importer_org.pk, new_broker.pk
    }
    # The owner revokes through the page.
    response = _staff_client(alice).post(reverse("grant_revoke", args=[grant.pk]))
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.revoked_at is not None
    rows = AuditLog.objects.filter(action="grant.revoke", object_id=str(grant.pk))
    assert set(rows.values_list("organization", flat=True)) == {importer_org.pk, new_broker.pk}
    assert all(r.user == alice for r in rows)


def test_an_importer_org_page_points_to_the_account_application(charlie) -> None:  # type: ignore[no-untyped-def]
    page = _staff_client(charlie).get(reverse("importer_new")).content.decode()
    assert reverse("onboarding_apply") in page


def test_a_broker_with_a_grant_from_the_owner_re_adding_it_changes_nothing(bob, broker_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    assert importer_create(organization=broker_org, ir_number=own_importer.ir_number, user=bob) == own_importer
    own_importer.refresh_from_db()
    assert own_importer.owner.kind == "importer"

