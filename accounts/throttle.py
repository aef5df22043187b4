"""Login throttling: after LOGIN_FAILURE_LIMIT failures for a username or an IP address, refuse further
attempts for LOGIN_LOCKOUT_SECONDS (counted in the shared cache, so every web process agrees).
Password reset requests are counted the same way (every request, per email address and per IP address), so
that the reset form cannot be used to flood a mailbox or to send mail in bulk."""

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


def _name_key(name: str) -> str:
    return hashlib.sha256(name.strip().lower().encode()).hexdigest()[:32]


def _keys(request: HttpRequest, username: str) -> list[str]:
    ip = client_ip(request)
    return [f"login-fail:user:{_name_key(username)}", f"login-fail:ip:{ip}"]


def is_locked(request: HttpRequest, username: str) -> bool:
    return any((cache.get(k) or 0) >= settings.LOGIN_FAILURE_LIMIT for k in _keys(request, username))


def _count(key: str) -> int:
    """Add one to the key's count (cache.add/incr are atomic in Redis); the window starts at the first."""
    if cache.add(key, 1, settings.LOGIN_LOCKOUT_SECONDS):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, settings.LOGIN_LOCKOUT_SECONDS)
        return 1


def record_failure(request: HttpRequest, username: str) -> None:
    for key in _keys(request, username):
        _count(key)


def password_reset_allowed(request: HttpRequest, email: str) -> bool:
    """Count one password reset request for the address and the email; False once either has made more than
    LOGIN_FAILURE_LIMIT within LOGIN_LOCKOUT_SECONDS. Counted before checking, so that concurrent requests
    cannot all pass; whether the email belongs to a user plays no part (the answer must not tell)."""
    counts = [_count(f"reset-request:email:{_name_key(email)}"), _count(f"reset-request:ip:{client_ip(request)}")]
    return all(count <= settings.LOGIN_FAILURE_LIMIT for count in counts)


def clear(request: HttpRequest, username: str) -> None:
    cache.delete(_keys(request, username)[0])


def reset(*, username: str, ip: str) -> None:
    """Forget the failures recorded for a username and an address (an administrator unlocking a user)."""
    cache.delete_many([f"login-fail:user:{_name_key(username)}", f"login-fail:ip:{ip}"])
