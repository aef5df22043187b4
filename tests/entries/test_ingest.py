"""ES-003 ingestion through the real service: every file shape in, every rejection, idempotence."""

from __future__ import annotations

import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Importer, ImporterGrant
from accounts.services import ServiceError
from cape.selectors import entries_for
from entries.ingest.intake import upload_create
from entries.models import Entry, TariffLine, Upload
from entries.samplegen import STANDARD_COLUMNS, TITLE_LINES, Formula, Text
from entries.samplegen import write_es003 as generate
from tests.entries.conftest import entry_rows, sample_row
from tests.factories import entry_number_with_check_digit

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parents[2] / "entries" / "fixtures" / "es003_sample.csv"


def test_the_ace_sample_loads_with_every_value_repaired(importer_org, alice, ingest) -> None:
    upload = ingest(SAMPLE, organization=importer_org, user=alice)
    assert upload.status == Upload.Status.DONE, upload.error_message
    s = upload.summary
    assert (s["rows_read"], s["entries_created"], s["lines"], s["rows_rejected"]) == (18, 7, 18, 0)
    e = Entry.objects.get(entry_number="3BZ55001212")
    assert (e.entry_type, e.entry_date, e.entry_summary_date, e.port_code) == ("01", date(2026, 1, 15), date(2026, 1, 23), "1001")
    assert (e.liquidation_status, e.liquidation_date, e.has_liquidation_columns) == ("liquidated", date(2026, 10, 9), True)
    assert e.ieepa_duty == Decimal("540.00") and e.total_duty == Decimal("540.00")
    assert e.last_upload_id == upload.pk and e.filer_code == "3BZ"
    # 9903.01.32 with $0.00 and Section 301 9903.88.15 are not IEEPA duty.
    e2 = Entry.objects.get(entry_number="3BZ55001238")
    assert e2.ieepa_duty == Decimal("0.00") and e2.total_duty == Decimal("750.00")
    # FREE is a zero duty; "$12,000.00" a goods value.
    line = TariffLine.objects.get(entry__entry_number="00455001263", line_number=1, ordinal=2)
    assert line.duty == Decimal("0.00") and not line.is_ieepa
    first = TariffLine.objects.get(entry__entry_number="3BZ55001204", ordinal=1)
    assert first.goods_value == Decimal("12000.00") and first.hts == "8516797000"


@pytest.mark.parametrize("name", ["standard.csv", "standard.xlsx", "extended.csv", "extended.xlsx"])
def test_generated_exports_of_both_layouts_load_as_csv_and_as_excel_saves_them(tmp_path, importer_org, alice, ingest, name) -> None:
    layout = name.split(".")[0]
    path = generate(tmp_path / name, 300, layout=layout, seed=7)
    upload = ingest(path, organization=importer_org, user=alice)
    assert upload.status == Upload.Status.DONE, upload.error_message
    assert upload.summary["rows_read"] == 300 and upload.summary["lines"] == 300
    assert upload.summary["rows_rejected"] == 0, upload.errors[:3]
    assert TariffLine.objects.filter(entry__in=entries_for(importer_org)).count() == 300
    assert upload.summary["header_row"] == len(TITLE_LINES) + 2
    if name.endswith(".xlsx"):
        assert upload.summary["sheet"] == "Main Report"
    assert upload.summary["has_liquidation_columns"] is (layout == "extended")


def test_csv_and_xlsx_of_the_same_report_store_the_same_data(tmp_path, importer_org, alice, ingest) -> None:
    ingest(generate(tmp_path / "a.csv", 200, seed=3), organization=importer_org, user=alice)
    snapshot = sorted(TariffLine.objects.values_list("entry__entry_number", "line_number", "ordinal", "hts", "goods_value", "duty", "is_ieepa"))
    again = ingest(generate(tmp_path / "a.xlsx", 200, seed=3), organization=importer_org, user=alice)
    assert again.summary["lines_created"] == 0 and again.summary["lines_updated"] == 0
    assert again.summary["entries_updated"] == 0
    assert sorted(TariffLine.objects.values_list("entry__entry_number", "line_number", "ordinal", "hts", "goods_value", "duty", "is_ieepa")) == snapshot


