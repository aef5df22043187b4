"""PostgreSQL: every ES-003 merge of an organisation takes its lock, and new entries are stored by a plain
INSERT under their reserved ids; an entry stored meanwhile by a writer that does not take the lock is found
on a second look, not duplicated and not lost."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, connections

from cape.selectors import entries_for
from entries.ingest.service import upload_process
from entries.models import TariffLine, Upload
from entries.recovery import merge_lock_key
from tests.entries.conftest import entry_rows

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the merge lock and reserved ids are PostgreSQL's"),
]

NUMBERS = [f"0026110{n:04d}" for n in range(3162, 3172)]  # ten entries


def _upload(path, org, user) -> Upload:  # type: ignore[no-untyped-def]
    """A pending upload, not yet enqueued (the test processes it itself)."""
    from django.core.files.storage import default_storage

    with path.open("rb") as fh:
        name = default_storage.save(f"uploads/test/{path.name}", fh)
    return Upload.objects.create(organization=org, uploaded_by=user, original_name=path.name, size=path.stat().st_size, file=name)


def _file(write_es003):  # type: ignore[no-untyped-def]
    rows = [row for n in NUMBERS for row in entry_rows(n, ieepa_duty="250.00")]
    return write_es003(rows)


def test_an_entry_stored_meanwhile_without_the_lock_is_merged_not_duplicated(write_es003, importer_org, alice, own_importer, caplog) -> None:
    path = _file(write_es003)
    upload = _upload(path, importer_org, alice)
    intruder = NUMBERS[3]
    fired: list[str] = []

    def store_one_first(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        # Just before the plain INSERT of the reserved entries, another connection (no merge lock) stores one
        # of them and commits: the INSERT is then refused by the unique constraint.
        if not fired and sql.startswith("INSERT INTO entries_entry (id, "):
            fired.append(sql)
            other = connections.create_connection("default")
            try:
                with other.cursor() as cur:
                    cur.execute(
                        "INSERT INTO entries_entry (importer_id, entry_number, entry_type, port_code, "
                        "filer_code, filer_name, liquidation_status, liquidation_status_raw, recon_flag, psc_flag, "
                        "protest_number, protest_status, type09_filed, drawback, ieepa_duty, total_duty, "
                        "has_liquidation_columns, created_at, updated_at) VALUES (%s, %s, '11', '', '', '', "
                        "'unliquidated', '', false, false, '', 'none', false, false, 0, 0, false, now(), now())",
                        [own_importer.pk, intruder],
                    )
                other.commit()
            finally:
                other.close()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(store_one_first):
        upload = upload_process(upload_id=upload.pk)
    assert fired, "the reserved entries' INSERT never ran"
    assert "stored meanwhile without the merge lock" in caplog.text  # refused once, then looked again
    assert upload.status == Upload.Status.DONE, upload.error_message
    assert entries_for(importer_org).count() == len(NUMBERS)
    assert list(entries_for(importer_org).filter(entry_number=intruder).values_list("entry_type", flat=True)) == ["01"]
    for entry in entries_for(importer_org):
        lines = list(TariffLine.objects.filter(entry=entry).values_list("ordinal", "duty"))
        assert sorted(lines) == [(1, Decimal("0.00")), (2, Decimal("250.00"))], entry.entry_number
        assert entry.ieepa_duty == Decimal("250.00")
    summary = upload.summary
    assert (summary["entries_created"], summary["entries_updated"], summary["lines"]) == (len(NUMBERS) - 1, 1, 2 * len(NUMBERS))


def test_a_merge_waits_for_the_organisations_lock(write_es003, importer_org, alice) -> None:
    upload = _upload(_file(write_es003), importer_org, alice)
    holder = connections.create_connection("default")
    holder.set_autocommit(False)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            upload_process(upload_id=upload.pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    try:
        with holder.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", merge_lock_key())
        thread = threading.Thread(target=run)
        thread.start()
        waiting = False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not waiting:
            with holder.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = %s "
                            "AND objid = %s", merge_lock_key())
                waiting = cur.fetchone()[0] == 1
            time.sleep(0.05)
        assert waiting, "the merge never asked for the organisation's lock"
        upload.refresh_from_db()
        assert upload.status == Upload.Status.RUNNING
        assert not entries_for(importer_org).exists()
    finally:
        holder.rollback()  # releases the lock
        holder.close()
    thread.join(timeout=120)
    assert not errors, errors
    upload.refresh_from_db()
    assert upload.status == Upload.Status.DONE, upload.error_message
    assert entries_for(importer_org).count() == len(NUMBERS)
