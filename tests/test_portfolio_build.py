"""The portfolio's bulk build: the ticked importers only; an empty selection is refused beside the
button (it used to build for every importer); every client importer only through its own button."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditLog
from cape.models import Declaration
from tests.factories import MembershipFactory
from tests.test_dashboard import _fresh_cache, classified, clients  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def _built(broker_org) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(d.importer.name for d in Declaration.objects.filter(organization=broker_org))


def test_an_empty_selection_builds_nothing_and_says_so_beside_the_button(client, bob, broker_org, clients) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    client.force_login(bob)
    response = client.post(reverse("dashboard"), {"scope": "selected"})
    assert response.status_code == 400
    assert not Declaration.objects.exists()
    html = response.content.decode()
    assert 'data-testid="build-error"' in html and "No importer is ticked" in html
    assert 'aria-describedby="build-error"' in html  # the button points at its error
    assert response.templates[0].name == "dashboard/portfolio.html"


def test_a_submission_without_a_scope_is_read_as_the_ticked_ones_and_refused_when_empty(client, bob, broker_org, clients) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    client.force_login(bob)
    response = client.post(reverse("dashboard"), {})
    assert response.status_code == 400 and "No importer is ticked" in response.content.decode()
    assert not Declaration.objects.exists()


def test_the_ticked_importers_get_one_declaration_each(client, bob, broker_org, clients) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    client.force_login(bob)
    response = client.post(reverse("dashboard"), {"scope": "selected", "importers": [clients["cedar"].pk]})
    assert response.status_code == 302
    assert _built(broker_org) == ["Cedar Lane Imports LLC"]
    assert AuditLog.objects.filter(action="declaration.build", organization=broker_org).count() == 1


def test_the_explicit_all_button_builds_for_every_client_importer(client, bob, broker_org, clients) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    client.force_login(bob)
    response = client.post(reverse("dashboard"), {"scope": "all"})
    assert response.status_code == 302
    assert _built(broker_org) == ["Blue Heron Housewares Inc", "Cedar Lane Imports LLC", "Dune Outfitters"]


def test_the_portfolio_offers_both_buttons(client, bob, clients) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    client.force_login(bob)
    html = client.get(reverse("dashboard")).content.decode()
    assert 'name="scope" value="selected"' in html and 'name="scope" value="all"' in html
    assert "Build CAPE files for every client importer" in html


def test_another_organisations_importer_cannot_be_ticked(client, bob, broker_org, clients, charlie) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from accounts.models import Importer

    outsider = Importer.objects.get(name="Outsider Trading LLC")
    client.force_login(bob)
    response = client.post(reverse("dashboard"), {"scope": "selected", "importers": [outsider.pk]})
    assert response.status_code == 400 and not Declaration.objects.exists()


def test_a_viewer_cannot_build_from_the_portfolio(client, broker_org, clients) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    viewer = MembershipFactory(organization=broker_org, role="viewer").user
    client.force_login(viewer)
    assert client.post(reverse("dashboard"), {"scope": "all"}).status_code == 403
    assert not Declaration.objects.exists()


def test_an_importer_organisation_cannot_post_to_its_dashboard(client, alice) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    assert client.post(reverse("dashboard"), {"scope": "all"}).status_code == 405
