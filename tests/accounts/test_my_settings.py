"""My settings: each member turns the daily deadline digest on or off for itself, per organisation."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import AuditLog, Membership
from cape.classify import classify_entries, digest_send
from tests.factories import EntryFactory, MembershipFactory

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 11, 22)


def _toggle(client, membership: Membership, on: bool):  # type: ignore[no-untyped-def]
    data = {"membership": str(membership.pk)}
    if on:
        data[f"m{membership.pk}-email_digest"] = "on"
    return client.post(reverse("my_settings"), data)


def test_the_page_lists_a_labelled_toggle_per_organisation_and_is_linked_from_the_nav(client, alice, broker_org) -> None:  # type: ignore[no-untyped-def]
    second = MembershipFactory(user=alice, organization=broker_org, role=Membership.Role.VIEWER)
    client.force_login(alice)
    home = client.get(reverse("importer_list")).content.decode()
    assert f'href="{reverse("my_settings")}"' in home
    html = client.get(reverse("my_settings")).content.decode()
    first = Membership.objects.get(user=alice, organization__slug="blue-heron")
    for m in (first, second):
        assert f'<label for="id_m{m.pk}-email_digest">Daily deadline digest</label>' in html
        assert f'id="id_m{m.pk}-email_digest" checked' in html
    assert "Blue Heron Housewares" in html and "Harbor Customs Brokerage" in html


def test_turning_it_off_is_per_user_and_per_organisation_and_audited(client, alice, vera, broker_org) -> None:  # type: ignore[no-untyped-def]
    mine_at_broker = MembershipFactory(user=alice, organization=broker_org, role=Membership.Role.STAFF)
    mine = Membership.objects.get(user=alice, organization__slug="blue-heron")
    client.force_login(alice)
    r = _toggle(client, mine, on=False)
    assert r.status_code == 302
    assert Membership.objects.get(pk=mine.pk).email_digest is False
    assert Membership.objects.get(pk=mine_at_broker.pk).email_digest is True  # the other organisation is untouched
    assert Membership.objects.get(user=vera).email_digest is True  # another member is untouched
    log = AuditLog.objects.get(action="membership.email_digest")
    assert (log.user, log.organization.slug, log.detail) == (alice, "blue-heron", {"email_digest": False})
    assert f'id="id_m{mine.pk}-email_digest" checked' not in client.get(reverse("my_settings")).content.decode()
    _toggle(client, mine, on=True)
    assert Membership.objects.get(pk=mine.pk).email_digest is True


def test_a_viewer_may_turn_off_its_own_digest(client, vera) -> None:  # type: ignore[no-untyped-def]
    client.force_login(vera)
    assert _toggle(client, Membership.objects.get(user=vera), on=False).status_code == 302
    assert Membership.objects.get(user=vera).email_digest is False


def test_another_users_membership_is_a_404(client, alice, vera, charlie) -> None:  # type: ignore[no-untyped-def]
    client.force_login(charlie)
    for victim in (Membership.objects.get(user=vera), Membership.objects.get(user=alice)):
        assert _toggle(client, victim, on=False).status_code == 404
        assert Membership.objects.get(pk=victim.pk).email_digest is True
    assert client.post(reverse("my_settings"), {"membership": "abc"}).status_code == 404


def test_the_digest_skips_a_member_who_turned_it_off_and_links_to_my_settings(client, importer_org, own_importer, alice, vera,
                                                                             settings) -> None:  # type: ignore[no-untyped-def]
    settings.SITE_URL = "https://refundready.example"
    EntryFactory(organization=importer_org, importer=own_importer, liquidation_status="liquidated",
                 liquidation_date=date(2026, 9, 10))  # CAPE window closes 2026-11-28
    classify_entries(organization=importer_org, as_of=AS_OF)
    client.force_login(vera)
    _toggle(client, Membership.objects.get(user=vera), on=False)
    mail.outbox.clear()
    since = datetime(2026, 11, 21, tzinfo=UTC)
    assert digest_send(organization=importer_org, as_of=AS_OF, since=since) == 1
    (msg,) = mail.outbox
    assert msg.to == [alice.email]
    assert "https://refundready.example/accounts/settings/" in msg.body
    html = dict((m, c) for c, m in msg.alternatives)["text/html"]
    assert 'href="https://refundready.example/accounts/settings/"' in html
