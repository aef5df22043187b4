"""The ES-003 row path: rows of an opened report (``entries.ingest.source``) in; entries, lines, errors, warnings out.

``Es003Parser.feed`` caches every repair (``entries.ingest.repairs``) by raw value and re-parses entry-level
columns only when they differ from the previous row's. XLSX files and every entry the vectorised CSV path
(``entries.ingest.fast``) does not accept go through it; that path calls the same repair functions, so the
two never disagree. No ORM here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
from typing import Any, NamedTuple

from entries import entrynumber
from entries.hts import ieepa_prefixes
from entries.ingest.repairs import (
    ENTRY_PARSERS,
    Bad,
    RepairError,
    goods_cell,
    line_parsers,
    money_cell,
    parse_hts,
    parse_int,
    parse_protest_status,
    shown_ir_number,
    text,
)
from entries.ingest.source import ENTRY_FIELDS, LABELS, REQUIRED_ONE_OF, Es003FileError, Layout

_CACHE_LIMIT = 200_000


def _cached(cache: dict[Any, Any], fn: Callable[[Any], Any], raw: Any) -> Any:
    try:
        return cache[raw]
    except KeyError:
        pass
    except TypeError:  # unhashable cell value
        raw = str(raw)
    try:
        value: Any = fn(raw)
    except RepairError as exc:
        value = Bad(str(exc))
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[raw] = value
    return value


class ParsedEntry(NamedTuple):
    """An entry's own columns, repaired; the tuple itself is the staging row (``STAGE_ENTRY_COLUMNS``)."""

    entry_number: str
    importer_ir: str
    importer_name: str
    entry_type: str
    entry_date: date | None
    entry_summary_date: date | None
    port_code: str
    filer_code: str
    filer_name: str
    liquidation_status: str
    liquidation_status_raw: str
    liquidation_date: date | None
    recon_flag: bool
    psc_flag: bool
    protest_number: str
    protest_status: str
    importation_date: date | None
    liquidation_reason_code: int | None = None


STAGE_ENTRY_COLUMNS = (
    "entry_number",
    "importer_ir",
    "importer_name",
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
    "importation_date",
    "liquidation_reason_code",
)
# The order of a staging line tuple (Es003Parser.feed): entries_tariffline's columns, entry_id first.
STAGE_LINE_COLUMNS = (
    "entry_number",
    "line_number",
    "ordinal",
    "hts",
    "goods_value",
    "duty",
    "country_of_origin",
    "is_ieepa",
    "country_of_export",
    "spi_code",
    "manufacturer_id",
    "quantity",
    "uom",
)
TARIFFLINE_COLUMNS = ("entry_id", *STAGE_LINE_COLUMNS[1:])

ImporterCheckFunction = Callable[[str, str], "str | None"]  # entries.ingest.importers.ImporterCheck is the one used


@dataclass
class ParseResult:
    entries: dict[str, ParsedEntry] = field(default_factory=dict)
    bad_entries: set[str] = field(default_factory=set)
    errors: list[dict[str, Any]] = field(default_factory=list)
    errors_total: int = 0
    rejected_rows: set[int] = field(default_factory=set)
    unrepairable: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows_read: int = 0
    lines: int = 0
    duplicates: int = 0
    skipped_blank: int = 0
    bad_check_digits: list[str] = field(default_factory=list)
    bad_check_rows: list[int] = field(default_factory=list)  # the row where each of bad_check_digits was first met
    fast_lines: int = 0  # lines kept by the vectorised CSV path (entries.ingest.fast), not in the parser's own set
    # Entries kept by that path: staging tables (STAGE_ENTRY_COLUMNS, ieepa_duty, total_duty, entry_id), not in
    # ``entries``; and their importers.
    fast_entries: list[Any] = field(default_factory=list)
    fast_importers: set[str] = field(default_factory=set)
    unknown_statuses: dict[str, int] = field(default_factory=dict)
    # entry number -> what ``unrepairable`` lists, for an entry whose importer number cannot be repaired
    importer_rejected: dict[str, dict[str, Any]] = field(default_factory=dict)
    # entry number -> [IEEPA duty, total duty] in cents over the entry's kept lines
    sums: dict[str, list[int]] = field(default_factory=dict)

    def good_entries(self) -> list[ParsedEntry]:
        return [e for n, e in self.entries.items() if n not in self.bad_entries]

    def importer_numbers(self) -> set[str]:
        """The importers of every entry kept (both paths)."""
        return {e.importer_ir for e in self.good_entries()} | self.fast_importers

    def entry_rows(self) -> Iterator[tuple[Any, ...]]:
        """Staging rows for good entries: ``STAGE_ENTRY_COLUMNS`` + IEEPA duty + total duty."""
        for number, entry in self.entries.items():
            if number in self.bad_entries:
                continue
            ieepa, total = self.sums.get(number, (0, 0))
            yield (*entry, _cents_text(ieepa), _cents_text(total))


