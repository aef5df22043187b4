"""Only per-importer indexes on classifications (issue 18): writing a million classifications maintained eleven
indexes, four of them global ((deadline, entry), (-ieepa_duty, entry), (path, deadline, entry) and (deadline,
entry) WHERE urgent, for a broker's list over many importers), and those four cost 7 s of a 37-41 s first
classification (bench/classify.py). The list now merges the importers' own ordered scans
(cape.selectors._ids_by_importer); the list sorted by importer reads each importer in deadline order, so the
(importer, entry) index goes too; the amount sort gets entry as its tie-breaker. Indexes only; rows untouched."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0007_h_pages_client_work'),
        ('cape', '0015_h_bench_classification_sorts'),
        ('entries', '0009_one_entry_per_number'),
    ]

    operations = [
        migrations.RunSQL(
            sql="DROP INDEX IF EXISTS cape_cls_urgent_dl_idx",
            reverse_sql="CREATE INDEX IF NOT EXISTS cape_cls_urgent_dl_idx ON cape_classification (deadline, entry_id) WHERE urgent",
        ),
        migrations.RemoveIndex(
            model_name='classification',
            name='cape_class_importer_entry',
        ),
        migrations.RemoveIndex(
            model_name='classification',
            name='cape_class_imp_duty',
        ),
        migrations.RemoveIndex(
            model_name='classification',
            name='cape_class_dl_entry',
        ),
        migrations.RemoveIndex(
            model_name='classification',
            name='cape_class_duty_entry',
        ),
        migrations.RemoveIndex(
            model_name='classification',
            name='cape_class_path_dl_entry',
        ),
        migrations.AddIndex(
            model_name='classification',
            index=models.Index(fields=['importer', 'ieepa_duty', 'entry'], name='cape_class_imp_duty_entry'),
        ),
    ]
