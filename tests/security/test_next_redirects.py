"""Open redirects (issue #17 item 11): every route that takes ``next`` follows only a path on this site."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.throttle import reset
from refundready.redirects import safe_next_url
from tests.accounts.factories import Form5106RecordFactory
from tests.factories import PASSWORD, UserFactory

HOSTILE = [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example",
    " //evil.example",
    "/\t/evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "logout",  # a URL name: django.shortcuts.redirect would reverse it
]


def _goes_offsite_or_nowhere(location: str) -> bool:
    return not location.startswith("/") or location.startswith(("//", "/\\")) or "evil.example" in location


@pytest.mark.parametrize("target", HOSTILE)
def test_the_helper_refuses_every_other_site_and_scheme(target: str) -> None:
    request = RequestFactory().post("/x/", {"next": target})
    assert safe_next_url(request, "onboarding_5106_list") == reverse("onboarding_5106_list")


def test_the_helper_keeps_a_path_on_this_site() -> None:
    request = RequestFactory().post("/x/", {"next": "/onboarding/readiness/7/?tab=steps"})
    assert safe_next_url(request, "home") == "/onboarding/readiness/7/?tab=steps"
    assert safe_next_url(RequestFactory().get("/x/", {"next": "/entries/"}), "home") == "/entries/"


@pytest.mark.django_db
@pytest.mark.parametrize("target", HOSTILE)
def test_the_5106_confirm_route_never_redirects_off_site(client, alice, own_importer, target: str) -> None:  # type: ignore[no-untyped-def]
    record = Form5106RecordFactory(importer=own_importer, poc_email="ops@blueheron.example")
    client.force_login(alice)
    response = client.post(reverse("onboarding_5106_confirm", args=[record.pk]), {"next": target})
    assert response.status_code == 302
    assert response["Location"] == reverse("onboarding_5106_list")
    record.refresh_from_db()
    assert record.poc_email_confirmed_on is not None  # the confirmation itself still happens


@pytest.mark.django_db
def test_the_5106_confirm_route_returns_to_the_readiness_page(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    record = Form5106RecordFactory(importer=own_importer, poc_email="ops@blueheron.example")
    client.force_login(alice)
    back = reverse("onboarding_readiness_detail", args=[own_importer.pk])
    response = client.post(reverse("onboarding_5106_confirm", args=[record.pk]), {"next": back})
    assert response.status_code == 302 and response["Location"] == back


@pytest.mark.django_db
@pytest.mark.parametrize("target", HOSTILE)
def test_the_login_page_never_redirects_off_site(client, alice, fresh_cache, target: str) -> None:  # type: ignore[no-untyped-def]
    page = client.get(reverse("login"), {"next": target}).content.decode()
    assert "evil.example" not in page and "javascript:" not in page
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD, "next": target})
    assert response.status_code == 302 and not _goes_offsite_or_nowhere(response["Location"]), response["Location"]
    assert response["Location"] == reverse("home")


@pytest.mark.django_db
def test_the_login_page_follows_a_path_on_this_site(client, alice, fresh_cache) -> None:  # type: ignore[no-untyped-def]
    reset(username="alice", ip="127.0.0.1")
    response = client.post(reverse("login") + "?next=/entries/", {"username": "alice", "password": PASSWORD, "next": "/entries/"})
    assert response.status_code == 302 and response["Location"] == "/entries/"


@pytest.mark.django_db
@pytest.mark.parametrize("target", HOSTILE)
def test_logout_never_redirects_off_site(client, alice, target: str) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    response = client.post(reverse("logout"), {"next": target})
    assert response.status_code == 302 and response["Location"] == reverse("login")


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/"])
def test_the_admin_login_never_redirects_off_site(fresh_cache, target: str) -> None:  # type: ignore[no-untyped-def]
    UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD, "next": target})
    # Django's admin log-in: an unsafe next falls back to LOGIN_REDIRECT_URL.
    assert response.status_code == 302 and response["Location"] == reverse("home")
