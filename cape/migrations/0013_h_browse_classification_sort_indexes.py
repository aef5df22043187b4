"""Entries list sorts (issue #20): path sorts in both directions and the importer walk read indexes.
Indexes only; existing rows are untouched."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_organization_email_domains'),
        ('cape', '0012_merge_h_scope'),
        ('entries', '0005_optional_es003_columns'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='classification',
            index=models.Index(fields=['organization', 'path', 'deadline', 'entry'], name='cape_class_org_path_dl_entry'),
        ),
        migrations.AddIndex(
            model_name='classification',
            index=models.Index(fields=['importer', 'entry'], name='cape_class_importer_entry'),
        ),
        # the wider index above serves every query the (organization, path, deadline) one did
        migrations.RemoveIndex(
            model_name='classification',
            name='cape_classi_organiz_f42579_idx',
        ),
    ]
