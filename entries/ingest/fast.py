"""The vectorised ES-003 CSV path: ``Es003Parser.feed``'s results, whole columns at a time (pyarrow).

A million-line CSV spends most of its time in the row loop (``Es003Parser.feed``), one dict lookup per
cell. Here pyarrow's C++ CSV reader parses the file in batches and every column is checked and repaired
at once: money in its common ACE shape (``$2,567.49``) by compute kernels, every other column through the
row path's own repair functions applied once per distinct value of the batch (dictionary encoding), so a
repair here is by construction the repair there.

Only whole entries take this path, and only clean ones: an entry with any row the checks do not accept
(a value the row path would reject or that needs more than these shapes, a duplicate line, an importer
the organisation may not load, an unknown liquidation status, entry cells that differ from row to row) is
fed, row by row and in file order, to the same ``Es003Parser`` as before. So every error, warning, repair
and "an entry with any bad row is held back whole" is the row path's own.

What must hold for the two to read the same rows, checked before or while reading; when it does not,
``FastPathUnsuitable`` is raised and the caller rolls back and runs the row path on the whole file:

* UTF-8 (the row path's own choice of encoding), no NUL byte, the header exactly where the csv module
  found it, every record as many fields as the header, no cell over the csv module's field size limit;
* as many records as lines after the header (no blank line, no line break inside a quoted cell), so a
  record's row number is its line number as the csv module counts it;
* each entry's rows together (an entry number that comes back after another entry's rows changes how the
  row path groups rows); the report has line number and tariff ordinal columns.

The cross-row facts the row path keeps (check-digit warnings in order of first appearance, which name
an importer to be created gets, entries in file order) are kept here in the same order.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from entries import entrynumber
from entries.ingest.parser import Es003Parser
from entries.ingest.repairs import (
    ENTRY_PARSERS,
    LINE_PARSERS,
    Bad,
    RepairError,
    goods_cell,
    money_cell,
    parse_entry_number,
    parse_hts,
    parse_int,
    parse_protest_status,
    text,
)
from entries.ingest.source import ENTRY_FIELDS, Es003Source, match_header

BLOCK_SIZE = 1 << 23  # bytes of CSV per batch: about 40,000 rows, a few MB of arrays at a time
# Bytes of CSV pyarrow parses at a time; a batch is made of several. Small enough for a block's arrays to
# fit in the processor's cache (README, Benchmarks: "Where the time goes").
READ_BLOCK_SIZE = 1 << 20
# An entry number already clean, bare or in ACE's ="…" guard (entrynumber.repair gives the same 11 characters);
# any other spelling is repaired by entrynumber.parse once per distinct value.
_ENTRY_SHAPE = r'^(?:="[0-9A-Z]{3}[0-9]{8}"|[0-9A-Z]{3}[0-9]{8})$'
# Money the row path's own fast branch accepts ($ and , removed, digits, a point, two decimals), kept to
# amounts under $10,000,000,000 so that a sum of cents over any entry fits in 64 bits. Anything else goes
# through repairs.money_cell (FREE, blanks, (12.00), ...) once per distinct value.
_MONEY_SHAPE = r"^[0-9]{1,10}\.[0-9]{2}$"
# The same with a decimal comma (a file whose Layout.decimal is ","), dots as thousands separators, no leading
# zero: what parse_money turns into exactly these digits with a point (repairs._point_form).
_COMMA_MONEY_SHAPE = r"^(?:[1-9][0-9]{0,2}(?:\.[0-9]{3}){1,2}|[1-9][0-9]{0,9}|0),[0-9]{2}$"
_CENTS_LIMIT = 10**12
_HEADER_BYTES = 1 << 22


class FastPathUnsuitable(Exception):
    """The file is not one this path reads exactly as the row path does; nothing it wrote may be kept."""


class OrderedImporterCheck:
    """The importer check, called by both paths, remembering the earliest row each importer was met on.

    The row path asks once per importer, in file order, and an importer to be created keeps the name of
    that first row; with two paths the calls come out of order, so ``finish`` puts the names (and the
    creation order) back to what a single pass in file order gives.
    """

    def __init__(self, check: Callable[[str, str], str | None]) -> None:
        self.check = check
        self.row = 0  # the row the row path is being fed
        self.first: dict[str, tuple[int, str]] = {}

    def __call__(self, ir: str, name: str) -> str | None:
        return self.at(self.row, ir, name)

    def at(self, row: int, ir: str, name: str) -> str | None:
        seen = self.first.get(ir)
        if seen is None or row < seen[0]:
            self.first[ir] = (row, name)
        return self.check(ir, name)

    def finish(self) -> None:
        to_create = getattr(self.check, "to_create", None)
        if to_create:
            order = sorted(to_create, key=lambda ir: self.first[ir][0])
            fixed = {ir: self.first[ir][1] for ir in order}
            to_create.clear()
            to_create.update(fixed)


@dataclass
class Batch:
    """What one batch of the file gives the loader."""

    new_lines: pa.Table | None = None  # TARIFFLINE_COLUMNS: lines of entries given a reserved row id
    staged_lines: pa.Table | None = None  # STAGE_LINE_COLUMNS: lines keyed by entry number
    row_lines: list[tuple[Any, ...]] = field(default_factory=list)  # from Es003Parser.feed, keyed as it keys them


def _header_offset(path: Path, source: Es003Source) -> tuple[int, int] | None:
    """Byte offset just after the header record and the header's width, if the csv module agrees."""
    h = source.layout.header_row
    with path.open("rb") as fh:
        head = fh.read(_HEADER_BYTES)
    offset = -1
    for _ in range(h):
        offset = head.find(b"\n", offset + 1)
        if offset < 0:
            return None
    offset += 1
    try:
        text = head[:offset].decode(source.encoding)
    except UnicodeDecodeError:
        return None
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=source.delimiter))
    if len(records) != h or match_header(records[-1]) != source.layout.columns:
        return None
    return offset, len(records[-1])


