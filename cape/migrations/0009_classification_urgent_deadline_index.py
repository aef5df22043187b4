"""A partial index for the entries list filtered to urgent entries (deadline within 14 days), sorted by
deadline: without it PostgreSQL walks Classification(organization, deadline, entry) past every passed
and later deadline (57,000 index entries for 50 rows at a million entries, 70 ms). Urgent entries are a
few per cent of the rows, so the index is small and costs a classification write almost nothing.

Raw SQL with no model state: the index is a read-side choice of the entries list (cape/selectors.py),
kept out of Classification.Meta so the model's own write-path indexes stay as they are. The same
statement works on SQLite and PostgreSQL (partial indexes, NULLS LAST is btree's ascending default)."""

from django.db import migrations

INDEX = "cape_cls_org_urgent_dl_idx"


class Migration(migrations.Migration):

    dependencies = [
        ("cape", "0008_classification_run_and_lighter_writes"),
    ]

    operations = [
        migrations.RunSQL(
            sql=f"CREATE INDEX IF NOT EXISTS {INDEX} ON cape_classification (organization_id, deadline, entry_id) WHERE urgent",
            reverse_sql=f"DROP INDEX IF EXISTS {INDEX}",
        ),
    ]
