"""classify_entries [--org SLUG] [--as-of YYYY-MM-DD] [--all]: the nightly run, by hand.

Without --all only entries whose result can change are touched (stable_until, ruleset, ACH route).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Organization
from accounts.selectors import organizations_seeing
from cape.classify import classify_entries, classify_organization, today_eastern
from entries.models import Entry


class Command(BaseCommand):
    help = "Reclassify entries (all organisations, or one) as of a date; prints touched vs total."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="Organisation slug (default: every organisation with entries)")
        parser.add_argument("--as-of", dest="as_of", help="YYYY-MM-DD (default: today, U.S. Eastern)")
        parser.add_argument("--all", action="store_true", help="Reclassify every entry, not only those due")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            as_of = date.fromisoformat(opts["as_of"]) if opts.get("as_of") else today_eastern()
        except ValueError:
            raise CommandError(f"--as-of {opts['as_of']!r}: expected YYYY-MM-DD") from None
        if opts.get("org"):
            orgs = list(Organization.objects.filter(slug=opts["org"]))
            if not orgs:
                raise CommandError(f"No organisation with slug {opts['org']!r}")
        else:
            orgs = list(organizations_seeing(Entry.objects.order_by().values("importer_id").distinct()).order_by("slug"))
        for org in orgs:
            if opts["all"]:
                n = classify_entries(organization=org, as_of=as_of)
                self.stdout.write(f"{org.slug}: {n} classified as of {as_of.isoformat()}")
            else:
                r = classify_organization(organization=org, as_of=as_of)
                self.stdout.write(f"{org.slug}: {r.touched} of {r.total} touched as of {as_of.isoformat()}")
