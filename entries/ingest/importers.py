"""Which importers of record an organisation may load rows for (issue #21 item 4; the rules are
accounts.services.importer_for_upload's)."""

from __future__ import annotations

from accounts.irnumber import mask_ir_number
from accounts.models import Importer, ImporterGrant, Organization
from accounts.selectors import importers_for
from accounts.services import IMPORTER_UNAVAILABLE


class ImporterCheck:
    """Which importers' rows the organisation may load (accounts.services.importer_for_upload rules).

    Answers from sets read once before parsing: it runs while a COPY holds the connection, so it must
    never query. Pending importers for a broker's new clients are created in the merge transaction,
    so a file that fails creates nothing.
    """

    def __init__(self, organization: Organization) -> None:
        self.organization = organization
        self.to_create: dict[str, str] = {}
        self.visible = set(importers_for(organization).values_list("ir_number", flat=True))
        self.owned_elsewhere: set[str] = set()
        self.managed_elsewhere: set[str] = set()
        if organization.kind == Organization.Kind.BROKER:
            self.owned_elsewhere = set(
                Importer.objects.filter(owner__isnull=False).values_list("ir_number", flat=True)
            ) - self.visible
            # Unowned importers another organisation manages (accounts.services.managed_elsewhere).
            self.managed_elsewhere = set(
                ImporterGrant.objects.filter(importer__owner__isnull=True, revoked_at__isnull=True)
                .exclude(organization=organization)
                .values_list("importer__ir_number", flat=True)
            ) - self.visible

    def __call__(self, ir: str, name: str) -> str | None:
        if ir in self.visible:
            return None
        shown = mask_ir_number(ir)
        if self.organization.kind == Organization.Kind.IMPORTER:
            return (f"Importer {shown} is not one of this organisation's importers: an importer organisation may not "
                    "load another company's entries. Its rows were not loaded.")
        if ir in self.owned_elsewhere or ir in self.managed_elsewhere:  # one message: it must not tell which
            return f"Importer {shown}: {IMPORTER_UNAVAILABLE} Its rows were not loaded."
        self.to_create.setdefault(ir, name)
        return None
