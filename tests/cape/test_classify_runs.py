"""Classification runs: the classification after an upload has its own progress (page, row, API),
the bulk path's memo of engine results, and PostgreSQL's writer thread give exactly the inline results."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connection, transaction
from hypothesis import assume, given, settings

from cape import classify as service
from cape import rules
from cape.classify import classify_entries, memo_facts, memo_key, tracked_run
from cape.models import Classification, ClassificationChange, ClassificationRun
from cape.selectors import classifications_for, entries_for
from entries.ingest.intake import upload_create
from entries.ingest.service import upload_process
from entries.models import Entry, Upload
from entries.samplegen import write_es003
from tests.cape.test_rules_properties import dates, entry_facts
from tests.factories import EntryFactory

AS_OF = date(2026, 11, 22)


def _ingest(path, org, user, capture):  # type: ignore[no-untyped-def]
    with capture(execute=False):
        upload = upload_create(organization=org, user=user, file=SimpleUploadedFile(path.name, path.read_bytes()))
    with capture(execute=True):  # ingestion, then (on commit) the classification, eagerly
        upload_process(upload_id=upload.pk)
    return Upload.objects.get(pk=upload.pk)


# ---------------------------------------------------------------- after an upload
@pytest.mark.django_db
def test_an_upload_is_followed_by_a_recorded_classification_run(tmp_path, broker_org, bob, django_capture_on_commit_callbacks) -> None:
    upload = _ingest(write_es003(tmp_path / "r.csv", 60), broker_org, bob, django_capture_on_commit_callbacks)
    entries = entries_for(broker_org).filter(last_upload=upload).count()
    assert upload.status == Upload.Status.DONE and entries > 1
    run = ClassificationRun.objects.get(upload=upload)
    assert (run.kind, run.status, run.done, run.total, run.percent) == ("upload", "done", entries, entries, 100)
    assert run.as_of == service.today_eastern() and run.finished_at >= run.started_at
    assert Classification.objects.filter(entry__last_upload=upload).count() == entries


@pytest.mark.django_db
def test_the_upload_page_polls_until_the_classification_is_done(client, tmp_path, broker_org, bob, password,
                                                                   django_capture_on_commit_callbacks) -> None:
    upload = _ingest(write_es003(tmp_path / "r.csv", 20), broker_org, bob, django_capture_on_commit_callbacks)
    run = ClassificationRun.objects.get(upload=upload)
    client.login(username="bob", password=password)
    run.status, run.done, run.total = ClassificationRun.Status.RUNNING, 5, 20
    run.save()
    html = client.get(f"/entries/uploads/{upload.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-classification="running"' in html and "hx-get" in html  # the ingest is done; this is not
    assert "Classified 5 of 20 entries." in html and 'aria-label="Entries classified" ' in html
    assert 'aria-valuenow="25"' in html
    row = client.get(f"/entries/uploads/{upload.pk}/?view=row", HTTP_HX_REQUEST="true").content.decode()
    assert "Classifying: 5 of 20 entries" in row and "hx-get" in row

    run.status = ClassificationRun.Status.DONE
    run.save()
    html = client.get(f"/entries/uploads/{upload.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-classification="done"' in html and "hx-get" not in html
    assert "20 entries classified as of" in html and 'href="/entries/"' in html
    row = client.get(f"/entries/uploads/{upload.pk}/?view=row", HTTP_HX_REQUEST="true").content.decode()
    assert "Classifying" not in row and "hx-get" not in row


@pytest.mark.django_db
def test_a_queued_classification_shows_as_waiting(client, tmp_path, broker_org, bob, password,
                                                  django_capture_on_commit_callbacks, monkeypatch) -> None:
    from cape import tasks

    monkeypatch.setattr(tasks.classify_upload, "delay", lambda pk: None)  # no worker has taken it yet
    upload = _ingest(write_es003(tmp_path / "r.csv", 10), broker_org, bob, django_capture_on_commit_callbacks)
    assert ClassificationRun.objects.get(upload=upload).status == ClassificationRun.Status.PENDING
    client.login(username="bob", password=password)
    html = client.get(f"/entries/uploads/{upload.pk}/").content.decode()
    assert "Waiting for a worker to classify" in html and "hx-get" in html
    body = client.get(f"/api/uploads/{upload.pk}/").json()
    assert body["status"] == "done" and body["classification"]["status"] == "pending"


@pytest.mark.django_db
def test_the_api_reports_the_classification_of_each_upload(client, tmp_path, broker_org, bob, password,
                                                           django_capture_on_commit_callbacks) -> None:
    upload = _ingest(write_es003(tmp_path / "r.csv", 30), broker_org, bob, django_capture_on_commit_callbacks)
    client.login(username="bob", password=password)
    detail = client.get(f"/api/uploads/{upload.pk}/").json()["classification"]
    n = Entry.objects.filter(last_upload=upload).count()
    assert (detail["status"], detail["done"], detail["total"], detail["percent"]) == ("done", n, n, 100)
    assert detail["as_of"] == service.today_eastern().isoformat() and detail["error"] == ""
    listed = client.get("/api/uploads/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert rows[0]["classification"]["status"] == "done"


@pytest.mark.django_db
def test_a_failed_classification_is_recorded_with_a_clear_message_and_raised(importer_org, own_importer, monkeypatch) -> None:
    EntryFactory(organization=importer_org, importer=own_importer)

    def broken(**kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(service, "classify_entries", broken)
    run = ClassificationRun(organization=importer_org, kind=ClassificationRun.Kind.MANUAL)
    with pytest.raises(OperationalError):
        tracked_run(run, entry_ids=None, as_of=AS_OF)
    run.refresh_from_db()
    assert run.status == "failed" and run.finished_at is not None
    assert "stopped (OperationalError)" in run.error and "retried automatically" in run.error
    assert "server closed" not in run.error  # database text stays in the logs


@pytest.mark.django_db
def test_progress_is_reported_chunk_by_chunk(importer_org, own_importer, monkeypatch) -> None:
    for _ in range(7):
        EntryFactory(organization=importer_org, importer=own_importer)
    monkeypatch.setattr(service, "CHUNK", 3)
    monkeypatch.setattr(service, "CHUNK_PG", 3)
    seen: list[tuple[int, int]] = []
    assert classify_entries(organization=importer_org, as_of=AS_OF, progress=lambda d, t: seen.append((d, t))) == 7
    assert seen == [(3, 7), (6, 7), (7, 7)]


@pytest.mark.django_db
def test_the_nightly_run_is_recorded(importer_org, own_importer) -> None:
    EntryFactory(organization=importer_org, importer=own_importer)
    result = service.classify_organization(organization=importer_org, as_of=AS_OF)
    run = ClassificationRun.objects.get(organization=importer_org, kind="nightly")
    assert (run.status, run.done, run.total, result.touched) == ("done", 1, 1, 1)
    service.classify_organization(organization=importer_org, as_of=AS_OF)  # nothing due: no run
    assert ClassificationRun.objects.filter(organization=importer_org).count() == 1


# ---------------------------------------------------------------- the memo of engine results
@settings(max_examples=400, deadline=None)
@given(entry_facts(), entry_facts(), dates)
def test_facts_with_the_same_memo_key_get_the_same_shared_result(f, other, as_of) -> None:  # type: ignore[no-untyped-def]
    """The bulk path computes one result per memo key, from memo_facts: so the key must hold every input they keep."""
    g = dataclasses.replace(f, entry_number=other.entry_number, ieepa_duty=other.ieepa_duty, importer_number="99-9999999",
                            entry_summary_date=other.entry_summary_date)
    if f.liquidation_status not in rules.NOT_LIQUIDATED_STATUSES:
        g = dataclasses.replace(g, entry_date=other.entry_date)
    if f.liquidation_status not in (rules.LIQUIDATED, rules.FINAL):
        g = dataclasses.replace(g, liquidation_date=other.liquidation_date)
    assume(memo_key(g) == memo_key(f))
    assert rules.classify(memo_facts(g), as_of) == rules.classify(memo_facts(f), as_of)


@settings(max_examples=600, deadline=None)
@given(entry_facts(), dates)
def test_the_shared_result_with_the_entrys_own_cit_deadline_is_the_entrys_result(f, as_of) -> None:  # type: ignore[no-untyped-def]
    """What _Run.rows writes for an entry: the shared result with the entry's own CIT deadline, except on the CIT path,
    where it classifies the entry's own facts (once per memo key and accrual date)."""
    shared, own = rules.classify(memo_facts(f), as_of), rules.classify(f, as_of)
    assert shared.path == own.path
    if own.path != rules.Path.CIT:
        cit = rules.cit_deadline(rules.accrual_date(f.entry_summary_date, f.entry_date))
        assert dataclasses.replace(shared, cit_deadline=cit) == own


