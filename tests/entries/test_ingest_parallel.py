"""A large CSV on PostgreSQL is parsed in a second process (entries.parallel): same data, same errors,
same guarantees as the single-process load."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from accounts.models import Importer
from entries import parallel
from entries.models import Entry, TariffLine, Upload
from entries.samplegen import EXTENDED_COLUMNS, Text, write_es003
from tests.entries.conftest import entry_rows
from tests.factories import BrokerFactory, ImporterFactory, OrganizationFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the parser process is used on PostgreSQL only"),
]


def _digest(organization: Any) -> str:
    """Everything stored for the organisation's entries, by entry number (ids differ between runs)."""
    h = hashlib.sha256()
    for row in (Entry.objects.filter(organization=organization).order_by("entry_number")
                .values_list("entry_number", "importer__ir_number", "entry_type", "entry_date", "entry_summary_date",
                             "port_code", "liquidation_status", "liquidation_status_raw", "liquidation_date",
                             "recon_flag", "protest_status", "ieepa_duty")):
        h.update(repr(row).encode())
    for row in (TariffLine.objects.filter(entry__organization=organization)
                .order_by("entry__entry_number", "line_number", "ordinal")
                .values_list("entry__entry_number", "line_number", "ordinal", "hts", "goods_value", "duty",
                             "country_of_origin", "is_ieepa")):
        h.update(repr(row).encode())
    return h.hexdigest()


def _summary(upload: Upload) -> dict[str, Any]:
    return {k: v for k, v in upload.summary.items() if k != "changes"}


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[parallel.ParseJob]:
    """Records each job sent to a parser process (proves which path a load took)."""
    jobs: list[parallel.ParseJob] = []
    real = parallel.parse_in_child

    def recording(job: parallel.ParseJob, **kwargs: Any) -> parallel.ChildOutcome:
        jobs.append(job)
        return real(job, **kwargs)

    monkeypatch.setattr("entries.services.parse_in_child", recording)
    return jobs


def _load_both_ways(settings: Any, ingest: Callable[..., Upload], path: Path, spy: list[Any],
                    *, make_org: Callable[[str], Any]) -> tuple[tuple[Upload, str], tuple[Upload, str]]:
    settings.ES003_PARALLEL_MIN_ROWS = 10**9
    single_org = make_org("single")
    single = ingest(path, organization=single_org)
    assert not spy
    single_digest = _digest(single_org)
    # The same importers may not be loaded by a second broker: free them for the second run.
    Entry.objects.filter(organization=single_org).delete()
    single_org.delete()
    Importer.objects.filter(owner__isnull=True, grants__isnull=True).delete()
    settings.ES003_PARALLEL_MIN_ROWS = 0
    parallel_org = make_org("parallel")
    par = ingest(path, organization=parallel_org)
    assert len(spy) == 1
    return (single, single_digest), (par, _digest(parallel_org))


def test_a_large_csv_loads_the_same_entries_lines_and_summary_in_the_parser_process(settings, ingest, tmp_path, spy):
    path = write_es003(tmp_path / "big.csv", 6_000, seed=11)
    (single, single_digest), (par, par_digest) = _load_both_ways(
        settings, ingest, path, spy, make_org=lambda s: BrokerFactory(slug=f"broker-{s}"))
    assert single.status == par.status == Upload.Status.DONE
    assert par_digest == single_digest
    assert _summary(par) == _summary(single)
    assert par.summary["lines"] == 6_000
    assert par.rows_read == 6_000


def _numbers(n: int) -> list[str]:
    from entries.entrynumber import check_digit

    return [f"3BZ{serial:07d}" + str(check_digit(f"3BZ{serial:07d}")) for serial in range(n)]


def test_bad_rows_are_held_back_and_reported_identically(settings, ingest, write_es003, spy):
    rows: list[list[object]] = []
    for i, number in enumerate(_numbers(200)):
        if i == 5:
            pair = entry_rows(number)
            pair[1][EXTENDED_COLUMNS.index("Line Tariff Duty Amount")] = "12,34,5x"  # an amount that cannot be read
            rows += pair
        elif i == 101:
            rows += entry_rows(number, **{"Entry Date": "13/45/2026", "Entry Summary Date": "13/46/2026"})
        elif i == 150:
            rows += entry_rows("ABC-12", ieepa_duty="50.00")  # an entry number that cannot be repaired
        else:
            rows += entry_rows(number)
    path = write_es003(rows)
    (single, single_digest), (par, par_digest) = _load_both_ways(
        settings, ingest, path, spy, make_org=lambda s: BrokerFactory(slug=f"broker-{s}"))
    assert par_digest == single_digest
    assert par.errors == single.errors and len(par.errors) >= 3
    assert _summary(par) == _summary(single)
    assert par.summary["entries_held_back"] == single.summary["entries_held_back"] == 2
    assert len(par.summary["unrepairable_entries"]) == 2  # one per row of the entry
    assert Entry.objects.filter(organization=par.organization).count() == 197


