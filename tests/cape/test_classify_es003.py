"""The classify_es003 command on generated ES-003 files: the issue 4 JSON shape, exactly."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Organization
from cape.csvfile import render_declaration_csv
from cape.declarations import declaration_build, declaration_export, declaration_record_submission
from cape.models import Classification, Declaration
from cape.selectors import classifications_for
from entries.samplegen import Text, entry_number, write_csv, write_es003

ENTRY_KEYS = {"entry_number", "importer_number", "path", "reasons", "ieepa_duty", "liquidation_status", "liquidation_date",
              "projected_liquidation_date", "cape_window_closes", "protest_deadline", "cit_deadline", "estimated_interest"}
ROW_KEYS = {"file", "row", "column", "value", "reason"}
TOP_KEYS = {"ruleset", "as_of", "entries", "rejected_rows"}
BLUE_HERON = ("93-417726100", "Blue Heron Housewares Inc")
RED_FOX = ("27-123456700", "Red Fox Imports LLC")


def _run(*args: str) -> int:
    try:
        call_command("classify_es003", *args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _cape_rows(n: int, *, importer: tuple[str, str] = BLUE_HERON, first_serial: int = 7000000,
               raw_numbers: list[str] | None = None) -> Iterator[list[object]]:
    """One line per entry, each a CAPE Phase 1 entry as of 2026-11-22 (worked example A: type 01,
    unliquidated, entered 2026-01-20, IEEPA duty on 9903.01.25)."""
    numbers = raw_numbers or [entry_number("3BZ", first_serial + i) for i in range(n)]
    for number in numbers:
        yield [Text(number), 1, Text("01"), Text(importer[0]), importer[1], Text("1001"), date(2026, 1, 20), date(2026, 1, 28),
               "CN", "CN", 1, Text("99030125"), Decimal("1000.00"), Decimal("100.00"), 1, "PCS",
               None, "Unliquidated", "N", "", "", "N", "Harbor Customs Brokerage", date(2026, 1, 20), "", "CNMANUF123SHA"]


def _written(directory: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(directory.glob("*.csv"))}


@pytest.mark.django_db
def test_the_json_has_exactly_the_issue_shape_and_agrees_with_the_stored_classification(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    a = write_es003(tmp_path / "a.csv", 120, seed=3)
    b = write_es003(tmp_path / "b.xlsx", 80, seed=4, first_serial=6600000)
    out = tmp_path / "out.json"
    assert _run(str(a), str(b), "--as-of", "2026-11-22", "--json", str(out)) == 0
    doc = json.loads(out.read_text())
    assert set(doc) == TOP_KEYS
    assert doc["ruleset"] == "2026.12" and doc["as_of"] == "2026-11-22" and doc["rejected_rows"] == []
    entries = doc["entries"]
    assert len(entries) == len({e["entry_number"] for e in entries}) > 10
    for e in entries:
        assert set(e) == ENTRY_KEYS
        assert e["ieepa_duty"] is None or Decimal(e["ieepa_duty"]).as_tuple().exponent == -2
        assert e["estimated_interest"] is None or Decimal(e["estimated_interest"]).as_tuple().exponent == -2
        assert isinstance(e["reasons"], list)
        for k in ("liquidation_date", "projected_liquidation_date", "cape_window_closes", "protest_deadline", "cit_deadline"):
            assert e[k] is None or date.fromisoformat(e[k])
    stored = {c.entry.entry_number: c for c in Classification.objects.select_related("entry")}
    assert {e["entry_number"]: e["path"] for e in entries} == {n: c.path for n, c in stored.items()}
    printed = capsys.readouterr().out
    assert "cape_phase1" in printed and "Ruleset 2026.12" in printed


@pytest.mark.django_db
def test_a_worked_example_entry_comes_out_field_for_field(tmp_path: Path) -> None:
    number = entry_number("3BZ", 7000000)
    write_csv(tmp_path / "one.csv", _cape_rows(1))
    assert _run(str(tmp_path / "one.csv"), "--as-of", "2026-11-22", "--json", str(tmp_path / "o.json")) == 0
    [e] = json.loads((tmp_path / "o.json").read_text())["entries"]
    interest = e.pop("estimated_interest")
    assert e == {"entry_number": number, "importer_number": "93-417726100", "path": "cape_phase1", "reasons": ["unliquidated", "no_ach_refund"], "ieepa_duty": "100.00",
                 "liquidation_status": "unliquidated", "liquidation_date": None, "projected_liquidation_date": "2026-11-30",
                 "cape_window_closes": None, "protest_deadline": "2027-05-29", "cit_deadline": "2028-01-28"}
    assert Decimal(interest) > 0


@pytest.mark.django_db
def test_unrepairable_entries_have_the_same_keys_and_their_rows_go_to_rejected_rows(tmp_path: Path) -> None:
    good = write_es003(tmp_path / "good.csv", 30, seed=5)
    text = good.read_text()
    lines = text.split("\r\n") if "\r\n" in text else text.split("\n")
    header_at = next(i for i, line in enumerate(lines) if line.startswith("Entry Summary Number"))
    first = lines[header_at + 1]
    wrong_check = first.replace(first.split(",")[0], '="3BZ55000009"', 1)  # check digit wrong (stored, R1)
    garbage = first.replace(first.split(",")[0], '="12#4"', 1)  # cannot be repaired at all (not stored)
    lines[header_at + 1:header_at + 1] = [wrong_check, garbage]
    (tmp_path / "bad.csv").write_text("\r\n".join(lines))
    out = tmp_path / "out.json"
    assert _run(str(tmp_path / "bad.csv"), "--as-of", "2026-11-22", "--json", str(out)) == 0
    doc = json.loads(out.read_text())
    assert set(doc) == TOP_KEYS
    assert all(set(e) == ENTRY_KEYS for e in doc["entries"])
    review = {e["entry_number"]: e for e in doc["entries"] if e["reasons"][:1] == ["bad_entry_number"]}
    assert set(review) == {"3BZ55000009", "12#4"}
    assert all(e["path"] == "needs_review" for e in review.values())
    assert review["12#4"] == dict.fromkeys(ENTRY_KEYS) | {"entry_number": "12#4", "importer_number": "93-417726100",
                                                          "path": "needs_review", "reasons": ["bad_entry_number"]}
    assert all(set(r) == ROW_KEYS for r in doc["rejected_rows"])
    garbage_rows = [r for r in doc["rejected_rows"] if r["value"] == "12#4"]
    assert len(garbage_rows) == 1
    assert garbage_rows[0]["file"] == "bad.csv" and garbage_rows[0]["column"] == "Entry Summary Number"
    assert garbage_rows[0]["row"] == header_at + 3 and garbage_rows[0]["reason"]
    assert len(doc["entries"]) > 2  # the good entries of the same file are still there


@pytest.mark.django_db
def test_more_than_a_thousand_unrepairable_entries_are_all_in_the_json(tmp_path: Path) -> None:
    raw = [f"12#{i:04d}" for i in range(1005)]
    write_csv(tmp_path / "bad.csv", _cape_rows(0, raw_numbers=raw))
    out = tmp_path / "out.json"
    assert _run(str(tmp_path / "bad.csv"), "--as-of", "2026-11-22", "--json", str(out)) == 0
    doc = json.loads(out.read_text())
    review = [e for e in doc["entries"] if e["reasons"] == ["bad_entry_number"]]
    assert sorted(e["entry_number"] for e in review) == raw
    assert all(set(e) == ENTRY_KEYS and e["path"] == "needs_review" for e in review)
    assert len(doc["rejected_rows"]) == 1005


@pytest.mark.django_db
def test_a_file_that_cannot_be_read_is_a_rejected_row_and_the_exit_code_is_non_zero(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    good = write_es003(tmp_path / "good.csv", 20, seed=6)
    out = tmp_path / "out.json"
    assert _run(str(good), str(tmp_path / "missing.csv"), "--as-of", "2026-11-22", "--json", str(out)) == 1
    doc = json.loads(out.read_text())
    assert set(doc) == TOP_KEYS and doc["entries"]
    [row] = doc["rejected_rows"]
    assert set(row) == ROW_KEYS
    assert (row["file"], row["row"], row["column"], row["value"]) == ("missing.csv", None, None, None)
    assert "missing.csv" in row["reason"] and "cannot be read" in row["reason"]
    assert "missing.csv" in capsys.readouterr().err


@pytest.mark.django_db
def test_a_file_that_is_not_an_es003_is_a_rejected_row_too(tmp_path: Path) -> None:
    (tmp_path / "notes.csv").write_text("hello,world\n1,2\n")
    out = tmp_path / "out.json"
    assert _run(str(tmp_path / "notes.csv"), "--as-of", "2026-11-22", "--json", str(out)) == 1
    doc = json.loads(out.read_text())
    assert set(doc) == TOP_KEYS and doc["entries"] == []
    [row] = doc["rejected_rows"]
    assert row["file"] == "notes.csv" and row["row"] is None and row["column"] is None and row["value"] is None
    assert row["reason"]


@pytest.mark.django_db
def test_the_default_organisation_cli_is_created(tmp_path: Path) -> None:
    assert not Organization.objects.filter(slug="cli").exists()
    good = write_es003(tmp_path / "good.csv", 20, seed=7)
    assert _run(str(good), "--as-of", "2026-11-22", "--json", str(tmp_path / "o.json")) == 0
    org = Organization.objects.get(slug="cli")
    assert org.kind == Organization.Kind.BROKER
    assert classifications_for(org).count() == Classification.objects.count() > 0
    assert _run(str(good), "--as-of", "2026-11-22", "--json", str(tmp_path / "o.json")) == 0
    assert Organization.objects.filter(slug="cli").count() == 1


@pytest.mark.django_db
def test_it_uses_the_named_organisation_and_creates_it(tmp_path: Path) -> None:
    good = write_es003(tmp_path / "good.csv", 20, seed=7)
    assert _run(str(good), "--as-of", "2026-11-22", "--json", str(tmp_path / "o.json"), "--org", "acme-compliance") == 0
    org = Organization.objects.get(slug="acme-compliance")
    assert classifications_for(org).exists()
    assert not Organization.objects.filter(slug="cli").exists()


@pytest.mark.django_db
def test_cape_files_hold_one_importer_each_with_the_declaration_writers_bytes(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv", [*_cape_rows(3, first_serial=7000000), *_cape_rows(2, importer=RED_FOX, first_serial=7100000)])
    mixed = write_es003(tmp_path / "b.csv", 60, seed=8, first_serial=7200000)
    out, cape_dir = tmp_path / "out.json", tmp_path / "cape"
    assert _run(str(tmp_path / "a.csv"), str(mixed), "--as-of", "2026-11-22", "--json", str(out), "--cape-dir", str(cape_dir)) == 0
    doc = json.loads(out.read_text())
    importer_of = {e["entry_number"]: e["importer_number"] for e in doc["entries"]}
    cape_numbers = sorted(e["entry_number"] for e in doc["entries"] if e["path"] in ("cape_phase1", "cape_phase2"))
    files = _written(cape_dir)
    assert set(files) == {"cape_27-123456700_001.csv", "cape_93-417726100_001.csv"}
    listed: list[str] = []
    for name, data in files.items():
        numbers = data.decode("ascii").split("\n")[1:-1]
        assert data == render_declaration_csv(numbers)  # header, \n endings, no BOM, no quoting
        assert data.startswith(b"Entry Number\n") and data.endswith(b"\n") and b"\r" not in data
        assert {importer_of[n] for n in numbers} == {name.split("_")[1]}
        listed += numbers
    assert sorted(listed) == cape_numbers
    # The very bytes the declarations capability builds for the same entries (same selection and order).
    org = Organization.objects.get(slug="cli")
    built = declaration_build(organization=org, run_checks=False)
    assert sorted(bytes(d.file_bytes) for d in built.declarations) == sorted(files.values())


@pytest.mark.django_db
def test_ten_thousand_entries_of_one_importer_make_two_files(tmp_path: Path) -> None:
    write_csv(tmp_path / "big.csv", _cape_rows(10_000, first_serial=8000000))
    out, cape_dir = tmp_path / "out.json", tmp_path / "cape"
    assert _run(str(tmp_path / "big.csv"), "--as-of", "2026-11-22", "--json", str(out), "--cape-dir", str(cape_dir)) == 0
    files = _written(cape_dir)
    assert list(files) == ["cape_93-417726100_001.csv", "cape_93-417726100_002.csv"]
    first, second = (list(csv.reader(d.decode().splitlines())) for d in files.values())
    assert first[0] == second[0] == ["Entry Number"]
    assert (len(first) - 1, len(second) - 1) == (9999, 1)
    numbers = [r[0] for r in first[1:] + second[1:]]
    assert len(set(numbers)) == 10_000 == len(json.loads(out.read_text())["entries"])


@pytest.mark.django_db
def test_entries_on_a_submitted_declaration_are_left_out_of_the_cape_files(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    write_csv(tmp_path / "a.csv", _cape_rows(4, first_serial=7000000))
    out, cape_dir = tmp_path / "out.json", tmp_path / "cape"
    assert _run(str(tmp_path / "a.csv"), "--as-of", "2026-11-22", "--json", str(out)) == 0
    org = Organization.objects.get(slug="cli")
    filed = [entry_number("3BZ", 7000000), entry_number("3BZ", 7000001)]
    d = declaration_build(organization=org, entry_numbers=filed, run_checks=False).declarations[0]
    declaration_export(declaration=d)
    declaration_record_submission(declaration=d, submitted_on=timezone.localdate(), claim_number="100000241223")
    assert Declaration.objects.get(pk=d.pk).status == Declaration.Status.SUBMITTED
    capsys.readouterr()
    assert _run(str(tmp_path / "a.csv"), "--as-of", "2026-11-22", "--json", str(out), "--cape-dir", str(cape_dir)) == 0
    [data] = _written(cape_dir).values()
    assert data == render_declaration_csv([entry_number("3BZ", 7000002), entry_number("3BZ", 7000003)])
    printed = capsys.readouterr().out
    assert "Left out of the CAPE files: 2 entries already on a submitted or accepted declaration" in printed
    for n in filed:
        assert f"{n}: already on submitted declaration {d.name}" in printed
    # The JSON still lists every entry of the file: leaving out concerns the CAPE files only.
    assert len(json.loads(out.read_text())["entries"]) == 4
    assert Declaration.objects.count() == 1  # the command stores no declarations


def test_a_bad_as_of_date_is_refused(tmp_path: Path) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("classify_es003", "x.csv", "--as-of", "22/11/2026", "--json", str(tmp_path / "o.json"))
