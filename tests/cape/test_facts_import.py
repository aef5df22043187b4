"""Facts no ES-003 carries (ruleset 2026.12): a facts file through the page and the CLI, importer facts."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import Workbook

from accounts.models import AuditLog, Importer
from cape.classify import classify_entries
from cape.facts import entry_facts_import, importer_facts_update
from cape.models import Classification
from entries.facts import parse_facts_file
from entries.models import Entry
from entries.samplegen import entry_number, write_csv
from tests.cape.test_classify_es003 import BLUE_HERON, _cape_rows
from tests.factories import EntryFactory

AS_OF = date(2026, 11, 22)
pytestmark = pytest.mark.django_db


def _facts_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def three(importer_org, own_importer):  # type: ignore[no-untyped-def]
    es = [EntryFactory(organization=importer_org, importer=own_importer) for _ in range(3)]
    classify_entries(organization=importer_org, as_of=AS_OF)
    return es


def test_flags_and_spellings_parse_any_case_and_blank_changes_nothing(tmp_path: Path) -> None:
    n = entry_number("ABC", 5)
    p = _facts_csv(tmp_path / "f.csv", "entry number,DRAWBACK,type 09 filed,Surety Paid,Protest Status\n"
                                        f"{n[:3]}-{n[3:10]}-{n[10]},yes,0,,Granted\n"
                                        f"{int(n[3:]) if n[:3].isdigit() else n},TRUE,n,1,\n")
    parsed = parse_facts_file(p)
    assert parsed.errors == []
    assert [r.values for r in parsed.rows] == [
        {"drawback": True, "type09_filed": False, "protest_status": "approved"},
        {"drawback": True, "type09_filed": False, "surety_paid": True},
    ]
    assert parsed.rows[0].entry_number == n  # the ES-003 repairs (dashes)


def test_an_xlsx_facts_file_with_excel_damaged_numbers(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["Entry Number", "Surety Paid"])
    ws.append([261103162, "Y"])  # Excel dropped the leading zeros of an all-digit number
    wb.save(tmp_path / "f.xlsx")
    parsed = parse_facts_file(tmp_path / "f.xlsx")
    assert [(r.entry_number, r.values) for r in parsed.rows] == [("00261103162", {"surety_paid": True})]


def test_a_bad_row_is_held_back_and_the_others_are_applied_audited_and_reclassified(tmp_path, importer_org, alice,
                                                                                      three) -> None:  # type: ignore[no-untyped-def]
    a, b, c = three
    p = _facts_csv(tmp_path / "facts.csv", "Entry Number,Surety Paid,Drawback,Colour\n"
                                            f"{a.entry_number},Y,,red\n"
                                            f"{b.entry_number},maybe,Y,\n"
                                            f"ABC99999999,Y,,\n"
                                            f"{c.entry_number},,Yes,\n")
    r = entry_facts_import(organization=importer_org, user=alice, path=p, as_of=AS_OF)
    assert [(e["row"], e["column"]) for e in r.errors] == [(1, "Colour"), (3, "Surety Paid"), (4, "Entry Number")]
    assert "flag is Y, Yes, True or 1" in r.errors[1]["reason"]
    assert (r.rows_read, r.rows_applied) == (4, 2)
    b.refresh_from_db()
    assert not b.surety_paid and not b.drawback  # the bad row is held back whole
    logs = AuditLog.objects.filter(action="entry.fact_set").order_by("pk")
    assert [(lg.detail["entry_number"], lg.detail["fact"], lg.detail["old"], lg.detail["new"]) for lg in logs] == [
        (a.entry_number, "surety_paid", False, True), (c.entry_number, "drawback", False, True)]
    assert logs[0].user == alice and logs[0].detail["row"] == 2
    paths = {cl.entry_id: (cl.path, cl.reasons[0]) for cl in Classification.objects.all()}
    assert paths[a.pk] == ("needs_review", "surety_paid")
    assert paths[c.pk] == ("wait", "drawback")
    assert paths[b.pk] == ("cape_phase1", "unliquidated")


def test_the_page_applies_a_file_and_shows_the_rows_held_back(client, alice, tmp_path, three) -> None:  # type: ignore[no-untyped-def]
    a, b, _ = three
    client.force_login(alice)
    page = client.get("/entries/facts/")
    assert page.status_code == 200 and "/entries/facts/template.csv" in page.content.decode()
    template = client.get("/entries/facts/template.csv")
    assert template.content.decode().splitlines()[0] == "Entry Number,Drawback,Type 09 Filed,Surety Paid,Protest Number,Protest Status"
    p = _facts_csv(tmp_path / "f.csv", f"Entry Number,Surety Paid\n{a.entry_number},Y\n{b.entry_number},perhaps\n")
    with p.open("rb") as fh:
        html = client.post("/entries/facts/", {"file": fh}).content.decode()
    assert "1 of 2 rows applied" in html and "perhaps" in html and "needs_review" in html


def test_viewers_and_outsiders_change_nothing(client, vera, charlie, tmp_path, three) -> None:  # type: ignore[no-untyped-def]
    a = three[0]
    p = _facts_csv(tmp_path / "f.csv", f"Entry Number,Surety Paid\n{a.entry_number},Y\n")
    client.force_login(vera)
    with p.open("rb") as fh:
        assert client.post("/entries/facts/", {"file": fh}).status_code == 403
    client.force_login(charlie)
    with p.open("rb") as fh:
        html = client.post("/entries/facts/", {"file": fh}).content.decode()
    assert "no entry with this number in your data" in html
    a.refresh_from_db()
    assert not a.surety_paid


def test_importer_facts_are_audited_and_reclassify(importer_org, own_importer, alice) -> None:  # type: ignore[no-untyped-def]
    e = EntryFactory(organization=importer_org, importer=own_importer, liquidation_status="final",
                     liquidation_date=date(2025, 12, 1))
    classify_entries(organization=importer_org, as_of=AS_OF)
    assert "no_ach_refund" in Classification.objects.get(entry=e).reasons
    with pytest.raises(Exception, match="date CBP granted"):
        importer_facts_update(importer=own_importer, organization=importer_org, user=alice, paper_check_waiver_granted=True)
    changes = importer_facts_update(importer=own_importer, organization=importer_org, user=alice, as_of=AS_OF,
                                    cit_plaintiff=True, cit_case_note="Court No. 26-00123",
                                    paper_check_waiver_granted=True, paper_check_waiver_date=date(2026, 9, 1))
    assert [c[0] for c in changes] == ["cit_plaintiff", "cit_case_note", "paper_check_waiver_granted", "paper_check_waiver_date"]
    assert Classification.objects.get(entry=e).reasons[:3] == ["final_liquidation", "counsel_review", "cape_phase3_possible"]
    assert "no_ach_refund" not in Classification.objects.get(entry=e).reasons
    assert AuditLog.objects.filter(action="importer.fact_set").count() == 4


def test_a_broker_cannot_change_an_onboarded_clients_importer_facts(broker_org, own_importer, bob) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Exception, match="Only the importer's own organisation"):
        importer_facts_update(importer=own_importer, organization=broker_org, user=bob, cit_plaintiff=True)


# ---------------------------------------------------------------- the CLI
def test_the_cli_applies_facts_and_cit_plaintiffs_and_answers_2026_12(tmp_path: Path) -> None:
    numbers = [entry_number("3BZ", 7100000 + i) for i in range(3)]
    es003 = write_csv(tmp_path / "es003.csv", _cape_rows(3, raw_numbers=numbers))
    facts = _facts_csv(tmp_path / "facts.csv", f"Entry Number,Surety Paid\n{numbers[0]},Y\n")
    out = tmp_path / "out.json"
    call_command("classify_es003", str(es003), "--as-of", "2026-11-22", "--json", str(out), "--facts", str(facts),
                 "--cit-plaintiff", BLUE_HERON[0])
    doc = json.loads(out.read_text())
    assert doc["ruleset"] == "2026.12"
    got = {e["entry_number"]: e["reasons"] for e in doc["entries"]}
    assert got[numbers[0]] == ["surety_paid", "no_ach_refund"]
    assert got[numbers[1]][0] == "unliquidated"
    assert Entry.objects.get(entry_number=numbers[0]).surety_paid
    assert Importer.objects.get(ir_number=BLUE_HERON[0]).cit_plaintiff
    assert AuditLog.objects.filter(action="importer.fact_set", detail__fact="cit_plaintiff").exists()


@pytest.mark.parametrize("content,where", [
    ("Entry Number,Colour\nABC00000010,red\n", "facts.csv, row 1, column 'Colour'"),
    ("Entry Number,Drawback\nABC00000010,perhaps\n", "facts.csv, row 2, column 'Drawback'"),
])
def test_the_cli_stops_on_an_unknown_column_or_value(tmp_path: Path, content: str, where: str) -> None:
    es003 = write_csv(tmp_path / "es003.csv", _cape_rows(1))
    facts = _facts_csv(tmp_path / "facts.csv", content)
    with pytest.raises(CommandError, match=where.replace("(", r"\(")):
        call_command("classify_es003", str(es003), "--as-of", "2026-11-22", "--json", str(tmp_path / "o.json"),
                     "--facts", str(facts))
    assert not Entry.objects.exists()  # stopped before anything was ingested


def test_the_importer_page_and_api_set_the_facts(client, alice, vera, charlie, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    e = EntryFactory(organization=importer_org, importer=own_importer, liquidation_status="final",
                     liquidation_date=date(2025, 12, 1))
    client.force_login(alice)
    assert 'data-testid="importer-facts"' in client.get(f"/accounts/importers/{own_importer.pk}/").content.decode()
    r = client.post(f"/accounts/importers/{own_importer.pk}/facts/", {"cit_plaintiff": "on", "cit_case_note": "26-00123",
                                                                     "paper_check_waiver_granted": "on"})
    assert r.status_code == 400 and "date CBP granted" in r.content.decode()
    r = client.post(f"/accounts/importers/{own_importer.pk}/facts/", {"cit_plaintiff": "on", "cit_case_note": "26-00123"})
    assert r.status_code == 302
    own_importer.refresh_from_db()
    assert own_importer.cit_plaintiff and own_importer.cit_case_note == "26-00123"
    assert "cape_phase3_possible" in Classification.objects.get(entry=e).reasons
    r = client.post(f"/api/importers/{own_importer.pk}/facts/", {"paper_check_waiver_granted": True,
                                                                "paper_check_waiver_date": "2026-09-01"},
                    content_type="application/json")
    assert r.status_code == 200 and r.json()["paper_check_waiver_granted"] is True
    assert "no_ach_refund" not in Classification.objects.get(entry=e).reasons
    assert AuditLog.objects.filter(action="importer.fact_set").count() == 4
    client.force_login(vera)
    assert client.post(f"/api/importers/{own_importer.pk}/facts/", {"cit_plaintiff": False},
                       content_type="application/json").status_code == 403
    client.force_login(charlie)
    assert client.post(f"/api/importers/{own_importer.pk}/facts/", {"cit_plaintiff": False},
                       content_type="application/json").status_code == 404
    assert client.post(f"/accounts/importers/{own_importer.pk}/facts/", {"cit_plaintiff": ""}).status_code == 404


def test_the_api_applies_a_facts_file(client, alice, tmp_path, three) -> None:  # type: ignore[no-untyped-def]
    a, b, _ = three
    client.force_login(alice)
    p = _facts_csv(tmp_path / "f.csv", f"Entry Number,Surety Paid\n{a.entry_number},Y\n{b.entry_number},perhaps\n")
    with p.open("rb") as fh:
        r = client.post("/api/entry-facts/", {"file": fh})
    assert r.status_code == 200
    body = r.json()
    assert (body["rows_read"], body["rows_applied"]) == (2, 1)
    assert body["changes"] == [{"entry_number": a.entry_number, "fact": "surety_paid", "old": False, "new": True}]
    assert [(e["row"], e["column"]) for e in body["errors"]] == [(3, "Surety Paid")]
    assert body["paths"] == [{"entry_number": a.entry_number, "path": "needs_review", "reason": "surety_paid"}]
