"""The client address behind reverse proxies (settings.TRUSTED_PROXY_COUNT): X-Forwarded-For is believed only as far
as the proxies that wrote it, so a client cannot dodge the log-in lock-out or the onboarding limits by sending one."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.throttle import client_ip
from accounts.views_onboarding import _ip


def _request(remote: str = "10.0.0.1", xff: str | None = None):  # type: ignore[no-untyped-def]
    extra = {"REMOTE_ADDR": remote}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    ("hops", "xff", "expected"),
    [
        (0, None, "10.0.0.1"),
        (0, "6.6.6.6", "10.0.0.1"),  # no proxy configured: the header is the client's word only
        (1, None, "10.0.0.1"),  # configured for a proxy but reached directly
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "6.6.6.6, 203.0.113.7", "203.0.113.7"),  # a forged entry on the left is ignored
        (2, "6.6.6.6, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
        (2, "203.0.113.7", "10.0.0.1"),  # fewer entries than proxies: not through them
        (1, "not-an-address", "10.0.0.1"),
        (1, " 2001:db8::1 ", "2001:db8::1"),
    ],
)
def test_the_client_is_the_entry_as_many_hops_from_the_right_as_trusted_proxies(hops, xff, expected, settings) -> None:  # type: ignore[no-untyped-def]
    settings.TRUSTED_PROXY_COUNT = hops
    request = _request(xff=xff)
    assert client_ip(request) == expected
    assert _ip(request) == expected  # the onboarding limits key on the same address


@pytest.fixture
def lockout(settings):  # type: ignore[no-untyped-def]
    settings.LOGIN_FAILURE_LIMIT = 3
    cache.clear()
    yield
    cache.clear()


def _fail_logins(client: Client, username: str, times: int, **extra: str) -> None:
    for _ in range(times):
        client.post(reverse("login"), {"username": username, "password": "wrong-password"}, **extra)


@pytest.mark.django_db
def test_behind_a_proxy_one_client_locked_out_does_not_lock_out_the_others(lockout, alice, password, settings) -> None:  # type: ignore[no-untyped-def]
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    # An attacker at 198.51.100.9 guesses many usernames: its address is locked...
    attacker = Client(**proxy, HTTP_X_FORWARDED_FOR="198.51.100.9")
    for name in ("a1", "a2", "a3"):
        _fail_logins(attacker, name, 1)
    response = attacker.post(reverse("login"), {"username": "alice", "password": password})
    assert "Too many failed log-in attempts" in response.content.decode()
    # ...while Alice, behind the same proxy, logs in.
    response = Client(**proxy, HTTP_X_FORWARDED_FOR="203.0.113.7").post(reverse("login"), {"username": "alice", "password": password})
    assert response.status_code == 302


@pytest.mark.django_db
def test_a_forged_forwarded_for_does_not_escape_the_lockout(lockout, alice, password, settings) -> None:  # type: ignore[no-untyped-def]
    settings.TRUSTED_PROXY_COUNT = 0
    for n, name in enumerate(("a1", "a2", "a3")):
        _fail_logins(Client(REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}"), name, 1)
    response = Client(REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="192.0.2.200").post(
        reverse("login"), {"username": "alice", "password": password}
    )
    assert "Too many failed log-in attempts" in response.content.decode()
    # With one trusted proxy the attacker's own prefix is ignored too: only the proxy's entry counts.
    settings.TRUSTED_PROXY_COUNT = 1
    cache.clear()
    for n, name in enumerate(("a1", "a2", "a3")):
        _fail_logins(Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 198.51.100.9"), name, 1)
    response = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.200, 198.51.100.9").post(
        reverse("login"), {"username": "alice", "password": password}
    )
    assert "Too many failed log-in attempts" in response.content.decode()


def test_trusted_proxy_count_comes_from_the_environment(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.test_settings import _settings_subprocess

    code = "print(settings.TRUSTED_PROXY_COUNT)"
    assert _settings_subprocess({"DEBUG": "true", "DATA_DIR": str(tmp_path)}, code).stdout.split() == ["0"]
    assert _settings_subprocess({"DEBUG": "true", "DATA_DIR": str(tmp_path), "TRUSTED_PROXY_COUNT": "2"}, code).stdout.split() == ["2"]
    bad = _settings_subprocess({"DEBUG": "true", "DATA_DIR": str(tmp_path), "TRUSTED_PROXY_COUNT": "-1"}, code)
    assert bad.returncode != 0 and "TRUSTED_PROXY_COUNT" in bad.stderr
