"""refundready.bulk: the one bulk interface (issue #21 item 4) appends and upserts the same rows on both
databases; ingestion's staging and classification's writers go through it."""

from __future__ import annotations

import pytest
from django.db import connection

from refundready import bulk

pytestmark = pytest.mark.django_db


@pytest.fixture
def table():  # type: ignore[no-untyped-def]
    with connection.cursor() as cur:
        cur.execute("CREATE TEMPORARY TABLE bulk_t (k integer PRIMARY KEY, v text, n integer)")
    yield "bulk_t"
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bulk_t")


def _rows() -> list[tuple[int, str | None, int | None]]:
    with connection.cursor() as cur:
        cur.execute("SELECT k, v, n FROM bulk_t ORDER BY k")
        return [tuple(r) for r in cur.fetchall()]


def test_copy_rows_appends_every_row_in_batches_past_sqlites_variable_limit(table) -> None:  # type: ignore[no-untyped-def]
    rows = [(k, f"v{k}", None if k % 7 else k) for k in range(bulk.SQLITE_ROWS_PER_INSERT * 3 + 17)]
    with connection.cursor() as cur:
        assert bulk.copy_rows(cur, table, ("k", "v", "n"), iter(rows)) == len(rows)
    assert _rows() == rows


def test_upsert_inserts_new_keys_and_updates_the_other_columns_of_existing_ones(table) -> None:  # type: ignore[no-untyped-def]
    with connection.cursor() as cur:
        bulk.copy_rows(cur, table, ("k", "v", "n"), [(1, "a", 1), (2, "b", 2)])
        assert bulk.upsert(cur, table, ("k", "v", "n"), [(2, "B", 20), (3, "c", None)], key="k") == 2
        assert bulk.upsert(cur, table, ("k", "v", "n"), [], key="k") == 0
    assert _rows() == [(1, "a", 1), (2, "B", 20), (3, "c", None)]


def test_postgresql_takes_rows_rendered_in_copy_text_and_sqlite_refuses_them(table) -> None:  # type: ignore[no-untyped-def]
    with connection.cursor() as cur:
        if connection.vendor != "postgresql":
            with pytest.raises(ValueError, match="SQLite takes rows as tuples"):
                bulk.copy_rows(cur, table, ("k", "v", "n"), ["1\ta\t\\N"], text=True)
            return
        bulk.copy_rows(cur, table, ("k", "v", "n"), ["1\ta\\tb\t\\N", "2\tc\t5"], text=True)
        bulk.upsert(cur, table, ("k", "v", "n"), ["2\tC\t6"], key="k", text=True)
    assert _rows() == [(1, "a\tb", None), (2, "C", 6)]


def test_an_arrow_table_is_appended_a_piece_at_a_time_with_its_count(table) -> None:  # type: ignore[no-untyped-def]
    import pyarrow as pa

    tbl = pa.table({"n": pa.array([None, 2, 3], pa.int64()), "k": pa.array([1, 2, 3], pa.int64()),
                    "v": pa.array(["x", None, 'q"uote'], pa.string())})
    pieces: list[int] = []
    with connection.cursor() as cur:
        bulk.copy_arrow(cur, table, tbl, columns=("k", "v", "n"), piece=2, on_piece=pieces.append)
    assert pieces == [2, 1]
    assert _rows() == [(1, "x", None), (2, None, 2), (3, 'q"uote', 3)]


def test_the_progress_ticker_writes_every_so_many_rows_and_at_each_checkpoint_a_bulk_piece_crosses() -> None:
    from refundready.jobs import ProgressTicker

    written: list[int] = []
    ticker = ProgressTicker(written.append, every_rows=1000, every_seconds=1e9, check_rows=100)
    for done in range(1, 2501):
        if done >= ticker.next_check:
            ticker.at(done)
    assert written == [1000, 2000]
    ticker.add(1500)  # 2,500 → 4,000 in one piece: checkpoints 2,600 … 4,000 looked at one by one
    assert written == [1000, 2000, 3000, 4000]
    slow = ProgressTicker(written.append, every_rows=10**9, every_seconds=0.0, check_rows=100)
    written.clear()
    slow.add(350)  # the clock always due: one write per checkpoint, none between
    assert written == [100, 200, 300]