def _scan(path: Path, offset: int) -> int | None:
    """Lines after the header (the csv module's records when no cell holds a line break); None on a NUL."""
    lines, last = 0, b"\n"
    with path.open("rb") as fh:
        fh.seek(offset)
        for chunk in iter(lambda: fh.read(1 << 23), b""):
            if b"\x00" in chunk:
                return None
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (0 if last == b"\n" else 1)


def open_fast(
    source: Es003Source, parser: Es003Parser, check: OrderedImporterCheck, line_key: Callable[[str], Any] | None
) -> FastCsv | None:
    """A FastCsv for this file, or None when it must be read row by row from the start."""
    layout = source.layout
    if source.kind != "csv" or getattr(source, "encoding", "") != "utf-8-sig":
        return None
    if "line_number" not in layout.columns or "ordinal" not in layout.columns:
        return None
    found = _header_offset(source.path, source)
    if found is None:
        return None
    offset, width = found
    lines = _scan(source.path, offset)
    if lines is None:
        return None
    return FastCsv(source, parser, check, line_key, offset=offset, width=width, lines=lines)


def _call(fn: Callable[[Any], Any], value: Any) -> Any:
    try:
        return fn(value)
    except RepairError as exc:
        return Bad(str(exc))


class _Mapped:
    """fn over every value of a column, applied once per distinct value (and remembered across batches)."""

    def __init__(self, values: pa.Array, fn: Callable[[Any], Any], cache: dict[Any, Any]) -> None:
        encoded = pc.dictionary_encode(values)
        results = []
        for v in encoded.dictionary.to_pylist():
            r = cache.get(v, _MISSING)
            if r is _MISSING:
                r = cache[v] = _call(fn, v)
            results.append(r)
        self.results = results
        self.idx = encoded.indices.to_numpy(zero_copy_only=False)
        self.ok_u = np.fromiter((type(r) is not Bad for r in results), dtype=bool, count=len(results))

    @property
    def ok(self) -> np.ndarray:
        return self.ok_u[self.idx]

    def per_value(self, fn: Callable[[Any], Any], dtype: Any) -> np.ndarray:
        """fn of each distinct good result (bad ones give 0/False), as a per-row numpy array."""
        out = np.array(
            [fn(r) if ok else _zero(dtype) for r, ok in zip(self.results, self.ok_u, strict=True)], dtype=dtype
        )
        return out[self.idx] if len(out) else np.zeros(len(self.idx), dtype=dtype)

    def arrow(
        self, typ: pa.DataType, rows: np.ndarray | None = None, fn: Callable[[Any], Any] | None = None
    ) -> pa.Array:
        """The results as an Arrow column (bad ones null), for every row or the rows given by index."""
        clean = [None if type(r) is Bad else (fn(r) if fn else r) for r in self.results]
        values = pa.array(clean, typ)
        return values.take(pa.array(self.idx if rows is None else self.idx[rows]))

    def objects(self, rows: np.ndarray) -> list[Any]:
        res = np.empty(len(self.results), dtype=object)
        for i, r in enumerate(self.results):  # element by element: a result may itself be a tuple
            res[i] = r
        return res[self.idx[rows]].tolist()