def test_excel_cells_lose_leading_zeros_and_become_floats_and_are_repaired(write_es003, importer_org, alice, ingest) -> None:
    rows = entry_rows("00261103162") + [sample_row(**{"Entry Summary Number": "6.0576069342E10", "HTS Number - Full": "9903.01.25",
                                                         "Line Tariff Duty Amount": Decimal("10.00"), "Entry Type Code": "1",
                                                         "Importer Number": "93417726100", "Entry Date": 46083.0})]
    path = write_es003(rows, name="mangled.xlsx")
    upload = ingest(path, organization=importer_org, user=alice)
    assert upload.summary["rows_rejected"] == 0, upload.errors
    assert set(Entry.objects.values_list("entry_number", flat=True)) == {"00261103162", "60576069342"}
    e = Entry.objects.get(entry_number="60576069342")
    assert (e.entry_type, e.entry_date, e.importer.ir_number) == ("01", date(2026, 3, 2), "93-417726100")
    assert TariffLine.objects.get(entry=e).hts == "99030125"


def test_csv_spellings_are_repaired(write_es003, importer_org, alice, ingest) -> None:
    rows = [sample_row(**{"Entry Summary Number": "002-6110316-2", "Entry Date": "2026-01-15", "Entry Summary Date": "1/23/2026",
                          "Line Tariff Duty Amount": "(12.00)", "Line Tariff Goods Value Amount": "", "Entry Type Code": "1",
                          "Importer Number": "93 417726100", "HTS Number - Full": "8516.79.70.00"})]
    upload = ingest(write_es003(rows), organization=importer_org, user=alice)
    assert upload.summary["rows_rejected"] == 0, upload.errors
    line = TariffLine.objects.get()
    assert (line.entry.entry_number, line.duty, line.goods_value, line.hts) == ("00261103162", Decimal("-12.00"), None, "8516797000")
    assert (line.entry.entry_date, line.entry.entry_summary_date) == (date(2026, 1, 15), date(2026, 1, 23))


def test_a_wrong_check_digit_is_stored_with_a_warning(write_es003, importer_org, alice, ingest) -> None:
    upload = ingest(write_es003(entry_rows("60576069343")), organization=importer_org, user=alice)
    assert Entry.objects.filter(entry_number="60576069343").exists()
    assert upload.summary["rows_rejected"] == 0
    assert any("60576069343" in w and "check digit" in w for w in upload.warnings)


def test_bad_rows_are_listed_and_their_entry_is_held_back_whole(write_es003, importer_org, alice, ingest) -> None:
    good = entry_rows("00261103162")
    bad = entry_rows("60576069342")
    bad[1][STANDARD_COLUMNS.index("Line Tariff Duty Amount")] = "12 dollars"
    upload = ingest(write_es003(good + bad), organization=importer_org, user=alice)
    assert upload.status == Upload.Status.DONE
    assert list(Entry.objects.values_list("entry_number", flat=True)) == ["00261103162"]
    assert TariffLine.objects.count() == 2  # nothing of the held-back entry, not even its good first row
    assert upload.errors == [{"file": "es003.csv", "row": 5, "column": "Line Tariff Duty Amount", "value": "12 dollars",
                              "reason": "not an amount (expected e.g. $2,567.49, FREE, (12.00) or blank)"}]
    assert upload.summary["rows_rejected"] == 1 and upload.summary["entries_held_back"] == 1


def test_every_bad_value_is_reported_with_row_column_value_and_reason(write_es003, importer_org, alice, ingest) -> None:
    rows = [
        sample_row(**{"Entry Summary Number": Text("00261103162"), "Entry Date": "13/45/2026", "Entry Summary Date": "13/45/2026"}),
        sample_row(**{"Entry Summary Number": Text("3BZ-55001-2045")}),
        sample_row(**{"Entry Summary Number": Text("60576069342"), "HTS Number - Full": "not-hts"}),
    ]
    upload = ingest(write_es003(rows), organization=importer_org, user=alice)
    got = {(e["row"], e["column"], e["value"]) for e in upload.errors}
    assert (2, "Entry Date", "13/45/2026") in got and (2, "Entry Summary Date", "13/45/2026") in got
    assert (3, "Entry Summary Number", "3BZ-55001-2045") in got
    assert (4, "HTS Number - Full", "not-hts") in got
    assert all(e["reason"] for e in upload.errors)
    assert Entry.objects.count() == 0
    assert upload.summary["unrepairable_entries"] == [{"file": "es003.csv", "row": 3, "entry_number": "3BZ-55001-2045",
                                                       "importer_number": "93-417726100"}]


