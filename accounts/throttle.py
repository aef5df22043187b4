"""Login throttling: after LOGIN_FAILURE_LIMIT failures for a username or an IP address, refuse further
attempts for LOGIN_LOCKOUT_SECONDS (counted in the shared cache, so every web process agrees)."""

from __future__ import annotations

import hashlib
import ipaddress

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address. Behind settings.TRUSTED_PROXY_COUNT proxies, each appending the address it was reached
    from to X-Forwarded-For, the client is the entry that many from the right: whatever lies further left was sent by
    the client and may be forged. A header shorter than that, or an entry that is not an address, means the request
    did not come through the proxies: REMOTE_ADDR is used."""
    remote = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0:
        return remote
    chain = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(chain) < hops:
        return remote
    candidate = chain[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def _keys(request: HttpRequest, username: str) -> list[str]:
    ip = client_ip(request)
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
