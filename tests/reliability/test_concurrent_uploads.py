"""Two overlapping ES-003 reports for the same importer processed at the same time (PostgreSQL).

Each upload runs through the real task in its own thread (its own database connection). The result must
be what one of the two sequential orders gives: no duplicate line, no lost update (every entry's cached
duty equals the sum of its lines, and no line of either file is missing).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.db import connection, connections

from cape.selectors import entries_for
from entries.models import TariffLine, Upload
from entries.samplegen import write_es003
from tests.reliability.conftest import assert_entries_whole, dump_entries


def _upload(org, path: Path) -> Upload:  # type: ignore[no-untyped-def]
    with path.open("rb") as fh:
        name = default_storage.save(f"uploads/test/{path.name}", fh)
    return Upload.objects.create(organization=org, original_name=path.name, size=path.stat().st_size, file=name)


def _wipe(org) -> None:  # type: ignore[no-untyped-def]
    TariffLine.objects.filter(entry__in=entries_for(org)).delete()
    entries_for(org).delete()


def _process(pk: int, errors: list[BaseException], barrier: threading.Barrier | None = None) -> None:
    from entries.tasks import process_upload

    try:
        if barrier is not None:
            barrier.wait(timeout=60)
        process_upload.apply(args=[pk], throw=True)
    except BaseException as exc:  # reported by the main thread
        errors.append(exc)
    finally:
        connections.close_all()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL (CI runs it there)")
def test_two_overlapping_uploads_at_once_lose_nothing_and_duplicate_nothing(importer_org, alice, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a = write_es003(tmp_path / "a.csv", 20_000, seed=21, first_serial=6600000)
    b = write_es003(
        tmp_path / "b.csv", 20_000, seed=22, first_serial=6601500
    )  # about half of a's entries again, other values

    # The two sequential orders.
    references = []
    for first, second in ((a, b), (b, a)):
        for path in (first, second):
            errors: list[BaseException] = []
            _process(_upload(importer_org, path).pk, errors)
            assert not errors
        references.append(dump_entries(importer_org.pk))
        _wipe(importer_org)
    assert references[0] != references[1], "the files must disagree on shared entries for the test to mean anything"

    for _round in range(3):
        ups = [_upload(importer_org, a), _upload(importer_org, b)]
        errors = []
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=_process, args=(u.pk, errors, barrier)) for u in ups]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not errors, errors
        for u in ups:
            u.refresh_from_db()
            assert u.status == "done", u.error_message
        assert_entries_whole(importer_org.pk)
        got = dump_entries(importer_org.pk)
        assert got in references, "concurrent result matches neither sequential order (a lost or mixed update)"
        _wipe(importer_org)
