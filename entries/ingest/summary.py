"""What an upload's page says about a load: its warnings and its summary (issue #21 item 4)."""

from __future__ import annotations

from typing import Any

from accounts.irnumber import mask_ir_number
from entries.ingest.parser import ParseResult
from entries.ingest.source import Es003Source, Layout

LIQUIDATION_COLUMNS_HELP = (
    "This report has no {missing} column, so entries cannot be classified for CAPE (the 80-day and 180-day "
    "clocks run from the liquidation date). ES-003 does not include these columns by default: in the ACE "
    "Portal open Reports, run ES-003 Entry Summary Line Tariff Details, switch the report to edit (design) "
    "mode, add the Liquidation Status and Liquidation Date objects to the table, run it again for the same "
    "dates and export it as CSV or XLSX. Then upload the new file here: it updates these entries in place."
)
LISTED = 1000  # entry numbers kept by name in a summary (the page shows them; the counts are whole)


def load_warnings(layout: Layout, result: ParseResult) -> list[str]:
    """The file's warnings, in the order the page shows them: missing liquidation columns, the parser's, entries
    held back."""
    warnings: list[str] = []
    if not layout.has_liquidation_columns:
        warnings.append(LIQUIDATION_COLUMNS_HELP.format(missing=" and ".join(layout.missing_liquidation_columns)))
    warnings += result.warnings
    if result.bad_entries:
        warnings.append(f"{len(result.bad_entries)} entr{'y was' if len(result.bad_entries) == 1 else 'ies were'} held back "
                        "whole because at least one of their rows is bad; see the error report, correct the file and upload it again.")
    return warnings


def refused_warning(refused: list[str]) -> str:
    """Entries the merge refused: stored for an importer of record this organisation does not serve."""
    shown = ", ".join(f"{n[:3]}-{n[3:10]}-{n[10:]}" for n in refused[:20]) + (", …" if len(refused) > 20 else "")
    return (
        f"{len(refused)} entr{'y was' if len(refused) == 1 else 'ies were'} not loaded: "
        f"{'it is' if len(refused) == 1 else 'they are'} recorded for an importer of record this organisation "
        f"does not serve (an entry summary belongs to one importer of record): {shown}. If the report is "
        "right, ask the importer to give your organisation access."
    )


def upload_summary(*, source: Es003Source, result: ParseResult, merged: dict[str, Any], warnings: list[str],
                   importers_created: list[str]) -> dict[str, Any]:
    """The upload's stored summary (Upload.summary): the file, what the merge did, what was refused."""
    layout = source.layout
    refused = merged["entries_refused"]
    return {
        "format": source.kind,
        "sheet": getattr(source, "sheet_name", ""),
        "header_row": layout.header_row,
        "rows_read": result.rows_read,
        "entries_in_file": merged["entries_in_file"],
        "entries_created": merged["entries_created"],
        "entries_updated": merged["entries_updated"],
        "entries_unchanged": merged["entries_unchanged"],
        "lines": merged["lines"],
        "lines_created": merged["lines_created"],
        "lines_updated": merged["lines_updated"],
        "rows_rejected": len(result.rejected_rows),
        "errors_total": result.errors_total,
        "errors_listed": len(result.errors),
        "entries_held_back": len(result.bad_entries),
        "duplicate_rows": result.duplicates,
        "warnings": len(warnings),
        "has_liquidation_columns": layout.has_liquidation_columns,
        "missing_liquidation_columns": layout.missing_liquidation_columns,
        "importers_created": sorted(mask_ir_number(ir) for ir in importers_created),
        "unrepairable_entries": result.unrepairable[:LISTED],
        "entries_refused": len(refused),
        "refused_entries": refused[:LISTED],
        "changes": merged["changes"],
    }
