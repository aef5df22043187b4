"""Load the demo organisations, importers, users and ES-003 reports. Idempotent: running it twice changes nothing.

The story it tells: Blue Heron Housewares (an importer organisation) owns its importer of record and granted
Harbor Customs Brokerage access; Harbor also serves Cedar Lane Imports LLC, a client it added itself. Harbor
loaded a small ES-003 (7 Blue Heron entries, 3 Cedar Lane); Blue Heron uploaded its own, 12,007 entries including
those 7. An entry is one record per entry number, the importer of record's, so both organisations see the same
12,007 Blue Heron entries (entries.demo)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Importer, ImporterGrant, Membership, Organization
from accounts.selectors import organizations_seeing
from entries.demo import IMPORTER_EXTRA_ENTRIES, importer_figures, load_demo_es003, load_importer_es003

DEMO_PASSWORD = "refundready-demo"
BROKER = ("Harbor Customs Brokerage", "harbor")
IMPORTER_ORG = ("Blue Heron Housewares", "blue-heron")
IMPORTERS = [("93-417726100", "Blue Heron Housewares Inc"), ("27-418830200", "Cedar Lane Imports LLC")]
USERS = [
    ("broker-owner", BROKER[1], Membership.Role.OWNER),
    ("broker-staff", BROKER[1], Membership.Role.STAFF),
    ("broker-viewer", BROKER[1], Membership.Role.VIEWER),
    ("importer-owner", IMPORTER_ORG[1], Membership.Role.OWNER),
    ("importer-staff", IMPORTER_ORG[1], Membership.Role.STAFF),
    ("importer-viewer", IMPORTER_ORG[1], Membership.Role.VIEWER),
]


class Command(BaseCommand):
    help = "Create the demo broker, importer organisation, importers, users and ES-003 reports (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--importer-entries", type=int, default=None, metavar="N",
                            help="entries in Blue Heron's own ES-003 besides the 7 Harbor also loaded (default 12,000)")

    def handle(self, *args: Any, **options: Any) -> None:
        broker, owner_org = self._accounts()
        # Outside the accounts' transaction: each upload commits as a web upload does, and its classification
        # starts on commit.
        self._load_demo_entries(broker, owner_org, options.get("importer_entries"))
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password for all: {DEMO_PASSWORD}):"))
        for username, slug, role in USERS:
            self.stdout.write(f"  {username:16} {role:7} at {slug}")
        self.stdout.write("  admin            Django admin (/admin/)")

    @transaction.atomic
    def _accounts(self) -> tuple[Organization, Organization]:
        broker, _ = Organization.objects.get_or_create(slug=BROKER[1], defaults={"name": BROKER[0], "kind": Organization.Kind.BROKER})
        owner_org, _ = Organization.objects.get_or_create(
            slug=IMPORTER_ORG[1], defaults={"name": IMPORTER_ORG[0], "kind": Organization.Kind.IMPORTER}
        )
        for i, (ir, name) in enumerate(IMPORTERS):
            importer, _ = Importer.objects.get_or_create(ir_number=ir, defaults={"name": name, "created_by": broker})
            if i == 0 and importer.owner_id != owner_org.pk:
                importer.owner, importer.status = owner_org, Importer.Status.ACTIVE
                importer.save(update_fields=["owner", "status"])
            if not ImporterGrant.objects.filter(importer=importer, organization=broker, revoked_at__isnull=True).exists():
                ImporterGrant.objects.create(importer=importer, organization=broker)
        User = get_user_model()
        for username, slug, role in USERS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User.objects.create_user(username=username, email=f"{username}@demo.refundready.local", password=DEMO_PASSWORD)
            Membership.objects.get_or_create(user=user, organization=Organization.objects.get(slug=slug), defaults={"role": role})
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@demo.refundready.local", DEMO_PASSWORD)
        return broker, owner_org

    def _load_demo_entries(self, broker: Organization, owner_org: Organization, extra: int | None) -> None:
        """Harbor's small ES-003, then Blue Heron's own (entries.demo); then who sees what."""
        User = get_user_model()
        load_demo_es003(organization=broker, stdout=self.stdout, user=User.objects.get(username="broker-staff"))
        load_importer_es003(organization=owner_org, stdout=self.stdout, user=User.objects.get(username="importer-owner"),
                            extra_entries=IMPORTER_EXTRA_ENTRIES if extra is None else max(0, extra))
        for ir, _ in IMPORTERS:
            importer = Importer.objects.get(ir_number=ir)
            figures = importer_figures(ir)
            if figures is None:
                continue
            seen_by = " and ".join(
                f"{org.name} ({'its owner' if org.pk == importer.owner_id else 'access granted by ' + importer.owner.name if importer.owner else 'its broker'})"
                for org in organizations_seeing([importer.pk]).order_by("name"))
            self.stdout.write(f"{figures.name}: {figures.entries:,} entries, IEEPA duty ${figures.ieepa_duty:,.2f}; "
                              f"seen by {seen_by}.")
