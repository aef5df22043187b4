"""Issue #20 item 4: importer workspaces created by the account application before this change were
named as the company name was typed; rename them after their importer's 5106 record (the name CBP
holds; the application's name was checked against it). Only workspaces whose name is still exactly
what was typed are renamed: a name an owner changed since is left alone. Rows are only updated."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def name_after_5106(apps: Any, schema_editor: Any) -> None:
    AccountApplication = apps.get_model("accounts", "AccountApplication")
    Form5106Record = apps.get_model("accounts", "Form5106Record")
    Organization = apps.get_model("accounts", "Organization")
    submitted = AccountApplication.objects.filter(
        status="submitted", organization__isnull=False, importer__isnull=False
    ).values_list("organization_id", "importer_id", "company_name")
    for organization_id, importer_id, typed in submitted.iterator():
        record_name = (
            Form5106Record.objects.filter(importer_id=importer_id).values_list("company_name", flat=True).first() or ""
        ).strip()
        if record_name and record_name != typed:
            Organization.objects.filter(pk=organization_id, name=typed).update(name=record_name)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_h_rules_importer_facts_ruleset_notice")]

    operations = [migrations.RunPython(name_after_5106, migrations.RunPython.noop)]
