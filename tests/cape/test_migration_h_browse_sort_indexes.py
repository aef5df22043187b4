"""Migration cape 0013 (entries list sort indexes) changes indexes only: classifications stored before it
are all there after it, unchanged, and it reverses."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("cape", "0012_merge_h_scope")]
AFTER = [("cape", "0013_h_browse_classification_sort_indexes")]


def test_the_sort_index_migration_keeps_every_classification(importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    from tests.cape.factories import ClassificationFactory

    made = [ClassificationFactory(entry__organization=importer_org, entry__importer=own_importer) for _ in range(3)]
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("cape", "Classification")
    rows_before = sorted(old.objects.values_list("entry_id", "path", "ieepa_duty"))
    assert len(rows_before) == len(made)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("cape", "Classification")
    assert sorted(new.objects.values_list("entry_id", "path", "ieepa_duty")) == rows_before
    with connection.cursor() as cursor:
        names = connection.introspection.get_constraints(cursor, "cape_classification")
    assert "cape_class_org_path_dl_entry" in names and "cape_class_importer_entry" in names
    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
