"""Progress while an ES-003 is read: written every 5,000 rows or 0.5 s, whichever first (the bar moves)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise

import pytest
from django.db import connection

from entries.ingest import progress
from entries.ingest.staging import LoadConnection
from entries.models import Upload
from entries.samplegen import write_es003 as generate

pytestmark = pytest.mark.django_db


@pytest.fixture
def progress_writes(monkeypatch) -> Iterator[list[int]]:  # type: ignore[no-untyped-def]
    """Every rows_read value written while an upload runs, whichever connection writes it (SQLite: the
    default connection between staging statements; PostgreSQL: the second connection)."""
    seen: list[int] = []

    def on_sql(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if not many and sql.startswith('UPDATE "entries_upload" SET "rows_read"'):
            seen.append(int(params[0]))
        return execute(sql, params, many, context)

    original = LoadConnection.progress

    def side_progress(self, upload_id: int, rows_read: int) -> None:  # type: ignore[no-untyped-def]
        seen.append(rows_read)
        original(self, upload_id, rows_read)

    monkeypatch.setattr(LoadConnection, "progress", side_progress)
    with connection.execute_wrapper(on_sql):
        yield seen


def test_a_12000_row_file_records_progress_along_the_way(tmp_path, importer_org, alice, ingest, progress_writes) -> None:
    upload = ingest(generate(tmp_path / "weekly.csv", 12_000, seed=5), organization=importer_org, user=alice)
    assert upload.status == Upload.Status.DONE, upload.error_message
    intermediate = sorted({v for v in progress_writes if 0 < v < 12_000})
    assert len(intermediate) >= 2, progress_writes
    # never more than 5,000 rows between two writes
    steps = [b - a for a, b in zip([0, *intermediate], [*intermediate, 12_000], strict=True)]
    assert max(steps) <= progress.PROGRESS_EVERY_ROWS + progress.PROGRESS_CHECK_ROWS, steps
    assert upload.rows_read == 12_000 and upload.progress_percent == 100


def test_a_slow_file_records_progress_every_half_second_before_5000_rows(tmp_path, importer_org, alice, ingest, progress_writes, monkeypatch) -> None:
    # As if each checkpoint came at least PROGRESS_EVERY_SECONDS after the last write (a slow XLSX).
    monkeypatch.setattr(progress, "PROGRESS_EVERY_SECONDS", 0.0)
    upload = ingest(generate(tmp_path / "slow.csv", 2_000, seed=6), organization=importer_org, user=alice)
    assert upload.status == Upload.Status.DONE, upload.error_message
    intermediate = sorted({v for v in progress_writes if 0 < v < 2_000})
    assert len(intermediate) >= 3, progress_writes  # about every PROGRESS_CHECK_ROWS (500) rows


def test_a_file_shorter_than_one_checkpoint_writes_progress_only_at_the_end(tmp_path, importer_org, alice, ingest, progress_writes, monkeypatch) -> None:
    # Under PROGRESS_CHECK_ROWS rows the clock is never consulted, however slow the file.
    monkeypatch.setattr(progress, "PROGRESS_EVERY_SECONDS", 0.0)
    upload = ingest(generate(tmp_path / "tiny.csv", 300, seed=7), organization=importer_org, user=alice)
    assert upload.status == Upload.Status.DONE
    assert not [v for v in progress_writes if 0 < v < 300], progress_writes


@pytest.mark.parametrize("fast", [True, False])
def test_a_big_file_records_progress_every_percent_not_every_5000_rows(tmp_path, importer_org, alice, ingest, progress_writes, monkeypatch, fast) -> None:
    # Scaled down: a write every 10 rows at the least, checked every 10 rows, the clock never the reason.
    # A 12,000-row file then writes every 1 % of its rows (about 120), not every 10.
    monkeypatch.setattr(progress, "PROGRESS_EVERY_ROWS", 10)
    monkeypatch.setattr(progress, "PROGRESS_CHECK_ROWS", 10)
    monkeypatch.setattr(progress, "PROGRESS_EVERY_SECONDS", 1e9)
    upload = ingest(generate(tmp_path / "big.csv", 12_000, seed=8), organization=importer_org, user=alice, fast_csv=fast)
    assert upload.status == Upload.Status.DONE, upload.error_message
    intermediate = sorted({v for v in progress_writes if 0 < v < 12_000})
    assert 50 <= len(intermediate) <= progress.PROGRESS_STEPS + 1, intermediate
    steps = [b - a for a, b in pairwise([0, *intermediate])]
    assert min(steps) >= 12_000 // progress.PROGRESS_STEPS - 10, steps
