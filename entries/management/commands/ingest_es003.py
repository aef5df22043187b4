"""python manage.py ingest_es003 FILE [FILE ...] --org SLUG"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from entries.ingest.cli import ingest_files


class Command(BaseCommand):
    help = "Ingest ES-003 Entry Summary Line Tariff Details reports (CSV or XLSX) into an organisation."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("files", nargs="+", help="ES-003 report files")
        parser.add_argument("--org", required=True, help="organisation slug")
        parser.add_argument("--user", help="username recorded as the uploader (optional)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            organization = Organization.objects.get(slug=options["org"])
        except Organization.DoesNotExist:
            raise CommandError(f"No organisation with slug {options['org']!r}.") from None
        user = None
        if options.get("user"):
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user {options['user']!r}.")
        result = ingest_files(organization=organization, paths=options["files"], user=user)
        for upload in result.uploads:
            s = upload.summary or {}
            if upload.status == "done":
                self.stdout.write(
                    f"{upload.original_name}: {s.get('rows_read', 0)} rows, {s.get('entries_created', 0)} entries created, "
                    f"{s.get('entries_updated', 0)} updated, {s.get('lines', 0)} lines, {s.get('rows_rejected', 0)} rows rejected, "
                    f"{s.get('warnings', 0)} warnings"
                )
                for w in upload.warnings:
                    self.stdout.write(self.style.WARNING(f"  warning: {w}"))
        for e in result.rejected_rows[:50]:
            self.stderr.write(f"  {e['file']} row {e['row']}, {e['column']} {e['value']!r}: {e['reason']}")
        if len(result.rejected_rows) > 50:
            self.stderr.write(f"  … and {len(result.rejected_rows) - 50} more rejected rows (see the upload's error report)")
        for message in result.fatal_errors:
            self.stderr.write(self.style.ERROR(message))
        if result.fatal_errors:
            raise CommandError(f"{len(result.fatal_errors)} file(s) could not be ingested.")
        self.stdout.write(self.style.SUCCESS(f"{len(result.entry_ids)} entries in {len(result.uploads)} file(s)."))
