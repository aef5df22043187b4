"""Encryption of bank account numbers at rest (no ORM here).

MultiFernet over ``settings.FIELD_ENCRYPTION_KEYS``: the first key encrypts, every key decrypts.
Rotation: prepend a new key to FIELD_ENCRYPTION_KEY, run ``manage.py rotate_encryption_keys`` (re-encrypts
every stored value with the new first key), then remove the old key.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.views.decorators.debug import sensitive_variables


class DecryptionFailed(Exception):
    """No configured key opens this value (a key was removed before rotation finished)."""


def _fernet(keys: list[str] | None = None) -> MultiFernet:
    keys = list(keys if keys is not None else settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        raise DecryptionFailed("FIELD_ENCRYPTION_KEYS is empty")
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


@sensitive_variables("plain")
def encrypt(plain: str, *, keys: list[str] | None = None) -> str:
    return _fernet(keys).encrypt(plain.encode()).decode("ascii")


@sensitive_variables()
def decrypt(token: str, *, keys: list[str] | None = None) -> str:
    try:
        return _fernet(keys).decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        raise DecryptionFailed("none of the configured FIELD_ENCRYPTION_KEYS decrypts this value") from None


@sensitive_variables()
def rotate(token: str, *, keys: list[str] | None = None) -> str:
    """Re-encrypt with the first key (MultiFernet.rotate keeps the original timestamp)."""
    try:
        return _fernet(keys).rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise DecryptionFailed("none of the configured FIELD_ENCRYPTION_KEYS decrypts this value") from None


def encrypted_with_primary(token: str, *, keys: list[str] | None = None) -> bool:
    keys = list(keys if keys is not None else settings.FIELD_ENCRYPTION_KEYS)
    try:
        Fernet(keys[0].encode()).decrypt(token.encode("ascii"))
    except InvalidToken:
        return False
    return True


def mask(last4: str) -> str:
    """The only form an account number is ever shown in."""
    return f"••••{last4}" if last4 else ""
