"""ClassificationRun joins the one job runtime (entries.models.Job): it counts its claims like uploads and
declaration builds. Existing rows keep every value; a run that had started counts as claimed once."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models


def started_runs_were_claimed_once(apps: Any, schema_editor: Any) -> None:
    ClassificationRun = apps.get_model("cape", "ClassificationRun")
    ClassificationRun.objects.filter(started_at__isnull=False).update(attempts=1)


class Migration(migrations.Migration):
    dependencies = [
        ("cape", "0016_classification_per_importer_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="classificationrun",
            name="attempts",
            field=models.IntegerField(default=0),
        ),
        migrations.RunPython(started_runs_were_claimed_once, migrations.RunPython.noop),
    ]
