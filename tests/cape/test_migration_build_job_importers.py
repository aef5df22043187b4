"""cape migration 0010 (DeclarationBuildJob.importers) keeps every existing row and fills in the importers
each existing build touched: asked for, on the declarations it built (entries of mixed ones included), left out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("cape", "0009_classification_urgent_deadline_index")]
AFTER = [("cape", "0010_h-scope_build_job_importers")]


def _migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def at_0009(transactional_db) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    yield _migrate(BEFORE)
    _migrate(latest)  # back to the current schema for the tests that follow


def test_existing_build_jobs_keep_their_rows_and_get_their_importers(at_0009) -> None:  # type: ignore[no-untyped-def]
    apps = at_0009
    Organization = apps.get_model("accounts", "Organization")
    Importer = apps.get_model("accounts", "Importer")
    Entry = apps.get_model("entries", "Entry")
    Declaration = apps.get_model("cape", "Declaration")
    DeclarationEntry = apps.get_model("cape", "DeclarationEntry")
    Job = apps.get_model("cape", "DeclarationBuildJob")
    org = Organization.objects.create(name="Harbor", slug="harbor-m")
    asked, single, mixed, left = (Importer.objects.create(ir_number=f"9{i}-12345670{i}", name=f"I{i}") for i in range(1, 5))
    other = Importer.objects.create(ir_number="95-123456705", name="untouched")

    def entry(importer: Any, n: str) -> Any:
        return Entry.objects.create(organization=org, importer=importer, entry_number=n)

    one = Declaration.objects.create(organization=org, importer=single, name="single")
    DeclarationEntry.objects.create(declaration=one, entry=entry(single, "00261103162"), position=1)
    mix = Declaration.objects.create(organization=org, importer=None, name="mixed")
    DeclarationEntry.objects.create(declaration=mix, entry=entry(mixed, "00261111157"), position=1)
    entry(left, "00261112239")
    entry(other, "00261111090")
    job = Job.objects.create(organization=org, status="done", params={"importer_ids": [asked.pk], "name": "x"},
                             declaration_ids=[one.pk, mix.pk, 999999], considered=3, left_out_count=1,
                             left_out=[{"entry_number": "00261112239", "reason": "already on a declaration"}])
    plain = Job.objects.create(organization=org, status="failed", params={"importer_ids": None}, message="kept")
    counts = {m: apps.get_model("cape", m).objects.count() for m in ("Declaration", "DeclarationEntry", "DeclarationBuildJob")}

    apps = _migrate(AFTER)
    Job = apps.get_model("cape", "DeclarationBuildJob")
    assert {m: apps.get_model("cape", m).objects.count() for m in counts} == counts
    migrated = Job.objects.get(pk=job.pk)
    assert sorted(migrated.importers.values_list("pk", flat=True)) == sorted([asked.pk, single.pk, mixed.pk, left.pk])
    assert (migrated.status, migrated.declaration_ids, migrated.left_out_count) == ("done", [one.pk, mix.pk, 999999], 1)
    assert Job.objects.get(pk=plain.pk).message == "kept" and not Job.objects.get(pk=plain.pk).importers.exists()
