"""Helpers of migrations entries 0009 and cape 0014 (one entry per entry number)."""

from __future__ import annotations


def organization_of_importer(apps, importer_id):
    """For going back to the schema with an organisation per entry: the importer's owner, else the organisation
    that created it, else one with a grant on it, else the first organisation."""
    Importer = apps.get_model("accounts", "Importer")
    Grant = apps.get_model("accounts", "ImporterGrant")
    Organization = apps.get_model("accounts", "Organization")
    imp = Importer.objects.filter(pk=importer_id).first()
    if imp is not None and (imp.owner_id or imp.created_by_id):
        return imp.owner_id or imp.created_by_id
    grant = Grant.objects.filter(importer_id=importer_id).order_by("pk").first()
    if grant is not None:
        return grant.organization_id
    return Organization.objects.order_by("pk").values_list("pk", flat=True).first()
