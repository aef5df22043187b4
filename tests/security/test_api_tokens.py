"""API tokens (issue #17 item 16): stored as a hash, shown once, with an expiry the user chooses and the
last use recorded; the migration hashes the plain tokens made before, which keep working."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken
from tests.security.conftest import new_key_on

URL = "/api/importers/"
START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _create(client: Client, expires_in: str = "90") -> str:
    return new_key_on(client.post(reverse("api_token"), {"action": "create", "expires_in": expires_in}))


@pytest.fixture
def page(client, alice) -> Client:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    return client


@pytest.mark.django_db
def test_the_database_holds_no_plain_key(page, alice) -> None:  # type: ignore[no-untyped-def]
    key = _create(page)
    token = ApiToken.objects.get(user=alice)
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    with connection.cursor() as cursor:
        for table in ("accounts_apitoken", "authtoken_token"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
            rows = cursor.fetchall()
            assert not any(key in str(value) for row in rows for value in row), table
    assert Client().get(URL, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    # Knowing the stored hash is no key.
    assert Client().get(URL, HTTP_AUTHORIZATION=f"Token {token.key_hash}").status_code == 401


@pytest.mark.django_db
def test_the_page_shows_the_key_once_only(page, alice) -> None:  # type: ignore[no-untyped-def]
    response = page.post(reverse("api_token"), {"action": "create", "expires_in": "90"})
    key = new_key_on(response)
    assert "no-store" in response["Cache-Control"]
    later = page.get(reverse("api_token")).content.decode()
    assert key not in later and 'id="new-token"' not in later
    assert f"{key[:8]}…" in later  # its prefix, to recognise it by


@pytest.mark.django_db
def test_an_expired_token_gets_a_401_that_says_so(page, alice) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(START, tick=False) as clock:
        key = _create(page, "30")
        assert ApiToken.objects.get(user=alice).expires_at == START + timedelta(days=30)
        clock.shift(timedelta(days=29, hours=23))
        assert Client().get(URL, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
        clock.shift(timedelta(hours=1))
        response = Client().get(URL, HTTP_AUTHORIZATION=f"Token {key}")
        assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
        detail = response.json()["detail"]
        assert "expired on Apr 01, 2026" in detail and reverse("api_token") in detail
        assert "expired: the API refuses it" in page.get(reverse("api_token")).content.decode()


@pytest.mark.django_db
def test_a_token_may_never_expire(page, alice) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(START, tick=False) as clock:
        key = _create(page, "never")
        assert ApiToken.objects.get(user=alice).expires_at is None
        clock.shift(timedelta(days=3650))
        assert Client().get(URL, HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


@pytest.mark.django_db
def test_an_expiry_not_offered_is_refused(page, alice) -> None:  # type: ignore[no-untyped-def]
    response = page.post(reverse("api_token"), {"action": "create", "expires_in": "99999"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not ApiToken.objects.filter(user=alice).exists()


@pytest.mark.django_db
def test_the_last_use_is_recorded_and_shown(page, alice) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(START, tick=False) as clock:
        key = _create(page)
        assert "Last used</dt><dd>never" in page.get(reverse("api_token")).content.decode()
        Client(REMOTE_ADDR="198.51.100.23").get(URL, HTTP_AUTHORIZATION=f"Token {key}")
        token = ApiToken.objects.get(user=alice)
        assert token.last_used_at == START and token.last_used_ip == "198.51.100.23"
        shown = page.get(reverse("api_token")).content.decode()
        assert "from 198.51.100.23" in shown and "Last used</dt><dd>never" not in shown
        clock.shift(timedelta(seconds=20))  # written at most once a minute from one address
        Client(REMOTE_ADDR="198.51.100.23").get(URL, HTTP_AUTHORIZATION=f"Token {key}")
        assert ApiToken.objects.get(user=alice).last_used_at == START
        clock.shift(timedelta(minutes=2))
        Client(REMOTE_ADDR="198.51.100.23").get(URL, HTTP_AUTHORIZATION=f"Token {key}")
        assert ApiToken.objects.get(user=alice).last_used_at == START + timedelta(minutes=2, seconds=20)


@pytest.mark.django_db
def test_a_failed_key_records_no_use(page, alice) -> None:  # type: ignore[no-untyped-def]
    _create(page)
    assert Client().get(URL, HTTP_AUTHORIZATION="Token not-the-key").status_code == 401
    assert ApiToken.objects.get(user=alice).last_used_at is None


MIGRATION = ("accounts", "0004_h_http_api_tokens")
BEFORE = [("accounts", "0003_organization_email_domains"), ("authtoken", "0004_alter_tokenproxy_options")]


@pytest.mark.django_db(transaction=True)
def test_the_migration_hashes_existing_tokens_and_they_keep_working() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        User = old.get_model("auth", "User")
        Token = old.get_model("authtoken", "Token")
        Organization, Membership = old.get_model("accounts", "Organization"), old.get_model("accounts", "Membership")
        org = Organization.objects.create(name="Blue Heron Housewares", slug="blue-heron", kind="importer")
        keys = {}
        for name in ("alice", "bob"):
            user = User.objects.create(username=name, password="!")
            Membership.objects.create(user=user, organization=org, role="owner")
            keys[name] = Token.objects.create(key=hashlib.sha1(name.encode()).hexdigest(), user=user).key
        executor = MigrationExecutor(connection)
        executor.migrate([MIGRATION])
    finally:
        MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
    assert ApiToken.objects.count() == 2
    for name, key in keys.items():
        token = ApiToken.objects.get(user__username=name)
        assert token.key_hash == hashlib.sha256(key.encode()).hexdigest() and token.prefix == key[:8]
        assert token.expires_at is None
        response = Client().get(URL, HTTP_AUTHORIZATION=f"Token {key}")
        assert response.status_code == 200, response.content


@pytest.mark.django_db
def test_the_admin_lists_tokens_without_their_hash_and_makes_none(alice) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import UserFactory, api_key_for

    api_key_for(alice)
    token = ApiToken.objects.get(user=alice)
    admin = Client()
    admin.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    listing = admin.get("/admin/accounts/apitoken/")
    assert listing.status_code == 200 and token.prefix in listing.content.decode()
    detail = admin.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
    assert token.key_hash not in detail
    assert admin.get("/admin/accounts/apitoken/add/").status_code == 403
    assert admin.get("/admin/authtoken/tokenproxy/").status_code == 404  # DRF's plaintext tokens: no page
