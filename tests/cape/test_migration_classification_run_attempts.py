"""Migration cape 0017 (classification runs join the one job runtime, issue 21) keeps every run: each value
stays, and a run that had started counts as claimed once (attempts 1), one still queued as never claimed."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("cape", "0016_classification_per_importer_indexes")]
AFTER = [("cape", "0017_classificationrun_attempts")]
FIELDS = ("pk", "organization_id", "kind", "status", "as_of", "done", "total", "error", "params")


def _migrate(target):  # type: ignore[no-untyped-def]
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def test_runs_keep_their_values_and_started_ones_count_one_attempt(importer_org) -> None:  # type: ignore[no-untyped-def]
    apps = _migrate(BEFORE)
    Run = apps.get_model("cape", "ClassificationRun")
    now = timezone.now()
    done = Run.objects.create(organization_id=importer_org.pk, kind="upload", status="done", as_of=date(2026, 12, 1),
                              done=7, total=7, started_at=now, finished_at=now)
    failed = Run.objects.create(organization_id=importer_org.pk, kind="change", status="failed", done=3, total=9,
                                error="The worker stopped.", started_at=now, params={"entry_ids": [1, 2]})
    queued = Run.objects.create(organization_id=importer_org.pk, kind="nightly", status="pending")
    before = sorted(Run.objects.values_list(*FIELDS))
    apps = _migrate(AFTER)
    Run = apps.get_model("cape", "ClassificationRun")
    assert sorted(Run.objects.values_list(*FIELDS)) == before
    assert dict(Run.objects.values_list("pk", "attempts")) == {done.pk: 1, failed.pk: 1, queued.pk: 0}
    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