def test_an_importer_org_may_not_load_another_companys_entries(write_es003, importer_org, alice, ingest) -> None:
    rows = entry_rows("00261103162") + entry_rows("60576069342", **{"Importer Number": Text("27-418830200"), "Importer Name": "Cedar Lane"})
    upload = ingest(write_es003(rows), organization=importer_org, user=alice)
    assert list(Entry.objects.values_list("entry_number", flat=True)) == ["00261103162"]
    assert {e["row"] for e in upload.errors} == {4, 5}
    assert all("may not load another company's entries" in e["reason"] for e in upload.errors)
    assert not Importer.objects.filter(ir_number="27-418830200").exists()


def test_a_broker_gets_a_pending_importer_for_a_new_client(write_es003, broker_org, bob, ingest) -> None:
    rows = entry_rows("00261103162", **{"Importer Number": Text("27418830200"), "Importer Name": "Cedar Lane Imports LLC"})
    upload = ingest(write_es003(rows), organization=broker_org, user=bob)
    importer = Importer.objects.get(ir_number="27-418830200")
    assert importer.status == Importer.Status.PENDING and importer.name == "Cedar Lane Imports LLC"
    assert ImporterGrant.objects.filter(importer=importer, organization=broker_org, revoked_at=None).exists()
    assert Entry.objects.get().importer == importer
    assert upload.summary["importers_created"] == ["27-418830200"]


def test_a_broker_may_not_load_an_importer_that_has_its_own_workspace_without_a_grant(write_es003, broker_org, bob, charlie, ingest) -> None:
    rows = entry_rows("00261103162", **{"Importer Number": Text("55-555555500")})
    upload = ingest(write_es003(rows), organization=broker_org, user=bob)
    assert Entry.objects.count() == 0
    assert "own RefundReady workspace" in upload.errors[0]["reason"]


def test_the_same_file_again_changes_nothing(tmp_path, importer_org, alice, ingest) -> None:
    path = generate(tmp_path / "r.csv", 120, seed=5)
    first = ingest(path, organization=importer_org, user=alice)
    before = list(Entry.objects.order_by("pk").values("pk", "updated_at", "last_upload_id", "ieepa_duty", "liquidation_status"))
    second = ingest(path, organization=importer_org, user=alice)
    s = second.summary
    assert (s["entries_created"], s["entries_updated"], s["lines_created"], s["lines_updated"]) == (0, 0, 0, 0)
    assert s["entries_unchanged"] == first.summary["entries_created"]
    assert list(Entry.objects.order_by("pk").values("pk", "updated_at", "last_upload_id", "ieepa_duty", "liquidation_status")) == before
    assert TariffLine.objects.count() == 120


def test_overlapping_files_merge_without_double_counting(write_es003, importer_org, alice, ingest) -> None:
    a = entry_rows("00261103162") + entry_rows("60576069342")
    b = entry_rows("60576069342") + entry_rows("00261111157")
    ingest(write_es003(a, name="a.csv"), organization=importer_org, user=alice)
    upload = ingest(write_es003(b, name="b.csv"), organization=importer_org, user=alice)
    assert TariffLine.objects.count() == 6
    assert Entry.objects.get(entry_number="60576069342").ieepa_duty == Decimal("100.00")
    assert upload.summary["entries_created"] == 1 and upload.summary["entries_unchanged"] == 1


def test_duplicate_rows_inside_one_file_count_once(write_es003, importer_org, alice, ingest) -> None:
    rows = entry_rows("00261103162")
    upload = ingest(write_es003(rows + rows), organization=importer_org, user=alice)
    assert TariffLine.objects.count() == 2
    assert Entry.objects.get().ieepa_duty == Decimal("100.00")
    assert upload.summary["duplicate_rows"] == 2


