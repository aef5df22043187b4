from __future__ import annotations

from django.urls import reverse

from accounts.models import AuditLog
from accounts.throttle import reset


def test_login_is_throttled_after_repeated_failures(client, alice, password, settings) -> None:  # type: ignore[no-untyped-def]
    reset(username="alice", ip="127.0.0.1")
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        response = client.post(reverse("login"), {"username": "alice", "password": "wrong-password"})
        assert "Please enter a correct username and password" in response.content.decode()
    response = client.post(reverse("login"), {"username": "alice", "password": password})
    assert "Too many failed log-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditLog.objects.filter(action="auth.login_failed").count() == 3
    reset(username="alice", ip="127.0.0.1")
    response = client.post(reverse("login"), {"username": "alice", "password": password})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(alice.pk)


def test_pages_need_a_login_and_post_needs_csrf(alice, password) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.get(reverse("importer_list")).status_code == 302
    assert strict.post(reverse("login"), {"username": "alice", "password": password}).status_code == 403