def test_an_importer_organisation_gets_the_same_rejection_of_another_companys_rows(settings, ingest, write_es003, spy):
    rows: list[list[object]] = []
    for serial, number in enumerate(_numbers(50)):
        ir = "93-417726100" if serial % 2 else "27-418830200"
        rows += entry_rows(number, **{"Importer Number": Text(ir)})
    path = write_es003(rows)

    def make_org(suffix: str) -> Any:
        org = OrganizationFactory(slug=f"importer-{suffix}")
        ImporterFactory(ir_number="93-417726100", owner=org)
        return org

    settings.ES003_PARALLEL_MIN_ROWS = 10**9
    single_org = make_org("single")
    single = ingest(path, organization=single_org)
    single_count = Entry.objects.filter(organization=single_org).count()
    Entry.objects.filter(organization=single_org).delete()
    Importer.objects.filter(owner=single_org).delete()
    settings.ES003_PARALLEL_MIN_ROWS = 0
    parallel_org = make_org("parallel")
    par = ingest(path, organization=parallel_org)
    assert len(spy) == 1
    assert par.errors == single.errors and par.errors
    assert "may not load another company's entries" in par.errors[0]["reason"]
    assert Entry.objects.filter(organization=parallel_org).count() == single_count == 25


def test_a_second_newer_report_updates_stored_entries_through_the_parser_process(settings, ingest, tmp_path, spy):
    settings.ES003_PARALLEL_MIN_ROWS = 0
    broker = BrokerFactory(slug="broker-again")
    path = write_es003(tmp_path / "week1.csv", 3_000, seed=5)
    first = ingest(path, organization=broker)
    before = _digest(broker)
    again = ingest(path, organization=broker)
    assert len(spy) == 2
    assert first.status == again.status == Upload.Status.DONE
    assert _digest(broker) == before, "the same file again changes nothing"
    assert again.summary["entries_created"] == 0 and again.summary["lines_created"] == 0
    # A newer report: every unliquidated entry now liquidated.
    text = path.read_text()
    newer = tmp_path / "week2.csv"
    newer.write_text(text.replace(",,Unliquidated,", ",11/06/2026,Liquidated,"))
    third = ingest(newer, organization=broker)
    assert third.status == Upload.Status.DONE and third.summary["entries_updated"] > 0
    assert not Entry.objects.filter(organization=broker, liquidation_status="unliquidated").exists()
    assert TariffLine.objects.filter(entry__organization=broker).count() == 3_000


def test_a_file_error_found_while_streaming_fails_the_upload_and_stores_nothing(settings, ingest, tmp_path, spy):
    settings.ES003_PARALLEL_MIN_ROWS = 0
    broker = BrokerFactory(slug="broker-huge-cell")
    path = write_es003(tmp_path / "cell.csv", 2_000, seed=3)
    with path.open("a") as fh:
        fh.write('"' + "x" * 200_000 + '",1,01\n')  # over the csv module's cell limit
    upload = ingest(path, organization=broker)
    assert len(spy) == 1
    assert upload.status == Upload.Status.FAILED
    assert "longer than" in upload.error_message
    assert not Entry.objects.filter(organization=broker).exists()
    assert not TariffLine.objects.filter(entry__organization=broker).exists()


def test_a_parser_process_that_fails_leaves_nothing_and_says_so(settings, ingest, tmp_path, monkeypatch):
    settings.ES003_PARALLEL_MIN_ROWS = 0
    import entries.services as services

    real = services._parse_job

    def broken(*args: Any, **kwargs: Any) -> parallel.ParseJob:
        job = real(*args, **kwargs)
        job.sequence = "no_such_sequence"  # the child's first id reservation fails
        return job

    monkeypatch.setattr(services, "_parse_job", broken)
    broker = BrokerFactory(slug="broker-broken")
    upload = ingest(write_es003(tmp_path / "ok.csv", 500, seed=2), organization=broker)
    assert upload.status == Upload.Status.FAILED
    assert "nothing from this file was stored" in upload.error_message
    assert not Entry.objects.filter(organization=broker).exists()


def test_copy_text_escapes_what_postgresql_would_misread() -> None:
    assert parallel.copy_text("a\tb\\c\nd\re") == "a\\tb\\\\c\\nd\\re"
    assert parallel.copy_text("CN") == "CN"
