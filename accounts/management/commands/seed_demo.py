"""Load the demo organisations, importers and users. Idempotent: running it twice changes nothing."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Importer, ImporterGrant, Membership, Organization

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
    help = "Create the demo broker, importer organisation, importers and users (idempotent)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
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
        self._load_demo_entries(broker)
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password for all: {DEMO_PASSWORD}):"))
        for username, slug, role in USERS:
            self.stdout.write(f"  {username:16} {role:7} at {slug}")
        self.stdout.write("  admin            Django admin (/admin/)")

    def _load_demo_entries(self, broker: Organization) -> None:
        """Ingest the ES-003 sample into the broker's workspace once ingestion exists (entries.services)."""
        try:
            from entries.demo import load_demo_es003
        except ImportError:
            return
        load_demo_es003(organization=broker, stdout=self.stdout)
