"""Login throttling: after LOGIN_FAILURE_LIMIT failures for a username or an IP address, refuse further
attempts for LOGIN_LOCKOUT_SECONDS (counted in the shared cache, so every web process agrees)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def _keys(request: HttpRequest, username: str) -> list[str]:
    ip = request.META.get("REMOTE_ADDR", "")
    user_key = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return [f"login-fail:user:{user_key}", f"login-fail:ip:{ip}"]


def is_locked(request: HttpRequest, username: str) -> bool:
    return any((cache.get(k) or 0) >= settings.LOGIN_FAILURE_LIMIT for k in _keys(request, username))


def record_failure(request: HttpRequest, username: str) -> None:
    for key in _keys(request, username):
        if cache.add(key, 1, settings.LOGIN_LOCKOUT_SECONDS):
            continue
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, settings.LOGIN_LOCKOUT_SECONDS)


def clear(request: HttpRequest, username: str) -> None:
    cache.delete(_keys(request, username)[0])


def reset(*, username: str, ip: str) -> None:
    """Forget the failures recorded for a username and an address (an administrator unlocking a user)."""
    user_key = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    cache.delete_many([f"login-fail:user:{user_key}", f"login-fail:ip:{ip}"])
