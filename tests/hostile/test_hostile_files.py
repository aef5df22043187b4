"""Every hostile file (tests/hostile/generate.py) ends in a clear error or a correct load, in bounded
time and memory, and never crashes the upload (issue 9, Bad input).

Safety bounds, not performance goals: under 60 s and 500 MB each. Python allocations are measured
with tracemalloc around the real service (upload_create then upload_process); the whole process
(python-calamine allocates outside Python) is measured by parsing each file in a fresh subprocess and
reading its peak resident size.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.services import ServiceError
from cape.selectors import entries_for
from entries.ingest.intake import upload_create
from entries.ingest.service import upload_process
from entries.models import Upload
from tests.hostile.generate import CASES, CASES_BY_NAME, generate_all, reference_csv
from tests.reliability.conftest import assert_entries_whole, dump_entries

ROOT = Path(__file__).resolve().parents[2]
MAX_SECONDS = 60
MAX_MB = 500
# The child that parses a file may reserve at most this much address space: an allocation past it fails in
# that child (a reader that allocates a sheet's whole used range dies there, not the machine running the tests).
CHILD_ADDRESS_SPACE = 3 * 1024**3


@pytest.fixture(scope="session")
def hostile_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_all(tmp_path_factory.mktemp("hostile"))


def _run(path: Path, organization, user, capture) -> tuple[Upload | None, str, float, float]:  # type: ignore[no-untyped-def]
    """Upload and process as the page does; returns (upload, error text, seconds, peak MB)."""
    tracemalloc.start()
    start = time.monotonic()
    upload, message = None, ""
    try:
        with capture(execute=False):
            upload = upload_create(
                organization=organization, user=user, file=SimpleUploadedFile(path.name, path.read_bytes())
            )
        upload = upload_process(upload_id=upload.pk)
        message = upload.error_message
    except ServiceError as exc:  # refused at upload: the form shows it beside the file field
        message = exc.message
    finally:
        seconds = time.monotonic() - start
        peak = tracemalloc.get_traced_memory()[1] / 1024**2
        tracemalloc.stop()
    return upload, message, seconds, peak


# Known gaps in entries/ingest/, as strict xfails (the test fails as soon as the gap
# is fixed, so the entry gets removed). None at present.
KNOWN_GAPS: dict[str, str] = {}


def _cases(names: list[str], gaps: set[str] | None = None) -> list:  # type: ignore[type-arg]
    gaps = set(KNOWN_GAPS) if gaps is None else gaps
    return [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[n])) if n in gaps else n for n in names
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("name", _cases([c.name for c in CASES]))
def test_each_hostile_file_ends_cleanly(
    name, hostile_files, importer_org, alice, tmp_path, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    case = CASES_BY_NAME[name]
    upload, message, seconds, peak = _run(hostile_files[name], importer_org, alice, django_capture_on_commit_callbacks)
    assert seconds < MAX_SECONDS, f"{name}: {seconds:.1f} s"
    assert peak < MAX_MB, f"{name}: {peak:.0f} MB of Python allocations"
    if case.expect == "empty":  # a report with no rows for its dates is a real, correct answer
        assert upload is not None and upload.status == "done" and upload.summary["rows_read"] == 0, message
        assert not entries_for(importer_org).exists()
        return
    if case.expect == "error":
        assert upload is None or upload.status == "failed", f"{name}: loaded ({upload and upload.summary})"
        assert message, f"{name}: failed without a message"
        assert "unexpected error" not in message, f"{name}: not a clear error: {message}"
        lowered = message.lower()
        for alternatives in case.message:
            assert any(word in lowered for word in alternatives), f"{name}: message {message!r} lacks {alternatives}"
        assert path_name_in(message, hostile_files[name]), f"{name}: the message does not name the file: {message}"
        assert not entries_for(importer_org).exists()
        return
    assert upload is not None and upload.status == "done", f"{name}: {message}"
    assert_entries_whole(importer_org.pk)
    got = dump_entries(importer_org.pk)
    # The same report as the plain reference file.
    entries_for(importer_org).delete()
    ref, _, _, _ = _run(reference_csv(tmp_path), importer_org, alice, django_capture_on_commit_callbacks)
    assert ref is not None and ref.status == "done"
    expected = dump_entries(importer_org.pk)
    if name.startswith(("formula_cells", "enormous_cell")):
        # Text cells differ from the plain file (a formula's text is kept as text; every export neutralises
        # it: tests/security/test_exports.py); entries and lines must be the same.
        assert [(r[0], lines) for r, lines in got] == [(r[0], lines) for r, lines in expected]
    elif name == "ten_thousand_columns_xlsx":
        # 20 of the 60 lines: every entry equals the plain file's but the last, which the cut may split.
        by_number = {row[0]: (row, lines) for row, lines in expected}
        assert got and sum(g == by_number.get(g[0][0]) for g in got) >= len(got) - 1
    else:
        assert got == expected, f"{name}: loaded other data than the plain file"


def path_name_in(message: str, path: Path) -> bool:
    return path.name in message or path.stem in message


_PARSE_ONLY = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from entries.ingest.parser import Es003Parser
from entries.ingest.source import Es003FileError, Es003Source
path = sys.argv[2]
start = time.monotonic()
outcome = "loaded"
try:
    source = Es003Source(path)
    parser = Es003Parser(source.layout, file_label=path)
    for row_no, row in source.rows():
        parser.feed(row_no, row)
    parser.finish()
except Es003FileError as exc:
    outcome = "error: " + str(exc)[:200]
except Exception as exc:
    outcome = "crash: " + repr(exc)[:200]
# VmHWM: this process's own peak (ru_maxrss would inherit the parent's peak across fork and exec).
with open("/proc/self/status") as fh:
    hwm_kb = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
print(json.dumps({"seconds": time.monotonic() - start, "outcome": outcome, "peak_mb": hwm_kb / 1024}))
"""


@pytest.mark.parametrize(
    "name",
    _cases([c.name for c in CASES if c.name not in {"empty_file_csv", "xls_named_csv"}]),
)
def test_parsing_each_hostile_file_stays_within_whole_process_memory(name, hostile_files) -> None:  # type: ignore[no-untyped-def]
    def limit_address_space() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CHILD_ADDRESS_SPACE, CHILD_ADDRESS_SPACE))

    result = subprocess.run(
        [sys.executable, "-c", _PARSE_ONLY, str(ROOT), str(hostile_files[name])],
        capture_output=True,
        text=True,
        timeout=MAX_SECONDS * 2,
        cwd=ROOT,
        preexec_fn=limit_address_space,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["seconds"] < MAX_SECONDS, figures
    assert figures["peak_mb"] < MAX_MB, figures
    assert not figures["outcome"].startswith("crash"), figures
