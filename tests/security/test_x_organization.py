"""X-Organization (issue #17 item 10): a slug the user is not in is refused, never replaced by another
organisation. 403 for an organisation that exists, 400 for a slug no organisation has; neither message
names any organisation but the user's own."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import Membership
from tests.factories import ImporterFactory, MembershipFactory, OrganizationFactory, api_key_for

pytestmark = pytest.mark.django_db

URL = "/api/importers/"


@pytest.fixture
def session(alice) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def token_client(alice) -> Client:  # type: ignore[no-untyped-def]
    return Client(HTTP_AUTHORIZATION=f"Token {api_key_for(alice)}")


def _names(response: Any) -> list[str]:
    return [row["name"] for row in response.json()["results"]]


def test_a_slug_that_does_not_exist_is_a_400_with_the_reason(session, token_client) -> None:  # type: ignore[no-untyped-def]
    for client in (session, token_client):
        response = client.get(URL, HTTP_X_ORGANIZATION="no-such-org")
        assert response.status_code == 400, response.content
        detail = response.json()["detail"]
        assert "X-Organization" in detail and "no organisation has that slug" in detail
        assert "blue-heron" in detail  # the user's own slug, to send instead
        assert "Blue Heron Housewares Inc" not in response.content.decode()


def test_an_organisation_the_user_is_not_in_is_a_403_naming_nothing_of_it(session, token_client, charlie) -> None:  # type: ignore[no-untyped-def]
    for client in (session, token_client):
        for method in ("get", "post", "delete"):
            response = getattr(client, method)(URL, HTTP_X_ORGANIZATION="outsider")
            assert response.status_code == 403, (method, response.content)
            body = response.content.decode()
            assert "not a member of that organisation" in body
            assert "Outsider Trading" not in body and "Blue Heron Housewares Inc" not in body
            assert "55-555555500" not in body


def test_the_messages_name_only_the_users_own_organisations(session, charlie, broker_org) -> None:  # type: ignore[no-untyped-def]
    for slug in ("outsider", "harbor", "nope"):
        body = session.get(URL, HTTP_X_ORGANIZATION=slug).content.decode()
        assert "Outsider Trading" not in body and "Harbor Customs" not in body
        assert "outsider" not in body.replace(slug, "") and "harbor" not in body.replace(slug, "")


def test_the_header_picks_the_named_organisation_over_the_session_one(alice, session) -> None:  # type: ignore[no-untyped-def]
    second = OrganizationFactory(name="Second Org", slug="second-org")
    ImporterFactory(owner=second, name="Second Importer", ir_number="22-222222200")
    MembershipFactory(organization=second, user=alice, role=Membership.Role.OWNER)
    assert _names(session.get(URL)) == ["Blue Heron Housewares Inc"]  # first by name: Blue Heron
    assert _names(session.get(URL, HTTP_X_ORGANIZATION="second-org")) == ["Second Importer"]
    session.post("/accounts/switch/", {"organization": alice.memberships.get(organization__slug="blue-heron").organization_id})
    assert _names(session.get(URL, HTTP_X_ORGANIZATION="second-org")) == ["Second Importer"]
    assert _names(session.get(URL, HTTP_X_ORGANIZATION="blue-heron")) == ["Blue Heron Housewares Inc"]
    session.post("/accounts/switch/", {"organization": second.pk})
    assert _names(session.get(URL)) == ["Second Importer"]
    assert _names(session.get(URL, HTTP_X_ORGANIZATION="blue-heron")) == ["Blue Heron Housewares Inc"]


def test_an_anonymous_caller_cannot_probe_slugs(client, charlie) -> None:  # type: ignore[no-untyped-def]
    statuses = {client.get(URL, HTTP_X_ORGANIZATION=slug).status_code for slug in ("outsider", "no-such-org")}
    assert statuses == {401}
