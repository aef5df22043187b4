"""A broker records its own email domains; the 5106 POC "broker's domain" warning uses them besides
its members' login domains."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditLog, Membership, Organization
from accounts.onboarding.form5106 import poc_email_warnings
from portfolio.readiness import importer_readiness
from tests.accounts.factories import Form5106RecordFactory
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

POC = "clients@harbor-customs.net"  # not a member's login domain (members log in at example.com)


@pytest.fixture
def harbor_owner(broker_org):  # type: ignore[no-untyped-def]
    return MembershipFactory(organization=broker_org, role=Membership.Role.OWNER, user__username="hana").user


def _save(client, text: str):  # type: ignore[no-untyped-def]
    return client.post(reverse("organization_settings"), {"email_domains": text})


def test_a_recorded_domain_makes_the_poc_email_a_broker_warning(client, harbor_owner, broker_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    Form5106RecordFactory(importer=own_importer, poc_email=POC)
    assert not any("managing broker" in w for w in poc_email_warnings(email=POC, importer=own_importer))
    assert importer_readiness(own_importer)[0].state != "warning"
    client.force_login(harbor_owner)
    assert _save(client, "@Harbor-Customs.net, harborcb.com\nharbor-customs.net").status_code == 302
    assert Organization.objects.get(pk=broker_org.pk).email_domains == ["harbor-customs.net", "harborcb.com"]
    warnings = poc_email_warnings(email=POC, importer=own_importer)
    assert any("Harbor Customs Brokerage's domain (harbor-customs.net)" in w and "managing broker" in w for w in warnings)
    step = importer_readiness(own_importer)[0]
    assert step.state == "warning" and step.status == "POC email at the broker (Harbor Customs Brokerage)"
    log = AuditLog.objects.get(action="organization.email_domains")
    assert log.detail == {"old": [], "new": ["harbor-customs.net", "harborcb.com"]} and log.user == harbor_owner
    assert "harbor-customs.net" in client.get(reverse("organization_settings")).content.decode()


@pytest.mark.parametrize(("text", "message"), [
    ("ops@harborcb.com", "is an email address"),
    ("harbor cb.com!", "is not an email domain"),
    ("gmail.com", "free-mail provider"),
])
def test_bad_domains_are_refused_with_a_clear_message(client, harbor_owner, broker_org, text, message) -> None:  # type: ignore[no-untyped-def]
    client.force_login(harbor_owner)
    response = _save(client, text)
    assert response.status_code == 400 and message in response.content.decode()
    assert Organization.objects.get(pk=broker_org.pk).email_domains == []


def test_only_a_broker_owner_sees_the_page(client, bob, alice, harbor_owner) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)  # broker staff
    assert client.get(reverse("organization_settings")).status_code == 404
    assert _save(client, "harborcb.com").status_code == 404
    client.force_login(alice)  # importer owner
    assert client.get(reverse("organization_settings")).status_code == 404
    assert not AuditLog.objects.filter(action="organization.email_domains").exists()
    client.force_login(harbor_owner)
    assert reverse("organization_settings") in client.get(reverse("my_settings")).content.decode()
