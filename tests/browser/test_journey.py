"""In Chromium, the whole journey: log in, upload an ES-003, watch the progress bar reach done, see the
entries by path on the dashboard and the entries page, open an entry, build and download a CAPE file."""

from __future__ import annotations

import pytest

from accounts.selectors import importers_for
from ach.models import AchEnrollment
from cape.models import Classification, Declaration
from entries.models import Entry
from entries.samplegen import write_es003
from tests.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_cache")]


def test_upload_to_cape_file(page, alice, own_importer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    AchEnrollment.objects.create(importer=own_importer, status=AchEnrollment.Status.ACTIVE)
    report = write_es003(tmp_path / "es003-journey.csv", 300, seed=5)

    login(page, "alice")
    page.wait_for_url("**/dashboard/")
    page.get_by_role("link", name="Upload a report").click()
    page.get_by_label("ES-003 report files (CSV or XLSX)").set_input_files(str(report))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url("**/entries/uploads/*/")
    page.locator('[data-testid="upload-status"]', has_text="Done").wait_for(timeout=60_000)
    assert page.get_by_role("progressbar", name="Rows read").get_attribute("aria-valuenow") == "100"
    assert "300" in page.get_by_test_id("upload-summary").inner_text()

    # the dashboard: the upload is done and the duty is split by path
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    assert "es003-journey.csv" in page.get_by_test_id("uploads").inner_text()
    cape_count = Classification.objects.filter(
        organization=alice.memberships.get().organization, path="cape_phase1"
    ).count()
    assert cape_count > 0
    row = page.get_by_test_id("duty-table").locator('tr[data-path="cape_phase1"]')
    assert str(cape_count) in row.inner_text()

    # entries by path, then one entry
    row.get_by_role("link", name="File in CAPE (Phase 1)").click()
    page.wait_for_url("**/entries/?path=cape_phase1")
    table = page.get_by_test_id("entries")
    first = table.locator("tbody tr").first.get_by_role("link").first
    number = first.inner_text()
    first.click()
    page.wait_for_url("**/entries/*/")
    assert "File in CAPE (Phase 1)" in page.get_by_test_id("path").inner_text()
    assert Entry.objects.filter(entry_number=number.replace("-", "")).exists()

    # build and download the CAPE file
    page.get_by_role("navigation", name="Main").get_by_role("link", name="CAPE").click()
    page.get_by_role("button", name="Build declarations").click()
    page.get_by_role("heading", name="Built 1 declaration").wait_for()
    page.locator(".cape-result a").first.click()
    with page.expect_download() as info:
        page.get_by_role("button", name="Download the CAPE file (CSV)").click()
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    lines = saved.read_text().splitlines()
    declaration = Declaration.objects.get()
    assert lines[0] == "Entry Number" and len(lines) - 1 == declaration.entry_count > 0
    on_cape_paths = set(
        Classification.objects.filter(
            importer__in=importers_for(declaration.organization), path__in=["cape_phase1", "cape_phase2"]
        ).values_list("entry__entry_number", flat=True)
    )
    assert set(lines[1:]) <= on_cape_paths and bytes(declaration.file_bytes) == saved.read_bytes()
