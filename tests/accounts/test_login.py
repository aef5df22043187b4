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


def _staff(username: str = "root"):  # type: ignore[no-untyped-def]
    from tests.factories import UserFactory

    return UserFactory(username=username, is_staff=True, is_superuser=True)


def test_admin_login_is_locked_out_after_repeated_failures(client, db, settings, fresh_cache) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import PASSWORD

    root = _staff()
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        response = client.post("/admin/login/", {"username": "root", "password": "wrong-password"})
        assert response.status_code == 200 and "_auth_user_id" not in client.session
    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert "Too many failed log-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditLog.objects.filter(action="auth.login_failed", detail__username="root").count() == 3
    reset(username="root", ip="127.0.0.1")
    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(root.pk)


def test_admin_and_site_login_share_one_lockout_per_username(client, db, settings, fresh_cache) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client

    from tests.factories import PASSWORD

    _staff()
    settings.LOGIN_FAILURE_LIMIT = 4
    for _ in range(2):
        client.post(reverse("login"), {"username": "root", "password": "wrong-password"})
    for _ in range(2):
        client.post("/admin/login/", {"username": "root", "password": "wrong-password"})
    # From another address: the username's own counter is full, whichever page counted the failures.
    elsewhere = Client(REMOTE_ADDR="198.51.100.7")
    response = elsewhere.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert "Too many failed log-in attempts" in response.content.decode()
    assert "_auth_user_id" not in elsewhere.session


def test_admin_login_is_locked_out_per_address_across_usernames(client, db, settings, fresh_cache) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import PASSWORD

    _staff()
    settings.LOGIN_FAILURE_LIMIT = 3
    for name in ("admin", "administrator", "sysadmin"):
        client.post("/admin/login/", {"username": name, "password": "wrong-password"})
    response = client.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert "Too many failed log-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
