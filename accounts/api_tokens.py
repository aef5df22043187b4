"""API tokens: made, replaced, revoked, checked. The key is shown once; the database holds its SHA-256 only.

A plain (unsalted, fast) SHA-256 is enough here, unlike for passwords: keys are 256 random bits
(secrets.token_urlsafe(32); tokens from before hashing were 160 random bits), so no guess list or brute force
reaches them, and a deterministic hash is what lets a request's key be looked up by an index."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken, Organization
from accounts.services import audit

# Last use is written at most this often per token, so a busy API client does not cost a write per request.
LAST_USED_EVERY = timedelta(minutes=1)
# What the user may choose on the API token page (days; None: never expires).
EXPIRY_CHOICES: list[tuple[str, str]] = [("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("never", "Never")]
DEFAULT_EXPIRY = "90"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def expiry_from_choice(choice: str, *, now: datetime | None = None) -> datetime | None:
    if choice == "never":
        return None
    return (now or timezone.now()) + timedelta(days=int(choice))


@transaction.atomic
def api_token_create(*, user: Any, expires_at: datetime | None, organization: Organization | None = None) -> tuple[ApiToken, str]:
    """Make the user's token (replacing any it had) and return it with its key: the only time the key exists."""
    key = secrets.token_urlsafe(32)
    ApiToken.objects.filter(user=user).delete()
    token = ApiToken.objects.create(user=user, key_hash=hash_key(key), prefix=key[:8], expires_at=expires_at)
    audit(action="api_token.create", user=user, organization=organization,
          expires_at=expires_at.isoformat() if expires_at else "never")
    return token, key


def api_token_revoke(*, user: Any, organization: Organization | None = None) -> bool:
    deleted = ApiToken.objects.filter(user=user).delete()[0] > 0
    if deleted:
        audit(action="api_token.revoke", user=user, organization=organization)
    return deleted


def api_token_for_key(key: str) -> ApiToken | None:
    return ApiToken.objects.select_related("user").filter(key_hash=hash_key(key)).first()


def api_token_touch(*, token: ApiToken, ip: str | None, now: datetime) -> None:
    """Record a use. A conditional UPDATE (not save()): concurrent requests write once a minute at most and
    never overwrite a newer time with an older one."""
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_EVERY and token.last_used_ip == ip:
        return
    ApiToken.objects.filter(pk=token.pk).exclude(last_used_at__gte=now).update(last_used_at=now, last_used_ip=ip or None)