def test_a_run_shares_results_across_dates_the_ruleset_does_not_read() -> None:
    """The entries of a liquidated status with different entry and summary dates share one memo key (the point of
    memo_facts: a million-entry run classifies about a tenth of its entries, README benchmarks)."""
    base = rules.EntryFacts("", "01", Decimal("10.00"), rules.LIQUIDATED, date(2025, 3, 1), date(2025, 3, 9),
                            date(2026, 1, 20))
    later = dataclasses.replace(base, entry_date=date(2025, 5, 1), entry_summary_date=date(2025, 5, 9))
    assert memo_key(base) == memo_key(later)
    assert memo_key(dataclasses.replace(base, liquidation_status=rules.UNLIQUIDATED)) != memo_key(
        dataclasses.replace(later, liquidation_status=rules.UNLIQUIDATED))  # the projected liquidation date differs


@settings(max_examples=200, deadline=None)
@given(entry_facts())
def test_facts_that_differ_in_anything_else_get_different_keys(f) -> None:  # type: ignore[no-untyped-def]
    for name, value in (("entry_type", "99"), ("liquidation_status", f.liquidation_status + "x"),
                        ("recon_flag", not f.recon_flag),
                        ("protest_number", f.protest_number + "1"), ("cape_rejections", f.cape_rejections + ("X",)),
                        ("has_refund_route", not f.has_refund_route), ("drawback", not f.drawback),
                        ("surety_paid", not f.surety_paid), ("cit_plaintiff", not f.cit_plaintiff),
                        ("liquidation_reason_code", None if f.liquidation_reason_code == 36 else 36)):
        assert memo_key(dataclasses.replace(f, **{name: value})) != memo_key(f), name
    if f.liquidation_status in rules.NOT_LIQUIDATED_STATUSES:  # the projected liquidation date
        assert memo_key(dataclasses.replace(f, entry_date=None if f.entry_date else AS_OF)) != memo_key(f)
    if f.liquidation_status in (rules.LIQUIDATED, rules.FINAL):
        assert memo_key(dataclasses.replace(f, liquidation_date=None if f.liquidation_date else AS_OF)) != memo_key(f)


