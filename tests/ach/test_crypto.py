"""The account number is encrypted at rest; key rotation re-encrypts and lets the old key go."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import AuditLog
from ach import crypto
from ach.models import AchEnrollment
from ach.services import enrollment_details_save
from tests.factories import ImporterFactory

pytestmark = pytest.mark.django_db

ACCOUNT = "40012345678901234"  # 17 digits


def _save(importer, number: str = ACCOUNT) -> AchEnrollment:  # type: ignore[no-untyped-def]
    return enrollment_details_save(importer=importer, bank_name="First Bank", routing_number="021000021", account_number=number,
                                   account_type="checking", account_holder="Blue Heron Housewares Inc")


def _raw_rows() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM ach_achenrollment")
        return cursor.fetchall()


def test_the_raw_database_value_never_contains_the_account_number(own_importer) -> None:  # type: ignore[no-untyped-def]
    enrollment = _save(own_importer)
    rows = _raw_rows()
    assert rows
    raw = " ".join(str(v) for row in rows for v in row)
    assert ACCOUNT not in raw
    assert ACCOUNT[:-4] not in raw  # nor any long part of it beyond the last four digits
    assert "1234" in raw  # the last four are stored for display
    assert crypto.decrypt(enrollment.account_number_encrypted) == ACCOUNT
    with connection.cursor() as cursor:
        cursor.execute("SELECT detail FROM accounts_auditlog")
        audit_raw = " ".join(str(r[0]) for r in cursor.fetchall())
    assert AuditLog.objects.filter(action="ach.details_save").exists()
    assert ACCOUNT not in audit_raw and ACCOUNT[:-4] not in audit_raw and "1234" in audit_raw


def test_two_saves_of_the_same_number_give_different_ciphertexts(own_importer) -> None:  # type: ignore[no-untyped-def]
    first = _save(own_importer).account_number_encrypted
    second = _save(own_importer).account_number_encrypted
    assert first != second  # Fernet uses a random IV: equal numbers are not recognisable in the table


@pytest.mark.parametrize("bad", ["12a4567", "123", "123456789012345678", ""])
def test_it_refuses_a_bad_account_number_without_repeating_it(own_importer, bad: str) -> None:  # type: ignore[no-untyped-def]
    from accounts.services import ServiceError

    with pytest.raises(ServiceError) as exc:
        _save(own_importer, bad)
    assert exc.value.field == "account_number"
    if bad:
        assert bad not in exc.value.message
    assert not AchEnrollment.objects.filter(importer=own_importer).exclude(account_number_encrypted="").exists()


def test_key_rotation_re_encrypts_and_the_old_key_can_then_be_removed(settings, own_importer) -> None:  # type: ignore[no-untyped-def]
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    _save(own_importer)
    other = ImporterFactory()
    _save(other, "5555666677")
    token_before = AchEnrollment.objects.get(importer=own_importer).account_number_encrypted
    assert crypto.decrypt(token_before, keys=[old]) == ACCOUNT

    settings.FIELD_ENCRYPTION_KEYS = [new, old]  # prepend the new key
    assert crypto.decrypt(token_before) == ACCOUNT  # still readable before rotation
    assert not crypto.encrypted_with_primary(token_before)
    call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))

    settings.FIELD_ENCRYPTION_KEYS = [new]  # remove the old key
    for enrollment in AchEnrollment.objects.all():
        assert crypto.encrypted_with_primary(enrollment.account_number_encrypted)
        assert crypto.decrypt(enrollment.account_number_encrypted) in {ACCOUNT, "5555666677"}
    with pytest.raises(crypto.DecryptionFailed):
        crypto.decrypt(token_before)  # the pre-rotation ciphertext needed the old key
    assert AuditLog.objects.get(action="ach.keys_rotate").detail["rotated"] == 2


def test_rotation_is_idempotent_and_fails_loudly_on_an_unknown_key(settings, own_importer) -> None:  # type: ignore[no-untyped-def]
    lost, current = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [current]
    _save(own_importer)
    call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))
    assert AuditLog.objects.filter(action="ach.keys_rotate").latest("at").detail["rotated"] == 0
    orphan = ImporterFactory()
    AchEnrollment.objects.create(importer=orphan, account_number_encrypted=crypto.encrypt("99998888", keys=[lost]), account_last4="8888")
    with pytest.raises(CommandError, match="do not remove old keys"):
        call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))
    assert AchEnrollment.objects.get(importer=orphan).account_number_encrypted  # listed, never dropped
