"""Migration cape 0016 (only per-importer indexes on classifications, issue 18) changes indexes only:
classifications stored before it are all there after it, unchanged; the four global sort indexes and
(importer, entry) are gone, the amount index has its tie-breaker; it reverses."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("cape", "0015_h_bench_classification_sorts")]
AFTER = [("cape", "0016_classification_per_importer_indexes")]
GLOBAL = {"cape_class_dl_entry", "cape_class_duty_entry", "cape_class_path_dl_entry", "cape_cls_urgent_dl_idx",
          "cape_class_importer_entry", "cape_class_imp_duty"}


def _indexes() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, "cape_classification"))


def test_the_per_importer_index_migration_keeps_every_classification(importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    from tests.cape.factories import ClassificationFactory

    made = [ClassificationFactory(entry__organization=importer_org, entry__importer=own_importer) for _ in range(3)]
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("cape", "Classification")
    rows_before = sorted(old.objects.values_list("entry_id", "importer_id", "path", "ieepa_duty", "deadline"))
    assert len(rows_before) == len(made)
    assert GLOBAL <= _indexes()
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("cape", "Classification")
    assert sorted(new.objects.values_list("entry_id", "importer_id", "path", "ieepa_duty", "deadline")) == rows_before
    after = _indexes()
    assert not GLOBAL & after
    assert {"cape_class_imp_path_dl_entry", "cape_class_imp_dl_entry", "cape_class_imp_duty_entry",
            "cape_cls_imp_urgent_dl_idx"} <= after
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(BEFORE)  # and back
    assert GLOBAL <= _indexes()
    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
