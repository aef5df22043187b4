"""Password change and reset (issue #17 item 15): Django's flows, in the site's pages, the reset request
behind the log-in throttle (per address and per email)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import AuditLog
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "tidal-ledger-quarto-41"


def _reset_link(message: mail.EmailMessage) -> str:
    match = re.search(r"https?://testserver(/accounts/password/reset/[^/\s]+/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_a_user_changes_their_password_from_the_settings_page(client, alice) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    assert reverse("password_change") in client.get(reverse("my_settings")).content.decode()
    page = client.get(reverse("password_change")).content.decode()
    assert 'href="/static/css/app.css"' in page and 'name="old_password"' in page
    response = client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD,
    })
    assert response.status_code == 302 and response["Location"] == reverse("password_change_done")
    assert client.get(reverse("importer_list")).status_code == 200  # still logged in here
    assert "Password changed" in client.get(response["Location"]).content.decode()
    assert not Client().login(username="alice", password=PASSWORD)
    assert Client().login(username="alice", password=NEW_PASSWORD)
    assert AuditLog.objects.filter(action="auth.password_change", user=alice).exists()


def test_a_wrong_current_password_changes_nothing(client, alice) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    response = client.post(reverse("password_change"), {
        "old_password": "not-my-password", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD,
    })
    assert response.status_code == 200 and "Your old password was entered incorrectly" in response.content.decode()
    assert Client().login(username="alice", password=PASSWORD)


def test_the_change_page_needs_a_login(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get(reverse("password_change"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_user_resets_a_forgotten_password_by_email(client, alice, fresh_cache) -> None:  # type: ignore[no-untyped-def]
    assert reverse("password_reset") in client.get(reverse("login")).content.decode()
    response = client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert "Check your email" in client.get(response["Location"]).content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.com"]
    assert mail.outbox[0].subject == "Reset your RefundReady password"
    link = _reset_link(mail.outbox[0])
    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    response = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_complete")
    assert Client().login(username="alice", password=NEW_PASSWORD)
    assert AuditLog.objects.filter(action="auth.password_reset", user=alice).exists()
    # The link works once.
    again = Client().get(link, follow=True).content.decode()
    assert "This reset link no longer works" in again


def test_an_unknown_email_gets_the_same_answer_and_no_mail(client, alice, fresh_cache) -> None:  # type: ignore[no-untyped-def]
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


def test_reset_requests_are_throttled_per_email(alice, settings, fresh_cache) -> None:  # type: ignore[no-untyped-def]
    settings.LOGIN_FAILURE_LIMIT = 3
    for n in range(3):
        response = Client(REMOTE_ADDR=f"198.51.100.{n + 1}").post(reverse("password_reset"), {"email": "alice@example.com"})
        assert response.status_code == 302
    response = Client(REMOTE_ADDR="198.51.100.9").post(reverse("password_reset"), {"email": "ALICE@example.com"})
    assert response.status_code == 200
    assert "Too many password reset requests" in response.content.decode()
    assert len(mail.outbox) == 3


def test_reset_requests_are_throttled_per_address(alice, settings, fresh_cache) -> None:  # type: ignore[no-untyped-def]
    settings.LOGIN_FAILURE_LIMIT = 3
    client = Client(REMOTE_ADDR="203.0.113.5")
    for n in range(3):
        assert client.post(reverse("password_reset"), {"email": f"someone{n}@example.com"}).status_code == 302
    response = client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert response.status_code == 200 and "Too many password reset requests" in response.content.decode()
    assert mail.outbox == []
    # Another address still may.
    assert Client(REMOTE_ADDR="203.0.113.6").post(reverse("password_reset"), {"email": "alice@example.com"}).status_code == 302
    assert len(mail.outbox) == 1


def test_a_reset_lifts_the_log_in_lock_out_it_is_offered_for(alice, settings, fresh_cache) -> None:  # type: ignore[no-untyped-def]
    settings.LOGIN_FAILURE_LIMIT = 2
    attacker = Client(REMOTE_ADDR="192.0.2.66")
    for _ in range(2):
        attacker.post(reverse("login"), {"username": "alice", "password": "guess"})
    client = Client()
    locked = client.post(reverse("login"), {"username": "alice", "password": PASSWORD}).content.decode()
    assert "Too many failed log-in attempts" in locked and "reset your password" in locked
    client.post(reverse("password_reset"), {"email": "alice@example.com"})
    link = _reset_link(mail.outbox[0])
    set_url = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    response = client.post(reverse("login"), {"username": "alice", "password": NEW_PASSWORD})
    assert response.status_code == 302
    assert get_user_model().objects.get(username="alice").check_password(NEW_PASSWORD)


def test_concurrent_reset_requests_pass_the_throttle_no_more_than_the_limit(settings, fresh_cache) -> None:  # type: ignore[no-untyped-def]
    """Counted before checking, atomically in the shared cache (Redis when REDIS_URL is set): 20 requests at once
    for one email get exactly LOGIN_FAILURE_LIMIT through."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.test import RequestFactory

    from accounts.throttle import password_reset_allowed

    settings.LOGIN_FAILURE_LIMIT = 5
    barrier = Barrier(20)

    def attempt(n: int) -> bool:
        request = RequestFactory().post("/accounts/password/reset/", REMOTE_ADDR=f"198.51.100.{n + 1}")
        barrier.wait()
        return password_reset_allowed(request, "alice@example.com")

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(attempt, range(20)))
    assert results.count(True) == 5