# ---------------------------------------------------------------- PostgreSQL: the writer thread
def _snapshot(org) -> tuple[dict[int, tuple], list[tuple]]:  # type: ignore[no-untyped-def]
    fields = [f.name for f in Classification._meta.fields if f.name not in ("id", "computed_at")]
    rows = {r["entry"]: tuple(r.values()) for r in classifications_for(org).values(*fields)}
    changes = sorted(ClassificationChange.objects.filter(entry__in=entries_for(org)).values_list(
        "entry_id", "old_path", "new_path", "reasons", "was_liquidated", "is_liquidated", "as_of"))
    return rows, changes


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the writer thread is PostgreSQL's path (CI runs it there)")
@pytest.mark.django_db(transaction=True)
def test_the_writer_thread_stores_exactly_what_the_inline_path_stores(importer_org, own_importer, monkeypatch) -> None:
    for i in range(40):
        EntryFactory(organization=importer_org, importer=own_importer, ieepa_duty=Decimal(i * 10),
                     liquidation_status="liquidated" if i % 2 else "unliquidated",
                     liquidation_date=AS_OF - timedelta(days=3 * i) if i % 2 else None)
    monkeypatch.setattr(service, "CHUNK_PG", 7)  # several chunks, queued to the writer
    seen: list[int] = []
    assert not connection.in_atomic_block
    assert classify_entries(organization=importer_org, as_of=AS_OF, progress=lambda d, t: seen.append(d)) == 40
    # two writers: chunks may finish out of order, the count still only grows, chunk by chunk, to the total
    assert len(seen) == 6 and seen == sorted(seen) and seen[-1] == 40 and service.WRITERS == 2
    threaded = _snapshot(importer_org)
    ClassificationChange.objects.filter(entry__in=entries_for(importer_org)).delete()
    classifications_for(importer_org).delete()
    with transaction.atomic():  # inside a transaction the same run writes inline
        classify_entries(organization=importer_org, as_of=AS_OF)
    assert _snapshot(importer_org) == threaded and len(threaded[0]) == 40 and len(threaded[1]) == 40


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the writer thread is PostgreSQL's path (CI runs it there)")
@pytest.mark.django_db(transaction=True)
def test_an_error_in_the_writer_thread_reaches_the_caller(importer_org, own_importer, monkeypatch) -> None:
    for _ in range(5):
        EntryFactory(organization=importer_org, importer=own_importer)
    monkeypatch.setattr(service, "CHUNK_PG", 2)
    real = service._write
    calls = []

    def failing(*rows):  # type: ignore[no-untyped-def]
        calls.append(rows)
        if len(calls) == 2:
            raise OperationalError("lost the connection")
        real(*rows)

    monkeypatch.setattr(service, "_write", failing)
    with pytest.raises(OperationalError, match="lost the connection"):
        classify_entries(organization=importer_org, as_of=AS_OF)
    def ids(call):  # type: ignore[no-untyped-def]
        return {row.split("\t", 1)[0] for part in call[:2] for row in part}

    stored = {str(i) for i in classifications_for(importer_org).values_list("entry_id", flat=True)}
    # whole chunks only: the first written committed, the failed one did not; the other writer may have
    # committed the last chunk (one entry) before it saw the failure
    assert ids(calls[0]) <= stored and not stored & ids(calls[1]) and len(stored) in (2, 3)


@pytest.mark.django_db
def test_an_entry_classified_by_another_run_since_it_was_read_is_updated_not_duplicated(importer_org, own_importer,
                                                                                         monkeypatch) -> None:
    e = EntryFactory(organization=importer_org, importer=own_importer)
    classify_entries(organization=importer_org, as_of=AS_OF)
    real = service._fetch

    def stale(ids, **kwargs):  # type: ignore[no-untyped-def]
        # as read before the other run stored its result: no stored path, reasons or liquidated
        return [(*row[:-3], None, None, None) for row in real(ids, **kwargs)]

    monkeypatch.setattr(service, "_fetch", stale)
    later = AS_OF + timedelta(days=30)
    assert classify_entries(organization=importer_org, as_of=later) == 1
    assert Classification.objects.get(entry=e).as_of == later and Classification.objects.count() == 1