def _zero(dtype: Any) -> Any:
    return False if dtype is bool else 0


_MISSING = object()


class FastCsv:
    def __init__(
        self,
        source: Es003Source,
        parser: Es003Parser,
        check: OrderedImporterCheck,
        line_key: Callable[[str], Any] | None,
        *,
        offset: int,
        width: int,
        lines: int,
    ) -> None:
        self.source, self.parser, self.check, self.line_key = source, parser, check, line_key
        self.offset, self.width, self.expected_records = offset, width, lines
        self.layout = source.layout
        self.first_row = self.layout.header_row + 1  # row number of the first record read here
        self.records = 0
        self.seen: set[str] = set()
        self.bad_checks: list[tuple[int, str]] = []
        self.caches: dict[str, dict[Any, Any]] = {}
        self.field_limit = csv.field_size_limit()
        cols = self.layout.columns
        self.entry_cols = [f for f in ENTRY_FIELDS if f in cols]
        self.prefixes = parser._prefixes
        self._protest: dict[tuple[Any, bool], str] = {}
        self._reasons: dict[str, Any] = {}

    # -- reading
    def batches(self) -> Iterator[Batch]:
        names = [f"c{i}" for i in range(self.width)]
        stream = pa.OSFile(str(self.source.path))
        stream.seek(self.offset)
        carry: pa.Table | None = None
        try:
            reader = pcsv.open_csv(
                stream,
                read_options=pcsv.ReadOptions(
                    column_names=names, block_size=min(READ_BLOCK_SIZE, BLOCK_SIZE), use_threads=True
                ),
                parse_options=pcsv.ParseOptions(
                    delimiter=self.source.delimiter,
                    quote_char='"',
                    double_quote=True,
                    escape_char=False,
                    newlines_in_values=True,
                    ignore_empty_lines=True,
                ),
                convert_options=pcsv.ConvertOptions(
                    column_types={n: pa.string() for n in names},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                    check_utf8=True,
                ),
            )
            done = False
            while not done:
                blocks, size = [], 0
                while size < BLOCK_SIZE:
                    try:
                        rb = reader.read_next_batch()
                    except StopIteration:
                        done = True
                        break
                    blocks.append(rb)
                    size += rb.nbytes
                if not blocks:
                    break
                table = pa.Table.from_batches(blocks)
                if carry is not None and carry.num_rows:
                    table = pa.concat_tables([carry, table])
                table = table.combine_chunks()
                numbers = self._numbers(table)
                codes = self._codes(numbers)
                cut = self._last_run_start(codes)
                if cut == 0:
                    carry = table
                    continue
                carry = table.slice(cut)
                yield self._process(table.slice(0, cut), numbers.slice(0, cut), codes[:cut])
        except pa.ArrowException as exc:  # not CSV as the csv module reads it here (field count, encoding, quoting)
            raise FastPathUnsuitable(str(exc)) from None
        finally:
            stream.close()
        if carry is not None and carry.num_rows:
            numbers = self._numbers(carry)
            yield self._process(carry, numbers, self._codes(numbers))
        if self.records != self.expected_records:
            raise FastPathUnsuitable(f"{self.records} records in {self.expected_records} lines")

    def finish(self) -> None:
        """Before Es003Parser.finish: the check-digit warnings of both paths in order of first appearance."""
        r = self.parser.result
        if self.bad_checks:
            merged = sorted([*zip(r.bad_check_rows, r.bad_check_digits, strict=True), *self.bad_checks])
            r.bad_check_rows = [row for row, _ in merged]
            r.bad_check_digits = [n for _, n in merged]
        self.check.finish()

    # -- per batch
    def _cache(self, name: str) -> dict[Any, Any]:
        return self.caches.setdefault(name, {})

    def _numbers(self, table: pa.Table) -> pa.Array:
        """Every row's entry number as the row path repairs it (null when it cannot be repaired)."""
        raw = (
            table.column(self.layout.columns["entry_number"]).chunk(0) if table.num_rows else pa.array([], pa.string())
        )
        ok = pc.match_substring_regex(raw, _ENTRY_SHAPE)
        numbers = pc.if_else(ok, pc.utf8_trim(raw, '="'), pa.scalar(None, pa.string()))
        okn = ok.to_numpy(zero_copy_only=False)
        if not okn.all():
            m = _Mapped(raw.filter(pc.invert(ok)), parse_entry_number, self._cache("entry_number"))
            numbers = pc.replace_with_mask(numbers, pc.invert(ok), m.arrow(pa.string()))
        return numbers

    @staticmethod
    def _codes(numbers: pa.Array) -> np.ndarray:
        return pc.fill_null(pc.dictionary_encode(numbers).indices, -1).to_numpy()

    def _starts(self, codes: np.ndarray) -> np.ndarray:
        start = np.ones(len(codes), dtype=bool)
        start[1:] = codes[1:] != codes[:-1]
        start |= codes < 0  # a row without an entry number stands alone
        return start

    def _last_run_start(self, codes: np.ndarray) -> int:
        starts = np.flatnonzero(self._starts(codes))
        return int(starts[-1]) if len(starts) else 0

    def _process(self, t: pa.Table, numbers: pa.Array, codes: np.ndarray) -> Batch:
        n = t.num_rows
        base_row = self.first_row + self.records
        self.records += n
        cols = self.layout.columns
        columns = [
            t.column(i).chunk(0) if t.column(i).num_chunks == 1 else t.column(i).combine_chunks()
            for i in range(t.num_columns)
        ]
        for col in columns:
            if n and pc.max(pc.binary_length(col)).as_py() > self.field_limit:
                raise FastPathUnsuitable("a cell over the csv module's field size limit")
        is_start = self._starts(codes)
        starts = np.flatnonzero(is_start)
        run_id = np.cumsum(is_start) - 1
        has_entry = codes[starts] >= 0
        run_numbers = set(pc.take(numbers, pa.array(starts[has_entry])).to_pylist())
        if not self.seen.isdisjoint(run_numbers):
            raise FastPathUnsuitable("the rows of an entry are not together")
        self.seen.update(run_numbers)
        split = self._split_entries(codes[starts])

        # Row checks: the entry's cells as on its first row (each row's as on the row before, within a run),
        # every line cell repairable.
        row_ok = codes >= 0
        if n > 1:
            same = np.ones(n - 1, dtype=bool)
            for f in self.entry_cols:
                col = columns[cols[f]]
                same &= pc.equal(col.slice(1), col.slice(0, n - 1)).to_numpy(zero_copy_only=False)
            row_ok[1:] &= same | is_start[1:]

        def line_map(f: str, fn: Callable[[Any], Any]) -> _Mapped | None:
            nonlocal row_ok
            if f not in cols:
                return None
            m = _Mapped(columns[cols[f]], fn, self._cache(f))
            row_ok &= m.ok
            return m

        m_line = line_map("line_number", lambda x: parse_int(x, what="line number"))
        m_ord = line_map("ordinal", lambda x: parse_int(x, what="tariff ordinal number"))
        m_hts = line_map("hts", parse_hts)
        m_country = line_map("country_of_origin", lambda x: text(x).upper()[:2])
        extras = {f: line_map(f, fn) for f, fn in self.parser.line_parsers.items()}
        duty_text, cents = self._money(columns[cols["duty"]], row_ok, goods=False)
        goods_text = self._money(columns[cols["goods_value"]], row_ok, goods=True)[0] if "goods_value" in cols else None
        assert m_line is not None and m_ord is not None and m_hts is not None  # open_fast: both columns present
        line_i = m_line.per_value(int, np.int64)
        ord_i = m_ord.per_value(int, np.int64)

        run_ok = np.logical_and.reduceat(row_ok, starts) if n else np.zeros(0, dtype=bool)
        run_ok &= ~split
        # Duplicate (line, ordinal) within an entry: the row path keeps the first; leave such entries to it.
        key = (run_id.astype(np.int64) << 40) | (line_i << 20) | ord_i
        sorted_key = np.sort(key[row_ok])
        dup = sorted_key[1:] == sorted_key[:-1]
        if dup.any():
            run_ok[np.unique(sorted_key[1:][dup] >> 40)] = False

        emaps = self._entry_checks(columns, starts, run_ok, base_row)
        fast_runs = np.flatnonzero(run_ok)
        fast_row = run_ok[run_id]
        fast_numbers = pc.take(numbers, pa.array(starts[fast_runs])).to_pylist()
        batch = Batch()
        keys = self._rows(batch, columns, starts, run_ok, base_row, fast_numbers)
        nfast = int(fast_row.sum())
        r = self.parser.result
        r.rows_read += nfast
        r.fast_lines += nfast
        if not nfast:
            return batch

        ieepa_row = m_hts.per_value(lambda h: h.startswith(self.prefixes), bool) & (cents > 0)
        total_run = np.add.reduceat(cents, starts)[fast_runs]
        ieepa_run = np.add.reduceat(np.where(ieepa_row, cents, 0), starts)[fast_runs]
        entry_ids = np.array([k if type(k) is int else -1 for k in keys], dtype=np.int64)
        r.fast_entries.append(self._entry_table(emaps, fast_runs, fast_numbers, entry_ids, ieepa_run, total_run))
        ok = entrynumber.check_digits_ok(fast_numbers)
        for k in np.flatnonzero(~ok):
            self.bad_checks.append((base_row + int(starts[fast_runs[k]]), fast_numbers[k]))

        # Lines: reserved row id → entries_tariffline; entry number (stored entries, SQLite) → staging.
        run_pos = np.full(len(starts), -1, dtype=np.int64)
        run_pos[fast_runs] = np.arange(len(fast_runs))
        row_id = np.where(fast_row, entry_ids[run_pos[run_id]], -1)

        def body(mask: np.ndarray) -> dict[str, pa.Array]:
            rows = np.flatnonzero(mask)
            m = len(rows)
            sel = pa.array(rows)
            out: dict[str, pa.Array] = {
                "line_number": pa.array(line_i[rows]),
                "ordinal": pa.array(ord_i[rows]),
                "hts": m_hts.arrow(pa.string(), rows),
                "goods_value": goods_text.take(sel) if goods_text is not None else pa.nulls(m, pa.string()),
                "duty": duty_text.take(sel),
                "country_of_origin": m_country.arrow(pa.string(), rows) if m_country is not None else _const("", m),
                "is_ieepa": pa.array(ieepa_row[rows]),
            }
            for f, default in zip(LINE_PARSERS, ("", "", "", None, ""), strict=True):
                mf = extras.get(f)
                out[f] = (
                    mf.arrow(pa.string(), rows)
                    if mf is not None
                    else (pa.nulls(m, pa.string()) if default is None else _const(default, m))
                )
            return out

        new_rows = row_id >= 0
        staged_rows = fast_row & ~new_rows
        if new_rows.any():
            batch.new_lines = pa.table({"entry_id": pa.array(row_id[new_rows]), **body(new_rows)})
        if staged_rows.any():
            batch.staged_lines = pa.table(
                {"entry_number": pc.filter(numbers, pa.array(staged_rows)), **body(staged_rows)}
            )
        return batch

    @staticmethod
    def _split_entries(run_codes: np.ndarray) -> np.ndarray:
        """Runs the row path must read, in order, because an entry's rows are split by other rows: from the
        first run of such an entry to its last, and whatever lies between (the row path groups those rows
        by what came just before them, so none of them may be left out of its sequence)."""
        slow = np.zeros(len(run_codes), dtype=bool)
        valid = np.flatnonzero(run_codes >= 0)
        if len(valid) == 0:
            return slow
        codes = run_codes[valid]
        if len(np.unique(codes)) == len(codes):
            return slow
        size = int(codes.max()) + 1
        first = np.full(size, len(run_codes), dtype=np.int64)
        last = np.full(size, -1, dtype=np.int64)
        np.minimum.at(first, codes, valid)
        np.maximum.at(last, codes, valid)
        multi = np.flatnonzero(last > first)
        end = -1
        for a, b in sorted(zip(first[multi].tolist(), last[multi].tolist(), strict=True)):
            lo = max(a, end + 1)
            if b >= lo:
                slow[lo : b + 1] = True
            end = max(end, b)
        return slow

    def _entry_checks(
        self, columns: list[pa.Array], starts: np.ndarray, run_ok: np.ndarray, base_row: int
    ) -> dict[str, Any]:
        """The entry columns of each entry still in the running, repaired on its first row; entries the row
        path would report something about (a bad value, no date, an unknown status, a refused importer)
        are taken out of the running. Returns the repairs, indexed by the candidates' order."""
        cols = self.layout.columns
        cand = np.flatnonzero(run_ok)
        emaps: dict[str, Any] = {"cand": cand}
        if not len(cand):
            return emaps
        cand_rows = pa.array(starts[cand])
        alive = np.ones(len(cand), dtype=bool)
        for f in self.entry_cols:
            if f == "entry_number":
                continue
            m = emaps[f] = _Mapped(pc.take(columns[cols[f]], cand_rows), ENTRY_PARSERS[f], self._cache("entry:" + f))
            alive &= m.ok
        dated = np.zeros(len(cand), dtype=bool)
        for f in ("entry_date", "entry_summary_date"):
            if f in emaps:
                dated |= emaps[f].per_value(lambda d: d is not None, bool)
        alive &= dated
        if "liquidation_status" in emaps:
            alive &= ~emaps["liquidation_status"].per_value(lambda v: v[0] == "unknown" and bool(v[1]), bool)
        m_ir = emaps["importer_number"]
        names = emaps.get("importer_name")
        reasons = self._reasons
        refused = np.zeros(len(m_ir.results), dtype=bool)
        for u in np.unique(m_ir.idx[alive]):
            ir = m_ir.results[u]
            if not ir:
                continue
            reason = reasons.get(ir, _MISSING)
            if reason is _MISSING:  # the first clean entry of this importer here: the earliest row it is on
                j = int(np.flatnonzero((m_ir.idx == u) & alive)[0])
                name = names.objects(np.array([j]))[0] if names is not None else ""
                reason = reasons[ir] = self.check.at(base_row + int(starts[cand[j]]), ir, name)
            refused[u] = bool(reason)
        alive &= ~refused[m_ir.idx]
        run_ok[cand[~alive]] = False
        return emaps

    def _entry_table(
        self,
        emaps: dict[str, Any],
        fast_runs: np.ndarray,
        numbers: list[str],
        entry_ids: np.ndarray,
        ieepa: np.ndarray,
        total: np.ndarray,
    ) -> pa.Table:
        """The clean entries as staging rows (STAGE_ENTRY_COLUMNS, ieepa_duty, total_duty, entry_id)."""
        rows = np.searchsorted(emaps["cand"], fast_runs)
        m = len(rows)
        number_arr = pa.array(numbers, pa.string())

        def col(f: str, typ: pa.DataType, default: Any, fn: Callable[[Any], Any] | None = None) -> pa.Array:
            mf = emaps.get(f)
            if mf is None:
                return _const(default, m, typ)
            return mf.arrow(typ, rows, fn)

        protest_numbers = col("protest_number", pa.string(), "")
        if "protest_status" in emaps:
            mp = emaps["protest_status"]
            has_pn = pc.not_equal(protest_numbers, "").to_numpy(zero_copy_only=False).astype(np.int64)
            pair = mp.idx[rows].astype(np.int64) * 2 + has_pn
            table: dict[int, str] = {}
            for p in np.unique(pair).tolist():
                key = (mp.results[p // 2], bool(p % 2))
                status = self._protest.get(key)
                if status is None:
                    status = self._protest[key] = parse_protest_status(key[0], "x" if key[1] else "")
                table[p] = status
            lookup = (
                np.array([table.get(i, "") for i in range(int(pair.max()) + 1)], dtype=object)
                if m
                else np.array([], dtype=object)
            )
            protest_status = pa.array(lookup[pair].tolist(), pa.string())
        else:
            protest_status = pc.if_else(pc.not_equal(protest_numbers, ""), "open", "none") if m else _const("none", 0)
        data = {
            "entry_number": number_arr,
            "importer_ir": col("importer_number", pa.string(), ""),
            "importer_name": col("importer_name", pa.string(), ""),
            "entry_type": col("entry_type", pa.string(), ""),
            "entry_date": col("entry_date", pa.date32(), None),
            "entry_summary_date": col("entry_summary_date", pa.date32(), None),
            "port_code": col("port_code", pa.string(), ""),
            "filer_code": pc.utf8_slice_codeunits(number_arr, 0, 3),
            "filer_name": col("filer_name", pa.string(), ""),
            "liquidation_status": col("liquidation_status", pa.string(), "unknown", lambda v: v[0]),
            "liquidation_status_raw": col("liquidation_status", pa.string(), "", lambda v: v[1]),
            "liquidation_date": col("liquidation_date", pa.date32(), None),
            "recon_flag": col("recon_flag", pa.bool_(), False),
            "psc_flag": col("psc_flag", pa.bool_(), False),
            "protest_number": protest_numbers,
            "protest_status": protest_status,
            "importation_date": col("importation_date", pa.date32(), None),
            "liquidation_reason_code": col("liquidation_reason_code", pa.int32(), None),
            "ieepa_duty": _cents_texts(ieepa),
            "total_duty": _cents_texts(total),
            "entry_id": pa.array(np.where(entry_ids >= 0, entry_ids, 0), mask=entry_ids < 0),
        }
        self.parser.result.fast_importers.update(pc.unique(data["importer_ir"]).to_pylist())
        return pa.table(data)

    def _money(self, col: pa.Array, row_ok: np.ndarray, *, goods: bool) -> tuple[pa.Array, np.ndarray]:
        """(text, cents) per row as repairs.money_cell / goods_cell give them; row_ok cleared where not kept."""
        decimal = self.layout.decimal
        if decimal == ",":
            t = pc.replace_substring(col, "$", "")
            fast = pc.match_substring_regex(t, _COMMA_MONEY_SHAPE)
            t = pc.replace_substring(pc.replace_substring(t, ".", ""), ",", ".")
        else:
            t = pc.replace_substring(pc.replace_substring(col, "$", ""), ",", "")
            fast = pc.match_substring_regex(t, _MONEY_SHAPE)
        fastn = fast.to_numpy(zero_copy_only=False)
        cents = np.zeros(len(col), dtype=np.int64)
        text = pc.if_else(fast, t, pa.scalar(None, pa.string()))
        if fastn.any():
            cents[fastn] = pc.cast(pc.replace_substring(pc.filter(t, fast), ".", ""), pa.int64()).to_numpy()
        if not fastn.all():
            slow = ~fastn
            cell = goods_cell if goods else money_cell
            fn = cell if decimal == "." else (lambda x: cell(x, decimal))
            m = _Mapped(col.filter(pa.array(slow)), fn, self._cache("goods" if goods else "duty"))
            if goods:
                ok = m.ok
                values = m.arrow(pa.string())
            else:
                m.ok_u &= np.array(
                    [not k or abs(v[1]) < _CENTS_LIMIT for v, k in zip(m.results, m.ok_u, strict=True)], dtype=bool
                )
                ok = m.ok
                values = m.arrow(pa.string(), None, lambda v: v[0])
                cents[slow] = m.per_value(lambda v: v[1], np.int64)
            text = pc.replace_with_mask(text, pa.array(slow), values)
            bad = np.zeros(len(col), dtype=bool)
            bad[slow] = ~ok
            row_ok &= ~bad
        return text, cents

    def _rows(
        self,
        batch: Batch,
        columns: list[pa.Array],
        starts: np.ndarray,
        run_ok: np.ndarray,
        base_row: int,
        fast_numbers: list[str],
    ) -> list[Any]:
        """Feed the entries left to the row path and key the clean ones (reserving their row ids), in file
        order. Returns the clean entries' keys."""
        feed, check, parser = self.parser.feed, self.check, self.parser
        line_key = self.line_key
        keys: list[Any] = []
        numbers = iter(fast_numbers)
        n_rows = len(columns[0]) if columns else 0
        ends = np.append(starts[1:], n_rows)
        change = np.flatnonzero(np.diff(run_ok.astype(np.int8))) + 1
        bounds = np.concatenate(([0], change, [len(starts)])).astype(np.int64)
        out = batch.row_lines
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            if a == b:
                continue
            if run_ok[a]:
                for _ in range(b - a):
                    number = next(numbers)
                    keys.append(number if line_key is None else line_key(number))
                continue
            lo, hi = int(starts[a]), int(ends[b - 1])
            rows = zip(*[c.slice(lo, hi - lo).to_pylist() for c in columns], strict=True)
            parser.forget_previous_row()
            row_no = base_row + lo
            for row in rows:
                check.row = row_no
                line = feed(row_no, list(row))
                if line is not None:
                    out.append(line)
                row_no += 1
        return keys


def _const(value: Any, m: int, typ: pa.DataType | None = None) -> pa.Array:
    if value is None:
        return pa.nulls(m, typ or pa.string())
    return pa.array([value] * m, typ or pa.string())


def _cents_texts(cents: np.ndarray) -> pa.Array:
    """parser._cents_text over an array: 12345 → "123.45", -5 → "-0.05"."""
    a = np.abs(cents)
    units = pa.array(a // 100).cast(pa.string())
    hundredths = pc.utf8_lpad(pa.array(a % 100).cast(pa.string()), 2, "0")
    text = pc.binary_join_element_wise(units, hundredths, ".")
    if (cents < 0).any():
        text = pc.binary_join_element_wise(pa.array(np.where(cents < 0, "-", "").tolist(), pa.string()), text, "")
    return text
