"""Helpers for the fault tests: a stable dump of what an organisation holds, and the invariants that
must hold at every instant (no half-ingested entry is ever visible)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from entries.samplegen import write_es003


@contextlib.contextmanager
def eager() -> Iterator[None]:
    """Run tasks in this process (the reference runs), whatever the worker fixture configured."""
    from refundready.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = old


def broker_diagnosis(queue: str) -> str:
    """Why a task sent to ``queue`` may never have arrived, when the broker can tell.

    Redis: kombu routes a message through the key ``_kombu.binding.<queue>``, written when the worker
    starts. If that key is gone, the Redis database was flushed under the test (Django's RedisCache.clear()
    is FLUSHDB: another test run using the same REDIS_URL database while this one ran) and kombu drops
    every message sent to the queue from then on without an error."""
    from django.conf import settings

    url = str(settings.CELERY_BROKER_URL)
    if not url.startswith(("redis://", "rediss://")):
        return ""
    import redis

    try:
        client = redis.Redis.from_url(url)
        try:
            if client.exists(f"_kombu.binding.{queue}"):
                return ""
        finally:
            client.close()
    except redis.RedisError as exc:
        return f"(Redis could not be asked about the queue: {exc})"
    return (
        f"The queue's binding _kombu.binding.{queue} is gone from {url}: the Redis database was flushed while "
        "this test ran (another test run whose cache.clear() flushes the same database?), so kombu dropped "
        "the messages sent to the queue. Run concurrent test runs on Redis databases of their own."
    )


def wait_while_progressing(
    measure: Callable[[], Any],
    reached: Callable[[Any], bool],
    *,
    worker: Any,
    stall: float,
    ceiling: float = 900.0,
    interval: float = 0.2,
) -> Any:
    """Wait until ``reached(measure())``. A slow machine only makes this longer: it fails when the measure has
    not changed for ``stall`` seconds (the job is stuck, or was never started), at once when the worker
    process has exited, and after ``ceiling`` seconds in any case; the message carries the worker's log and
    what the broker tells (broker_diagnosis). Returns the last measure."""

    def failure(what: str) -> AssertionError:
        return AssertionError(f"{what}. {broker_diagnosis(worker.queue)}\nworker log:\n{worker.output()[-3000:]}")

    start = last_change = time.monotonic()
    value = measure()
    while not reached(value):
        now = time.monotonic()
        if worker.proc.poll() is not None:
            raise failure(f"the worker exited ({worker.proc.returncode}) at {value!r}")
        if now - last_change > stall:
            raise failure(f"no progress for {stall:.0f} s (stuck at {value!r})")
        if now - start > ceiling:
            raise failure(f"not reached within {ceiling:.0f} s (at {value!r})")
        time.sleep(interval)
        new = measure()
        if new != value:
            value, last_change = new, time.monotonic()
    return value


def dump_builds(organization_id: int) -> dict[str, Any]:
    """What the organisation's declaration builds produced, free of ids and timestamps: each job's outcome
    (its declarations by name, in build order) and every declaration with its bytes, checks and entries."""
    from cape.models import Declaration, DeclarationBuildJob, DeclarationEntry

    decls = {
        d["id"]: d
        for d in Declaration.objects.filter(organization_id=organization_id).values(
            "id",
            "name",
            "importer__ir_number",
            "status",
            "entry_count",
            "ieepa_duty",
            "sha256",
            "file_bytes",
            "preflight",
        )
    }
    items: dict[int, list[tuple[Any, ...]]] = {pk: [] for pk in decls}
    for row in DeclarationEntry.objects.filter(declaration_id__in=list(decls)).values_list(
        "declaration_id", "position", "entry__entry_number", "outcome", "error_text"
    ):
        items[row[0]].append(row[1:])
    jobs = [
        (
            j.status,
            [decls[i]["name"] if i in decls else f"missing {i}" for i in j.declaration_ids],
            j.considered,
            j.left_out,
            j.left_out_count,
            j.candidates,
            j.total,
            j.done,
            j.message,
        )
        for j in DeclarationBuildJob.objects.filter(organization_id=organization_id).order_by("pk")
    ]
    declarations = sorted(
        (
            d["name"],
            d["importer__ir_number"],
            d["status"],
            d["entry_count"],
            d["ieepa_duty"],
            d["sha256"],
            bytes(d["file_bytes"] or b""),
            {k: v for k, v in d["preflight"].items() if k != "ran_at"},
            tuple(sorted(items[pk])),
        )
        for pk, d in decls.items()
    )
    return {"jobs": jobs, "declarations": declarations}


def wipe_builds(organization_id: int) -> None:
    from cape.models import Declaration, DeclarationBuildJob

    Declaration.objects.filter(organization_id=organization_id).delete()
    DeclarationBuildJob.objects.filter(organization_id=organization_id).delete()


def _visible_importers(organization_id: int) -> list[int]:
    """The importers the organisation sees: its entries are theirs (one entry per entry number)."""
    from accounts.models import Organization
    from accounts.selectors import importers_for

    return list(importers_for(Organization.objects.get(pk=organization_id)).values_list("pk", flat=True))


def dump_entries(organization_id: int) -> list[tuple[Any, ...]]:
    """Every entry of the organisation with all its lines, free of ids and timestamps."""
    from entries.models import Entry, TariffLine

    entries = {
        e["id"]: e
        for e in Entry.objects.filter(importer_id__in=_visible_importers(organization_id)).values(
            "id",
            "entry_number",
            "importer__ir_number",
            "entry_type",
            "entry_date",
            "entry_summary_date",
            "port_code",
            "filer_code",
            "filer_name",
            "liquidation_status",
            "liquidation_status_raw",
            "liquidation_date",
            "recon_flag",
            "psc_flag",
            "protest_number",
            "protest_status",
            "ieepa_duty",
            "total_duty",
            "has_liquidation_columns",
        )
    }
    lines: dict[int, list[tuple[Any, ...]]] = {pk: [] for pk in entries}
    for line in (
        TariffLine.objects.filter(entry_id__in=list(entries))
        .values_list(
            "entry_id", "line_number", "ordinal", "hts", "goods_value", "duty", "country_of_origin", "is_ieepa"
        )
        .iterator(chunk_size=20_000)
    ):
        lines[line[0]].append(line[1:])
    out = []
    for pk, e in entries.items():
        row = tuple(v for k, v in e.items() if k != "id")
        out.append((row, tuple(sorted(lines[pk]))))
    return sorted(out)


def dump_classifications(organization_id: int) -> list[tuple[Any, ...]]:
    from cape.models import Classification

    return sorted(
        Classification.objects.filter(importer_id__in=_visible_importers(organization_id)).values_list(
            "entry__entry_number",
            "path",
            "reasons",
            "deadline",
            "urgent",
            "deadline_passed",
            "ieepa_duty",
            "estimated_interest",
            "as_of",
            "ruleset",
        )
    )


def assert_entries_whole(organization_id: int) -> int:
    """Every stored entry has lines, and its cached duty sums equal the sums of its lines (one SQL pass)."""
    ids = ",".join(str(int(i)) for i in _visible_importers(organization_id)) or "NULL"
    with connection.cursor() as cur:
        cur.execute(
            "SELECT e.entry_number, e.ieepa_duty, e.total_duty, COUNT(t.id), "
            "COALESCE(SUM(CASE WHEN t.is_ieepa THEN t.duty ELSE 0 END), 0), COALESCE(SUM(t.duty), 0) "
            "FROM entries_entry e LEFT JOIN entries_tariffline t ON t.entry_id = e.id "
            f"WHERE e.importer_id IN ({ids}) GROUP BY e.id, e.entry_number, e.ieepa_duty, e.total_duty"
        )
        rows = cur.fetchall()

    def cents(value: Any) -> Decimal:  # SQLite sums in floating point
        return Decimal(str(value)).quantize(Decimal("0.01"))

    bad = [r for r in rows if r[3] == 0 or cents(r[1]) != cents(r[4]) or cents(r[2]) != cents(r[5])]
    assert not bad, f"{len(bad)} half-ingested entries, e.g. {bad[:3]}"
    return len(rows)


@pytest.fixture(scope="session")
def es003_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small report and a large overlapping one (generated once per session: writing takes seconds)."""
    base = tmp_path_factory.mktemp("es003")
    return {
        # The large report overlaps the small one (about 500 entries) from its 300th entry, with other values: it both adds
        # entries and changes existing ones.
        "small": write_es003(base / "small.csv", 3000, seed=7, first_serial=5500000),
        "large": write_es003(base / "large.csv", 160_000, seed=8, first_serial=5500300),
    }