def test_a_newer_report_updates_statuses_and_lists_what_changed(write_es003, importer_org, alice, ingest) -> None:
    ingest(write_es003(entry_rows("00261103162") + entry_rows("60576069342"), name="week1.csv"), organization=importer_org, user=alice)
    week2 = (entry_rows("00261103162", **{"Liquidation Status": "Liquidated", "Liquidation Date": date(2026, 11, 20)})
             + entry_rows("60576069342", **{"Liquidation Status": "Suspended"}) + entry_rows("00261111157"))
    upload = ingest(write_es003(week2, name="week2.csv"), organization=importer_org, user=alice)
    c = upload.summary["changes"]
    assert c["newly_liquidated"] == ["00261103162"] and c["newly_liquidated_count"] == 1
    assert c["status_changes"] == [{"entry_number": "00261103162", "from": "unliquidated", "to": "liquidated"},
                                   {"entry_number": "60576069342", "from": "unliquidated", "to": "suspended"}]
    assert c["new_entries"] == ["00261111157"]
    e = Entry.objects.get(entry_number="00261103162")
    assert (e.liquidation_status, e.liquidation_date, e.last_upload_id) == ("liquidated", date(2026, 11, 20), upload.pk)
    assert upload.summary["entries_updated"] == 2 and upload.summary["entries_created"] == 1


def test_a_report_without_liquidation_columns_loads_with_a_prominent_warning(write_es003, importer_org, alice, ingest) -> None:
    upload = ingest(write_es003(entry_rows("00261103162", layout="standard"), layout="standard"), organization=importer_org, user=alice)
    assert upload.status == Upload.Status.DONE
    assert upload.summary["has_liquidation_columns"] is False
    assert upload.summary["missing_liquidation_columns"] == ["Liquidation Status", "Liquidation Date"]
    assert "ACE" in upload.warnings[0] and "Liquidation Status" in upload.warnings[0]
    e = Entry.objects.get()
    assert (e.liquidation_status, e.has_liquidation_columns) == ("unknown", False)


def test_a_default_layout_report_does_not_erase_known_liquidation_data(write_es003, importer_org, alice, ingest) -> None:
    ingest(write_es003(entry_rows("00261103162", **{"Liquidation Status": "Liquidated", "Liquidation Date": date(2026, 3, 6)})),
           organization=importer_org, user=alice)
    ingest(write_es003(entry_rows("00261103162", layout="standard"), layout="standard", name="std.csv"), organization=importer_org, user=alice)
    e = Entry.objects.get()
    assert (e.liquidation_status, e.liquidation_date, e.has_liquidation_columns) == ("liquidated", date(2026, 3, 6), True)


def test_a_file_that_is_not_an_es003_fails_naming_the_missing_columns(tmp_path, importer_org, alice, ingest) -> None:
    path = tmp_path / "claims.csv"
    path.write_text('ENTRY_NUMBER,CLAIM_NUMBER,STATUS,ERROR_DESCRIPTION\r\n="60576069342",="100000241223",Failed,INVALID HTS\r\n')
    upload = ingest(path, organization=importer_org, user=alice)
    assert upload.status == Upload.Status.FAILED
    assert "missing: Entry Type Code, Importer Number, HTS Number - Full, Line Tariff Duty Amount" in upload.error_message
    assert '"CLAIM_NUMBER"' in upload.error_message
    assert Entry.objects.count() == 0


def test_the_first_sheet_is_read_when_there_is_no_main_report(write_es003, importer_org, alice, ingest) -> None:
    upload = ingest(write_es003(entry_rows("00261103162"), name="book.xlsx", sheet_name="Sheet1"), organization=importer_org, user=alice)
    assert upload.summary["sheet"] == "Sheet1" and Entry.objects.count() == 1


def test_main_report_is_preferred_over_an_earlier_sheet(write_es003, importer_org, alice, ingest) -> None:
    upload = ingest(write_es003(entry_rows("00261103162"), name="book.xlsx", extra_sheets=["Cover"]), organization=importer_org, user=alice)
    assert upload.summary["sheet"] == "Main Report" and Entry.objects.count() == 1


def test_xlsx_formulas_are_never_evaluated(write_es003, importer_org, alice, ingest) -> None:
    rows = entry_rows("00261103162")
    rows[1][STANDARD_COLUMNS.index("Line Tariff Duty Amount")] = Formula("1000*1000", cached=None)
    upload = ingest(write_es003(rows, name="f.xlsx"), organization=importer_org, user=alice)
    # No cached value: read as blank (duty 0), never computed to 1,000,000.
    assert TariffLine.objects.get(ordinal=2).duty == Decimal("0.00")
    assert upload.status == Upload.Status.DONE


def test_csv_formulas_are_rejected_not_evaluated(write_es003, importer_org, alice, ingest) -> None:
    rows = entry_rows("00261103162")
    rows[1][STANDARD_COLUMNS.index("Line Tariff Duty Amount")] = "=1000*1000"
    upload = ingest(write_es003(rows), organization=importer_org, user=alice)
    assert "never evaluated" in upload.errors[0]["reason"] and Entry.objects.count() == 0