def _cents_text(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    q, r = divmod(abs(cents), 100)
    return f"{sign}{q}.{r:02d}"


_MISSING = object()
_ENTRY_DEFAULTS: dict[str, Any] = {
    "entry_number": None,
    "entry_type": "",
    "importer_number": "",
    "recon_flag": False,
    "psc_flag": False,
}


class Es003Parser:
    """Feed rows one at a time; get back staging tuples for lines, and entries/errors at the end.

    An entry with any bad row is held back whole: its number goes to ``bad_entries`` and the merge
    ignores (or deletes) every staged line of it. ``importer_check(ir, name)`` returns a rejection reason for an
    importer the organisation may not load, or None; it is called while COPY holds the database
    connection, so it must answer without querying.
    """

    def __init__(
        self,
        layout: Layout,
        *,
        file_label: str,
        importer_check: ImporterCheckFunction | None = None,
        max_errors: int = 100_000,
        line_key: Callable[[str], Any] | None = None,
    ) -> None:
        self.layout = layout
        # What a staging line carries in place of its entry number (``line_key(number)``, asked once per
        # run of rows of one entry): the merge may know an entry's row id before the entry is written.
        self.line_key = line_key
        self.file_label = file_label
        self.importer_check = importer_check or (lambda ir, name: None)
        self.max_errors = max_errors
        self.result = ParseResult()
        cols = layout.columns
        self._entry_cols = [f for f in ENTRY_FIELDS if f in cols]
        idx = [cols[f] for f in self._entry_cols]
        self._width_needed = max(cols.values()) + 1
        self._entry_getter = itemgetter(*idx) if len(idx) > 1 else (lambda row, i=idx[0]: (row[i],))
        self._i_line = cols.get("line_number")
        self._i_ord = cols.get("ordinal")
        self._i_hts = cols["hts"]
        self._i_goods = cols.get("goods_value")
        self._i_duty = cols["duty"]
        self._i_country = cols.get("country_of_origin")
        # Optional per-line columns kept when present, in staging order after is_ieepa (STAGE_LINE_COLUMNS).
        self._extra_fields = ("country_of_export", "spi_code", "manufacturer_id", "quantity", "uom")
        self._extra_defaults = ("", "", "", None, "")
        self.decimal = layout.decimal
        self.line_parsers = line_parsers(layout.decimal)
        self._extras: list[tuple[Any, ...]] = [
            (j, cols[f], {}, self.line_parsers[f], f) for j, f in enumerate(self._extra_fields) if f in cols
        ]
        self._seen: set[tuple[str, int, int]] = set()
        self._counters: dict[Any, int] = {}
        self._c_line: dict[Any, Any] = {}
        self._c_ord: dict[Any, Any] = {}
        self._c_hts: dict[Any, Any] = {}
        self._c_duty: dict[Any, Any] = {}
        self._c_goods: dict[Any, Any] = {}
        self._c_country: dict[Any, str] = {}
        self._c_ieepa: dict[str, bool] = {}
        self._c_fields: dict[str, dict[Any, Any]] = {f: {} for f in ENTRY_FIELDS}
        self._prefixes = ieepa_prefixes()
        self._importers: dict[str, str | None] = {}
        self._warned_check: set[str] = set()
        self._c_unkept: dict[str, dict[Any, Any]] = {}
        self.chapter99_rows = 0  # rows with a Chapter 99 HTS, counted when the report has no ordinal column
        self.feed = self._make_feed()

    # -- errors
    def _error(self, row_no: int, fld: str, value: Any, reason: str) -> None:
        r = self.result
        r.errors_total += 1
        r.rejected_rows.add(row_no)
        if len(r.errors) < self.max_errors:
            shown = "" if value is None else shown_ir_number(value) if fld == "importer_number" else text(value)
            r.errors.append(
                {
                    "file": self.file_label,
                    "row": row_no,
                    "column": LABELS.get(fld, fld),
                    "value": shown,
                    "reason": reason,
                }
            )

    # -- entry-level columns (parsed once per run of identical values, each value cached)
    def _parse_entry(self, raw: tuple[Any, ...], row_no: int) -> tuple[ParsedEntry | None, list[tuple[str, Any, str]]]:
        errs: list[tuple[str, Any, str]] = []
        values: dict[str, Any] = {}
        for fld, cell in zip(self._entry_cols, raw, strict=True):
            spec = ENTRY_PARSERS.get(fld)
            if spec is None:
                values[fld] = cell
                continue
            if fld == "entry_number":  # unique per entry: caching would only cost
                try:
                    value = spec(cell)
                except RepairError as exc:
                    value = Bad(str(exc))
            else:
                cache = self._c_fields[fld]
                try:
                    value = cache.get(cell, _MISSING)
                except TypeError:
                    value = _MISSING
                if value is _MISSING:
                    value = _cached(cache, spec, cell)
            if type(value) is Bad:
                errs.append((fld, cell, value.reason))  # and go on: every bad cell of the row is reported
                value = _ENTRY_DEFAULTS.get(fld)
            values[fld] = value
        number = values["entry_number"]
        if number is None:  # the entry number itself cannot be repaired
            return None, errs
        if (
            "importer_number" in values
            and not values["importer_number"]
            and number not in self.result.importer_rejected
        ):
            # Every row of such an entry is rejected: keep it visible (needs review), as a bad entry number is.
            bad = next(((c, why) for f, c, why in errs if f == "importer_number"), None)
            if bad is not None:
                self.result.importer_rejected[number] = {
                    "file": self.file_label,
                    "row": row_no,
                    "entry_number": number,
                    "importer_number": shown_ir_number(bad[0]),
                    "reason": "bad_importer_number",
                    "detail": bad[1],
                }
        entry_date, summary_date = values.get("entry_date"), values.get("entry_summary_date")
        if entry_date is None and summary_date is None and not any(f in REQUIRED_ONE_OF for f, _, _ in errs):
            fld = "entry_date" if "entry_date" in values else "entry_summary_date"
            errs.append(
                (
                    fld,
                    dict(zip(self._entry_cols, raw, strict=True)).get(fld),
                    "an entry needs an entry date or an entry summary date",
                )
            )
        status, status_raw = values.get("liquidation_status") or ("unknown", "")
        protest_number = values.get("protest_number", "")
        protest_status = parse_protest_status(values.get("protest_status", ""), protest_number)
        ir, name = values.get("importer_number") or "", values.get("importer_name", "")
        if ir:
            reason = self._importers.get(ir, _MISSING)
            if reason is _MISSING:
                reason = self._importers[ir] = self.importer_check(ir, name)
            if reason:
                errs.append(("importer_number", raw[self._entry_cols.index("importer_number")], reason))  # type: ignore[arg-type]  # a str: not _MISSING
        psc = values.get("psc_flag", False)
        if not psc and (earlier := self.result.entries.get(number)) is not None:
            psc = earlier.psc_flag  # a line-level indicator: any corrected line flags the entry
        entry = ParsedEntry(
            number,
            ir,
            name,
            values.get("entry_type") or "",
            entry_date,
            summary_date,
            values.get("port_code", ""),
            number[:3],
            values.get("filer_name", ""),
            status,
            status_raw,
            values.get("liquidation_date"),
            values.get("recon_flag", False),
            psc,
            protest_number,
            protest_status,
            values.get("importation_date"),
            values.get("liquidation_reason_code"),
        )
        if status == "unknown" and status_raw:
            self.result.unknown_statuses[status_raw] = self.result.unknown_statuses.get(status_raw, 0) + 1
        if not entrynumber.is_valid(number) and number not in self._warned_check:
            self._warned_check.add(number)
            self.result.bad_check_digits.append(number)
            self.result.bad_check_rows.append(row_no)
        return entry, errs

    def _row_errors(
        self, row_no: int, errs: list[tuple[str, Any, str]], raw: tuple[Any, ...], entry: ParsedEntry | None
    ) -> None:
        for fld, value, reason in errs:
            self._error(row_no, fld, value, reason)
        if entry is None:  # the entry number itself cannot be repaired
            v = dict(zip(self._entry_cols, raw, strict=True))
            self.result.unrepairable.append(
                {
                    "file": self.file_label,
                    "row": row_no,
                    "entry_number": text(v["entry_number"]),
                    "importer_number": shown_ir_number(v.get("importer_number", "")),
                }
            )

    def _line_cell_errors(self, row_no: int, row: list[Any]) -> None:
        """Report the bad line cells of a row whose entry number cannot be repaired (the row is not kept, but
        every bad cell of it is reported, not only the first)."""
        decimal = self.decimal
        checks: list[tuple[str, int | None, Callable[[Any], Any]]] = [
            ("line_number", self._i_line, lambda x: parse_int(x, what="line number")),
            ("ordinal", self._i_ord, lambda x: parse_int(x, what="tariff ordinal number")),
            ("hts", self._i_hts, parse_hts),
            ("duty", self._i_duty, lambda x: money_cell(x, decimal)),
            ("goods_value", self._i_goods, lambda x: goods_cell(x, decimal)),
            *((f, i, fn) for _, i, _, fn, f in self._extras),
        ]
        caches = self._c_unkept
        for fld, i, fn in checks:
            if i is None:
                continue
            value = _cached(caches.setdefault(fld, {}), fn, row[i])
            if type(value) is Bad:
                self._error(row_no, fld, row[i], value.reason)

    def _make_feed(self) -> Callable[[int, list[Any]], tuple[Any, ...] | None]:
        """The per-row function, as a closure: every cache and index is a local, the hot path is a few
        dict lookups per column (this loop runs a million times for a large report)."""
        r = self.result
        width = self._width_needed
        entry_getter = self._entry_getter
        i_line, i_ord, i_hts, i_goods, i_duty, i_country = (
            self._i_line,
            self._i_ord,
            self._i_hts,
            self._i_goods,
            self._i_duty,
            self._i_country,
        )
        c_line, c_ord, c_hts, c_duty, c_goods, c_country, c_ieepa = (
            self._c_line,
            self._c_ord,
            self._c_hts,
            self._c_duty,
            self._c_goods,
            self._c_country,
            self._c_ieepa,
        )
        seen, counters, sums_by_entry, entries = self._seen, self._counters, r.sums, r.entries
        bad_entries = r.bad_entries
        prefixes = self._prefixes
        parse_entry, error, row_errors, line_cell_errors = (
            self._parse_entry,
            self._error,
            self._row_errors,
            self._line_cell_errors,
        )
        parse_line = lambda x: parse_int(x, what="line number")  # noqa: E731
        parse_ord = lambda x: parse_int(x, what="tariff ordinal number")  # noqa: E731
        state: list[Any] = [None, (None, []), None]  # previous raw entry cells, (entry, errors), line key
        # Without a line or an ordinal column nothing tells two lines apart but their cells: a row repeated
        # exactly is dropped (counted in ``duplicates``) instead of adding its duty twice.
        exact_rows: set[tuple[Any, ...]] | None = set() if i_line is None or i_ord is None else None
        no_ord = i_ord is None
        self._state = state
        line_key = self.line_key
        bad_type = Bad
        extras, extra_defaults, missing = self._extras, self._extra_defaults, _MISSING
        decimal = self.decimal
        money_of: Callable[..., Any]
        goods_of: Callable[..., Any]
        if decimal == ".":
            money_of, goods_of = money_cell, goods_cell
        else:
            money_of, goods_of = (lambda x: money_cell(x, decimal)), (lambda x: goods_cell(x, decimal))

        def feed(row_no: int, row: list[Any]) -> tuple[Any, ...] | None:
            if len(row) < width:
                if not any(text(c) for c in row):
                    r.skipped_blank += 1
                    return None
                row = list(row) + [""] * (width - len(row))
            raw = entry_getter(row)
            if raw != state[0]:
                first = raw[0]
                if (first == "" or first is None or not text(first)) and sum(1 for c in row if c not in ("", None)) < 3:
                    r.skipped_blank += 1  # a blank line or a footer ("End of report")
                    return None
                state[0] = raw
                parsed = state[1] = parse_entry(raw, row_no)
                if line_key is not None and parsed[0] is not None:
                    state[2] = line_key(parsed[0].entry_number)
            r.rows_read += 1
            entry, errs = state[1]
            if errs or entry is None:
                row_errors(row_no, errs, raw, entry)
                if entry is None:
                    line_cell_errors(row_no, row)
                    return None
            number = entry.entry_number
            bad = bool(errs)
            if exact_rows is not None:
                whole = tuple(text(c) for c in row)
                if whole in exact_rows:
                    r.duplicates += 1
                    return None
                exact_rows.add(whole)
            if i_line is not None:
                cell = row[i_line]
                line_no = c_line.get(cell)
                if line_no is None:
                    line_no = _cached(c_line, parse_line, cell)
                if type(line_no) is bad_type:
                    error(row_no, "line_number", cell, line_no.reason)
                    bad, line_no = True, 0
            else:
                line_no = counters[number] = counters.get(number, 0) + 1
            if i_ord is not None:
                cell = row[i_ord]
                ordinal = c_ord.get(cell)
                if ordinal is None:
                    ordinal = _cached(c_ord, parse_ord, cell)
                if type(ordinal) is bad_type:
                    error(row_no, "ordinal", cell, ordinal.reason)
                    bad, ordinal = True, 0
            else:
                key2 = (number, line_no)
                ordinal = counters[key2] = counters.get(key2, 0) + 1
            cell = row[i_hts]
            hts: Any = c_hts.get(cell)  # a str once the Bad ones have returned
            if hts is None:
                hts = _cached(c_hts, parse_hts, cell)
            if type(hts) is bad_type:
                error(row_no, "hts", cell, hts.reason)
                bad = True
            elif no_ord and hts.startswith("99"):
                self.chapter99_rows += 1
            cell = row[i_duty]
            duty: Any = c_duty.get(cell)  # as hts
            if duty is None:
                duty = money_of(cell)
                if len(c_duty) >= _CACHE_LIMIT:
                    c_duty.clear()
                c_duty[cell] = duty
            if type(duty) is bad_type:
                error(row_no, "duty", cell, duty.reason)
                bad = True
            goods = None
            if i_goods is not None:
                cell = row[i_goods]
                goods = c_goods.get(cell)
                if goods is None and cell not in c_goods:
                    goods = goods_of(cell)
                    if len(c_goods) >= _CACHE_LIMIT:
                        c_goods.clear()
                    c_goods[cell] = goods
                if type(goods) is bad_type:
                    error(row_no, "goods_value", cell, goods.reason)
                    bad = True
            tail: tuple[Any, ...] = extra_defaults
            if extras:
                values = list(extra_defaults)
                for j, i, cache, fn, fld in extras:
                    cell = row[i]
                    value = cache.get(cell, missing)
                    if value is missing:
                        value = _cached(cache, fn, cell)
                    if type(value) is bad_type:
                        error(row_no, fld, cell, value.reason)
                        bad = True
                    else:
                        values[j] = value
                tail = tuple(values)
            if bad:
                bad_entries.add(number)
                entries.setdefault(number, entry)
                return None
            country: str | None = ""
            if i_country is not None:
                cell = row[i_country]
                country = c_country.get(cell)
                if country is None:
                    country = c_country[cell] = text(cell).upper()[:2]
            key3 = (number, line_no, ordinal)
            if key3 in seen:
                r.duplicates += 1
                return None
            seen.add(key3)
            entries[number] = entry
            ieepa = c_ieepa.get(hts)
            if ieepa is None:
                ieepa = c_ieepa[hts] = hts.startswith(prefixes)
            duty_text, cents = duty
            # IEEPA duty: an IEEPA heading with a positive duty (domain README §8; entries.hts.is_ieepa_line).
            sums = sums_by_entry.get(number)
            if sums is None:
                sums = sums_by_entry[number] = [0, 0]
            sums[1] += cents
            key = number if line_key is None else state[2]
            if ieepa and cents > 0:
                sums[0] += cents
                return (key, line_no, ordinal, hts, goods, duty_text, country, True, *tail)
            return (key, line_no, ordinal, hts, goods, duty_text, country, False, *tail)

        return feed

    def _refuse_line_level(self) -> None:
        """A report with no Tariff Ordinal Number column and no Chapter 99 row is a line-level report (ES-003 at
        entry-summary-line level, or a line report with "Line Duty Amount"): each row's duty is the line's total,
        with the IEEPA duty of its 9903.01/9903.02 ordinals inside it, so no IEEPA line can be seen. Refused:
        its entries would come out "no IEEPA duty" when we could not see their lines (domain README §5, §8)."""
        if self._i_ord is not None or self.chapter99_rows or not self.result.rows_read:
            return
        duty = (
            self.layout.headers[self.layout.columns["duty"]]
            if self.layout.columns["duty"] < len(self.layout.headers)
            else ""
        )
        raise Es003FileError(
            f"{self.file_label} is a line-level report: it has no {LABELS['ordinal']} column and none of its rows has a "
            f'Chapter 99 HTS number, so its duty column ("{duty or LABELS["duty"]}") holds each line\'s total and the IEEPA '
            "duty (HTS 9903.01 and 9903.02 lines) cannot be seen in it. Nothing was stored. In ACE Reports run "
            'ES-003 "Entry Summary Line Tariff Details" (one row per tariff ordinal) with the columns '
            f"{LABELS['entry_number']}, {LABELS['line_number']}, {LABELS['ordinal']}, {LABELS['hts']} and "
            f"{LABELS['duty']}, and upload that export."
        )

    def forget_previous_row(self) -> None:
        """The next row fed does not follow the last one fed (entries.ingest.fast feeds only some rows):
        parse its entry columns afresh, as when the row before it differed."""
        self._state[0] = _MISSING

    def finish(self) -> ParseResult:
        """The result; raises Es003FileError for a line-level report (see ``_refuse_line_level``)."""
        r = self.result
        self._refuse_line_level()
        r.lines = len(self._seen) + r.fast_lines
        for number in r.bad_entries:
            r.entries.pop(number, None)
            r.sums.pop(number, None)
        # Entries held back because their importer number cannot be repaired stay listed (needs review).
        r.unrepairable += [v for n, v in r.importer_rejected.items() if n in r.bad_entries]
        if r.bad_check_digits:
            shown = ", ".join(r.bad_check_digits[:20])
            more = f" and {len(r.bad_check_digits) - 20} more" if len(r.bad_check_digits) > 20 else ""
            r.warnings.append(
                f"{len(r.bad_check_digits):,} entry number(s) have a check digit that does not match (CBP check-digit "
                f"rule): {shown}{more}. They were stored as written and will be marked for review; check them "
                "against the entry summary (CBP Form 7501)."
            )
        for raw, count in sorted(r.unknown_statuses.items()):
            r.warnings.append(
                f'Liquidation Status "{raw}" is not one we recognise ({count:,} row(s)); those entries are stored with status unknown.'
            )
        if r.duplicates and (self._i_line is None or self._i_ord is None):
            r.warnings.append(
                f"{r.duplicates:,} row(s) repeated an earlier row exactly and were dropped (the report has no "
                "column that tells such lines apart); each line's duty was counted once."
            )
        elif r.duplicates:
            r.warnings.append(
                f"{r.duplicates:,} row(s) repeated an entry, line and tariff ordinal already read in this file; each line was kept once."
            )
        if self._i_line is None or self._i_ord is None:
            missing = [LABELS[f] for f in ("line_number", "ordinal") if f not in self.layout.columns]
            r.warnings.append(
                f"The report has no {' or '.join(missing)} column: lines were numbered in file order. "
                "Add the column in ACE Reports so that later reports merge line by line."
            )
        return r
