"""Upload an ES-003 in real Chromium through the file input, watch the progress bar reach done, read the summary."""

from __future__ import annotations

import pytest

from entries.samplegen import write_es003
from tests.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_uploading_an_es003_shows_progress_then_the_summary(page, alice, tmp_path, celery_worker_process) -> None:  # type: ignore[no-untyped-def]
    """A real worker processes the upload while the page polls the status fragment (htmx)."""
    path = write_es003(tmp_path / "weekly-es003.csv", 400, seed=11)
    login(page, "alice")
    page.goto(page.base_url + "/entries/uploads/")
    page.get_by_label("ES-003 report files (CSV or XLSX)").set_input_files(str(path))
    assert "weekly-es003.csv" in page.locator(".file-list").inner_text()
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url("**/entries/uploads/*/")
    assert page.get_by_role("progressbar").count() == 1 or page.get_by_test_id("upload-summary").count() == 1
    page.locator('[data-testid="upload-status"]', has_text="Done").wait_for(timeout=60_000)
    bar = page.get_by_role("progressbar")
    assert bar.get_attribute("aria-valuenow") == "100"
    summary = page.get_by_test_id("upload-summary").inner_text()
    assert "Rows read" in summary and "400" in summary
    assert "Entries created" in summary
    assert page.get_by_test_id("liquidation-warning").count() == 0
