"""A large ES-003 CSV parsed in a second process while this one feeds PostgreSQL (no ORM, no Django).

Why: on a 2-core machine one Python process that reads, repairs and COPYs a million rows is the
bottleneck while the database waits; the parse (csv module + ``Es003Parser.feed``) is most of that
work. Here a child process (``python -m entries.parallel``) runs exactly the same parser over the
same file and streams the lines to the parent already in COPY text format, so the parent only hands
bytes to the server; parsing, the server's COPY and index upkeep then run side by side.

The child never writes a row. It reserves ids for new entries from the ``entries_entry`` sequence
on a connection of its own (sequences are not transactional, exactly as the single-process path's
side connection does), and at the end sends back the parse result (entries, sums, errors, warnings),
the reserved ids and the importers to create. Everything it streams lands inside the parent's one
load transaction, so a failure anywhere leaves nothing half-written.

Protocol on the child's stdout, each message one pickle: ``("progress", rows_read)``,
``("direct", bytes)`` (lines of new entries, for entries_tariffline), ``("staged", bytes)`` (lines
of entries already stored, for the staging table), then ``("done", ParseResult, reserved,
to_create)``, ``("file_error", message)`` (an Es003FileError while streaming) or ``("crash", text)``.
The job arrives pickled on stdin.
"""

from __future__ import annotations

import gc
import pickle
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from accounts.irnumber import mask_ir_number
from entries.es003 import Es003FileError, Es003Parser, Es003Source, Limits, ParseResult

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- importers (pure, picklable)
@dataclass
class ImporterRules:
    """Which importers' rows an organisation may load, answered from sets read before parsing
    (accounts.services.importer_for_upload's rules). Records the broker's new clients in ``to_create``."""

    importer_organization: bool
    visible: set[str]
    owned_elsewhere: set[str] = field(default_factory=set)
    managed_elsewhere: set[str] = field(default_factory=set)
    managed_elsewhere_text: str = ""
    to_create: dict[str, str] = field(default_factory=dict)

    def __call__(self, ir: str, name: str) -> str | None:
        if ir in self.visible:
            return None
        shown = mask_ir_number(ir)
        if self.importer_organization:
            return (f"Importer {shown} is not one of this organisation's importers: an importer organisation may not "
                    "load another company's entries. Its rows were not loaded.")
        if ir in self.owned_elsewhere:
            return (f"Importer {shown} has its own RefundReady workspace: ask its owner to grant your organisation "
                    "access, then upload the report again.")
        if ir in self.managed_elsewhere:
            return f"Importer {shown}: {self.managed_elsewhere_text} Its rows were not loaded."
        self.to_create.setdefault(ir, name)
        return None


# ----------------------------------------------------------------------------- the job
@dataclass
class ParseJob:
    path: str
    file_label: str
    limits: Limits
    max_errors: int
    rules: ImporterRules
    existing: set[str]  # entry numbers the organisation already has (their lines are staged, not inserted)
    dsn: dict[str, Any]  # psycopg.connect() keyword arguments, for the id reservations
    sequence: str  # the entries_entry id sequence
    id_block: int = 10_000
    progress_rows: int = 5_000
    progress_seconds: float = 0.5
    check_rows: int = 500
    chunk_lines: int = 5_000


_NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: str) -> str:
    """A text value in PostgreSQL's COPY text format."""
    return value.translate(_COPY_ESCAPES)


