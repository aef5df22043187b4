"""How an upload shows its progress while its file loads: the rows read, written where the upload page can poll them.

Progress is written every PROGRESS_EVERY_ROWS rows or PROGRESS_EVERY_SECONDS, whichever comes first, so a weekly
file of a few thousand rows moves the bar instead of jumping from 0 to done. The clock is read only every
PROGRESS_CHECK_ROWS rows: the per-row cost is one integer comparison. A big file writes every 1 % of its rows
instead (PROGRESS_STEPS; a bar shows no finer step): a million-line CSV then writes about 100 times, not 200, each
write a round trip while both cores are busy with the load.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from entries.ingest.parser import Es003Parser
from entries.ingest.source import Es003Source
from entries.ingest.staging import LoadConnection
from entries.models import Upload
from refundready.jobs import ProgressTicker
from refundready.pacing import Pacer

PROGRESS_EVERY_ROWS = 5_000
PROGRESS_EVERY_SECONDS = 0.5
PROGRESS_STEPS = 100
PROGRESS_CHECK_ROWS = 500


class UploadProgress:
    """The progress of one load: called with the rows read so far (the parser's count by default), it writes them
    in a short transaction of its own, then lets pages be served first (refundready.pacing: a bulk job)."""

    def __init__(self, upload: Upload, parser: Es003Parser, side: LoadConnection | None) -> None:
        self.upload, self.parser, self.side = upload, parser, side
        self.pacer = Pacer()

    def __call__(self, rows_read: int | None = None) -> None:
        # Autocommit, so the upload page can poll it: on SQLite between the staging statements (the line iterator
        # runs outside them), on PostgreSQL through the second connection (the main one may be mid-COPY).
        done = self.parser.result.rows_read if rows_read is None else rows_read
        if self.side is not None:
            self.side.progress(self.upload.pk, done)
        else:
            Upload.objects.filter(pk=self.upload.pk).update(rows_read=done)
        self.pacer.pace()

    def ticker(self, emit: Callable[[int], None] | None = None) -> ProgressTicker:
        every_rows = max(PROGRESS_EVERY_ROWS, (self.upload.rows_total or 0) // PROGRESS_STEPS)
        return ProgressTicker(emit or self, every_rows=every_rows, every_seconds=PROGRESS_EVERY_SECONDS,
                              check_rows=PROGRESS_CHECK_ROWS)

    def lines(self, source: Es003Source) -> Iterator[tuple[Any, ...]]:
        """The row path: the parser's staged lines for the file's rows, progress written along the way."""
        feed = self.parser.feed
        rows = self.ticker(lambda _row_no: self())
        next_check = rows.next_check
        for row_no, row in source.rows():
            line = feed(row_no, row)
            if line is not None:
                yield line
            if row_no >= next_check:  # row_no is the file's row number: monotonic, no counter to keep
                rows.at(row_no)
                next_check = rows.next_check

    def stop(self) -> None:
        self.pacer.stop()
