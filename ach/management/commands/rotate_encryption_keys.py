"""Re-encrypt every stored bank account number with the first FIELD_ENCRYPTION_KEY.

Rotation: put the new key first in FIELD_ENCRYPTION_KEY (new,old), run this command, and once it
reports 0 failures remove the old key.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ach.services import encryption_keys_rotate


class Command(BaseCommand):
    help = "Re-encrypt stored ACH account numbers with the first FIELD_ENCRYPTION_KEY (key rotation)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        result = encryption_keys_rotate(batch_size=batch_size)
        self.stdout.write(f"checked {result.checked}, re-encrypted {result.rotated}, failed {len(result.failed)}")
        if result.failed:
            raise CommandError(
                f"{len(result.failed)} value(s) could not be decrypted with any configured key (enrollment ids "
                f"{', '.join(map(str, result.failed[:20]))}): do not remove old keys yet."
            )