def run_job(job: ParseJob, out: IO[bytes]) -> None:
    """The child's work: parse ``job.path`` and write the messages to ``out``."""
    import psycopg

    def send(*message: Any) -> None:
        pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)

    source = Es003Source(job.path, file_label=job.file_label, limits=job.limits)
    existing, reserved, ids = job.existing, {}, []
    conn = psycopg.connect(**job.dsn, autocommit=True)
    try:
        def next_id() -> int:
            if not ids:
                rows = conn.execute("SELECT nextval(%s) FROM generate_series(1, %s) ORDER BY 1 DESC",
                                    [job.sequence, job.id_block]).fetchall()
                ids.extend(r[0] for r in rows)  # pop() hands them out in ascending order
            return ids.pop()

        def line_key(number: str) -> int | str:
            if number in existing:
                return number
            entry_id = reserved.get(number)
            if entry_id is None:
                entry_id = reserved[number] = next_id()
            return entry_id

        parser = Es003Parser(source.layout, file_label=job.file_label, importer_check=job.rules,
                             max_errors=job.max_errors, line_key=line_key)
        feed, result = parser.feed, parser.result
        direct: list[str] = []
        staged: list[str] = []
        countries: dict[str, str] = {}
        check_at, written_at, written_t = job.check_rows, 0, time.monotonic()
        for row_no, row in source.rows():
            line = feed(row_no, row)
            if line is not None:
                key, line_no, ordinal, hts, goods, duty, country, ieepa = line
                c = countries.get(country)
                if c is None:
                    c = countries[country] = copy_text(country)
                # hts is digits, the amounts validated decimal strings, the key an int id or an
                # 11-character alphanumeric entry number: only the country needs escaping.
                text = f"{key}\t{line_no}\t{ordinal}\t{hts}\t{_NULL if goods is None else goods}\t{duty}\t{c}\t{'t' if ieepa else 'f'}\n"
                if type(key) is int:
                    direct.append(text)
                    if len(direct) >= job.chunk_lines:
                        send("direct", "".join(direct).encode())
                        direct.clear()
                else:
                    staged.append(text)
                    if len(staged) >= job.chunk_lines:
                        send("staged", "".join(staged).encode())
                        staged.clear()
            if row_no >= check_at:
                check_at = row_no + job.check_rows
                now = time.monotonic()
                if row_no - written_at >= job.progress_rows or now - written_t >= job.progress_seconds:
                    send("progress", result.rows_read)
                    written_at, written_t = row_no, now
        if direct:
            send("direct", "".join(direct).encode())
        if staged:
            send("staged", "".join(staged).encode())
        final = parser.finish()
        send("progress", final.rows_read)
        send("done", final, reserved, job.rules.to_create)
    finally:
        conn.close()


def main() -> None:
    gc.disable()  # see refundready.memory.gc_paused: nothing here makes cycles worth collecting
    out = sys.stdout.buffer
    try:
        job = pickle.load(sys.stdin.buffer)
        try:
            run_job(job, out)
        except Es003FileError as exc:
            pickle.dump(("file_error", str(exc)), out, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            pickle.dump(("crash", traceback.format_exc(limit=8)), out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()
    except BrokenPipeError:  # the parent is gone (its worker was killed): nothing to report to
        pass


# ----------------------------------------------------------------------------- the parent's side
class ParseChildError(RuntimeError):
    """The parser process stopped without a result."""


@dataclass
class ChildOutcome:
    result: ParseResult
    reserved: dict[str, int]
    to_create: dict[str, str]


def parse_in_child(job: ParseJob, *, on_direct: Callable[[bytes], None], on_staged: Callable[[bytes], None],
                   on_progress: Callable[[int], None]) -> ChildOutcome:
    """Run ``job`` in a child process, passing its output to the callbacks as it comes.

    Raises Es003FileError for a file the parser rejects while streaming, ParseChildError if the
    child dies or fails; the child is always gone when this returns.
    """
    proc = subprocess.Popen([sys.executable, "-m", "entries.parallel"], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        pickle.dump(job, proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        proc.stdin.close()
        for message in _messages(proc.stdout):
            kind = message[0]
            if kind == "direct":
                on_direct(message[1])
            elif kind == "staged":
                on_staged(message[1])
            elif kind == "progress":
                on_progress(message[1])
            elif kind == "done":
                return ChildOutcome(result=message[1], reserved=message[2], to_create=message[3])
            elif kind == "file_error":
                raise Es003FileError(message[1])
            elif kind == "crash":
                raise ParseChildError(f"the ES-003 parser process failed:\n{message[1]}")
        raise ParseChildError(f"the ES-003 parser process stopped unexpectedly (exit code {proc.wait()})")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()


def _messages(stream: IO[bytes]) -> Iterator[tuple[Any, ...]]:
    while True:
        try:
            yield pickle.load(stream)
        except EOFError:
            return


if __name__ == "__main__":
    main()
