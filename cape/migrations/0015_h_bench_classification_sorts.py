"""The entries list of an organisation that sees many importers, after one entry per entry number (issue 18,
bench/web.py at 200 importers and a million entries): sorted by path it sorted every classification (no index
led with the path once the organisation column went: 3.3 s), and the urgent filter walked the (deadline, entry)
index past every non-urgent row with an earlier deadline (57,558 rows, 130 ms). Indexes only; rows untouched."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cape', '0014_one_entry_per_number'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='classification',
            index=models.Index(fields=['path', 'deadline', 'entry'], name='cape_class_path_dl_entry'),
        ),
        # The urgent rows (a few per cent) in deadline order, whichever importers are shown: the partial index
        # (importer, deadline, entry) WHERE urgent (0014) serves one importer.
        migrations.RunSQL(
            sql="CREATE INDEX IF NOT EXISTS cape_cls_urgent_dl_idx ON cape_classification (deadline, entry_id) WHERE urgent",
            reverse_sql="DROP INDEX IF EXISTS cape_cls_urgent_dl_idx",
        ),
    ]
