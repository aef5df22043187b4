"""DeclarationBuildJob.importers: the importers a build touched, so build_jobs_for can hide a broker's builds
for an importer whose grant was revoked. Existing jobs are filled in from what they recorded: the importers
asked for, the importers of the declarations they built (and of the entries on mixed ones) and of the
entries they left out."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models


def fill_importers(apps: Any, schema_editor: Any) -> None:
    Job = apps.get_model("cape", "DeclarationBuildJob")
    Declaration = apps.get_model("cape", "Declaration")
    DeclarationEntry = apps.get_model("cape", "DeclarationEntry")
    Entry = apps.get_model("entries", "Entry")
    Importer = apps.get_model("accounts", "Importer")
    through = Job.importers.through
    for job in Job.objects.all().iterator():
        ids = {int(i) for i in (job.params or {}).get("importer_ids") or []}
        declaration_ids = [int(i) for i in job.declaration_ids or []]
        ids |= set(Declaration.objects.filter(pk__in=declaration_ids, importer__isnull=False).values_list("importer_id", flat=True))
        ids |= set(DeclarationEntry.objects.filter(declaration_id__in=declaration_ids, declaration__importer__isnull=True)
                   .values_list("entry__importer_id", flat=True).distinct())
        numbers = [x.get("entry_number") for x in job.left_out or [] if isinstance(x, dict) and x.get("entry_number")]
        if numbers:
            ids |= set(Entry.objects.filter(organization_id=job.organization_id, entry_number__in=numbers)
                       .values_list("importer_id", flat=True).distinct())
        ids &= set(Importer.objects.filter(pk__in=ids).values_list("pk", flat=True))
        through.objects.bulk_create([through(declarationbuildjob_id=job.pk, importer_id=i) for i in sorted(ids)],
                                    ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0003_organization_email_domains"),
        ("entries", "0005_optional_es003_columns"),
        ("cape", "0009_classification_urgent_deadline_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="declarationbuildjob",
            name="importers",
            field=models.ManyToManyField(blank=True, related_name="+", to="accounts.importer"),
        ),
        migrations.RunPython(fill_importers, migrations.RunPython.noop),
    ]