def test_an_oversize_file_is_refused(importer_org, alice, settings) -> None:
    settings.MAX_UPLOAD_SIZE = 2048
    with pytest.raises(ServiceError, match="largest file accepted"):
        upload_create(organization=importer_org, user=alice, file=SimpleUploadedFile("big.csv", b"x" * 4096))
    assert Upload.objects.count() == 0


@pytest.mark.parametrize(("name", "content", "message"), [
    ("report.pdf", b"%PDF-1.7", "as a .csv or .xlsx"),
    ("report.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ".xls"),
    ("report.xlsx", b"Entry Summary Number,", "not an Excel workbook"),
])
def test_wrong_file_types_are_refused(importer_org, alice, name, content, message) -> None:
    with pytest.raises(ServiceError, match=message):
        upload_create(organization=importer_org, user=alice, file=SimpleUploadedFile(name, content))


def test_a_zip_bomb_is_refused_before_it_is_expanded(tmp_path, importer_org, alice, ingest, settings) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * (40 * 1024 * 1024) + b">")
    assert path.stat().st_size < 1024 * 1024
    upload = ingest(path, organization=importer_org, user=alice)
    assert upload.status == Upload.Status.FAILED and "zip bomb" in upload.error_message


def test_the_uncompressed_size_limit_applies(tmp_path, write_es003, importer_org, alice, ingest, settings) -> None:
    settings.ES003_MAX_XLSX_UNCOMPRESSED = 1000
    upload = ingest(write_es003(entry_rows("00261103162"), name="b.xlsx"), organization=importer_org, user=alice)
    assert upload.status == Upload.Status.FAILED and "limit" in upload.error_message


@pytest.mark.parametrize("name", ["rows.csv", "rows.xlsx"])
def test_the_row_count_guard_refuses_huge_files(tmp_path, importer_org, alice, ingest, settings, name) -> None:
    settings.ES003_MAX_ROWS = 50
    upload = ingest(generate(tmp_path / name, 100), organization=importer_org, user=alice)
    assert upload.status == Upload.Status.FAILED and "limit is 50" in upload.error_message


def test_the_upload_is_claimed_once(write_es003, importer_org, alice, django_capture_on_commit_callbacks) -> None:
    from entries.ingest.service import upload_process

    path = write_es003(entry_rows("00261103162"))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        upload = upload_create(organization=importer_org, user=alice, file=SimpleUploadedFile(path.name, path.read_bytes()))
    assert len(callbacks) == 1  # process_upload enqueued on commit
    upload_process(upload_id=upload.pk)
    again = upload_process(upload_id=upload.pk)
    assert again.status == Upload.Status.DONE and again.attempts == 1


def test_classification_is_enqueued_after_a_successful_run(write_es003, importer_org, alice, django_capture_on_commit_callbacks, monkeypatch) -> None:
    from cape import tasks as cape_tasks
    from entries.ingest.service import upload_process

    seen = []
    monkeypatch.setattr(cape_tasks.classify_upload, "delay", lambda pk: seen.append(pk))
    path = write_es003(entry_rows("00261103162"))
    with django_capture_on_commit_callbacks(execute=False):
        upload = upload_create(organization=importer_org, user=alice, file=SimpleUploadedFile(path.name, path.read_bytes()))
    with django_capture_on_commit_callbacks(execute=True):
        upload_process(upload_id=upload.pk)
    assert seen == [upload.pk]
    assert Entry.objects.get().last_upload_id == upload.pk


def test_progress_is_recorded(tmp_path, importer_org, alice, ingest) -> None:
    upload = ingest(generate(tmp_path / "p.csv", 500), organization=importer_org, user=alice)
    assert upload.rows_read == 500 and upload.progress_percent == 100


def test_an_entry_number_entered_without_zeros_matches_the_stored_one(write_es003, importer_org, alice, ingest) -> None:
    number = entry_number_with_check_digit("0046110316")
    ingest(write_es003(entry_rows(number)), organization=importer_org, user=alice)
    ingest(write_es003(entry_rows(number.lstrip("0")), name="again.csv"), organization=importer_org, user=alice)
    assert Entry.objects.count() == 1 and TariffLine.objects.count() == 2
