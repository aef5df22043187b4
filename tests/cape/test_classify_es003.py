"""The classify_es003 command on generated ES-003 files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from cape.models import Classification
from entries.samplegen import write_es003


def _run(*args: str) -> int:
    try:
        call_command("classify_es003", *args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.mark.django_db
def test_it_ingests_classifies_and_writes_the_json_and_cape_files(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    a = write_es003(tmp_path / "a.csv", 120, seed=3)
    b = write_es003(tmp_path / "b.xlsx", 80, seed=4, first_serial=6600000)
    out = tmp_path / "out.json"
    assert _run(str(a), str(b), "--as-of", "2026-11-22", "--json", str(out), "--cape-dir", str(tmp_path / "cape")) == 0
    doc = json.loads(out.read_text())
    assert doc["ruleset"] == "2026.11" and doc["as_of"] == "2026-11-22" and doc["rejected_rows"] == []
    entries = doc["entries"]
    assert len(entries) == len({e["entry_number"] for e in entries}) > 10
    keys = {"entry_number", "importer_number", "path", "reasons", "ieepa_duty", "liquidation_status", "liquidation_date",
            "projected_liquidation_date", "cape_window_closes", "protest_deadline", "cit_deadline", "estimated_interest"}
    for e in entries:
        assert keys <= set(e)
        assert e["ieepa_duty"] is None or "." in e["ieepa_duty"]
        for k in ("liquidation_date", "cape_window_closes", "protest_deadline", "cit_deadline"):
            assert e[k] is None or len(e[k]) == 10
    # the JSON agrees with the stored classification and the engine's rules
    stored = {c.entry.entry_number: c for c in Classification.objects.select_related("entry")}
    assert {e["entry_number"]: e["path"] for e in entries} == {n: c.path for n, c in stored.items()}
    cape_numbers = sorted(e["entry_number"] for e in entries if e["path"] in ("cape_phase1", "cape_phase2"))
    files = sorted((tmp_path / "cape").glob("*.csv"))
    assert files
    written = []
    for f in files:
        rows = list(csv.reader(f.read_text().splitlines()))
        assert rows[0] == ["Entry Number"]
        written += [r[0] for r in rows[1:]]
    assert sorted(written) == cape_numbers
    printed = capsys.readouterr().out
    assert "cape_phase1" in printed and "Ruleset 2026.11" in printed


@pytest.mark.django_db
def test_bad_rows_are_reported_and_unrepairable_entries_need_review(tmp_path: Path) -> None:
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
    review = sorted((e["entry_number"], e["path"]) for e in doc["entries"] if e["reasons"][0] == "bad_entry_number")
    assert review[0][1] == review[1][1] == "needs_review"
    assert "3BZ55000009" in review[0][0] + review[1][0] and "12#4" in review[0][0] + review[1][0]
    assert len(doc["entries"]) > 2  # the good entries of the same file are still there


@pytest.mark.django_db
def test_it_exits_non_zero_only_when_a_file_cannot_be_read(tmp_path: Path) -> None:
    good = write_es003(tmp_path / "good.csv", 20, seed=6)
    out = tmp_path / "out.json"
    assert _run(str(good), str(tmp_path / "missing.csv"), "--as-of", "2026-11-22", "--json", str(out)) == 1
    doc = json.loads(out.read_text())
    assert doc["entries"] and "missing.csv" in " ".join(doc["file_errors"])


@pytest.mark.django_db
def test_it_uses_the_named_organisation_and_creates_it(tmp_path: Path) -> None:
    from accounts.models import Organization

    good = write_es003(tmp_path / "good.csv", 20, seed=7)
    assert _run(str(good), "--as-of", "2026-11-22", "--json", str(tmp_path / "o.json"), "--org", "acme-compliance") == 0
    org = Organization.objects.get(slug="acme-compliance")
    assert Classification.objects.filter(organization=org).exists()


def test_a_bad_as_of_date_is_refused(tmp_path: Path) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("classify_es003", "x.csv", "--as-of", "22/11/2026", "--json", str(tmp_path / "o.json"))
