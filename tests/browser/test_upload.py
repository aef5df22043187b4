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
    assert (
        page.get_by_role("progressbar", name="Rows read").count() == 1
        or page.get_by_test_id("upload-summary").count() == 1
    )
    page.locator('[data-testid="upload-status"]', has_text="Done").wait_for(timeout=60_000)
    bar = page.get_by_role("progressbar", name="Rows read")
    assert bar.get_attribute("aria-valuenow") == "100"
    summary = page.get_by_test_id("upload-summary").inner_text()
    assert "Rows read" in summary and "400" in summary
    assert "Entries created" in summary
    assert page.get_by_test_id("liquidation-warning").count() == 0
    # Then the classification that follows, with its own bar, reaches done on the same page (polled).
    page.locator('[data-testid="classification-badge"]', has_text="Done").wait_for(timeout=60_000)
    assert page.get_by_role("progressbar", name="Entries classified").get_attribute("aria-valuenow") == "100"
    assert "classified as of" in page.get_by_test_id("classification-status").inner_text()
    page.locator("#upload-status:not([hx-get])").wait_for(timeout=10_000)  # polling stopped


def _drop_files(page, selector: str, files: list[tuple[str, str]]) -> None:  # type: ignore[no-untyped-def]
    """A real drop: build a DataTransfer of File objects in the page and dispatch dragenter, dragover
    and drop on the zone, as a user dragging files from the desktop does (static/js/upload.js)."""
    page.evaluate(
        """([selector, files]) => {
            const zone = document.querySelector(selector);
            const dt = new DataTransfer();
            for (const [name, text] of files) dt.items.add(new File([text], name, {type: "text/csv"}));
            for (const type of ["dragenter", "dragover", "drop"]) {
                zone.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: dt}));
            }
        }""",
        [selector, files],
    )


def test_dropping_two_files_shows_a_live_progress_bar_per_upload(page, alice, tmp_path, celery_worker_process) -> None:  # type: ignore[no-untyped-def]
    """Two files dropped at once land on the uploads list, where each row polls its own progress until done."""
    a = write_es003(tmp_path / "week-a.csv", 3000, seed=21)
    b = write_es003(tmp_path / "week-b.csv", 3000, seed=22, first_serial=7700000)
    # Every row htmx swaps in is recorded (file name, status, percent): proof that the bars are polled live.
    page.add_init_script("""
        window.__swaps = [];
        document.addEventListener("htmx:afterSettle", (e) => {
            const row = e.detail.elt.closest ? e.detail.elt.closest("[data-testid=upload-row]") || e.detail.elt : e.detail.elt;
            const bar = row.querySelector && row.querySelector("[role=progressbar]");
            if (bar) window.__swaps.push([bar.getAttribute("aria-label"), row.dataset.status, bar.getAttribute("aria-valuenow")]);
        });
    """)
    login(page, "alice")
    page.goto(page.base_url + "/entries/uploads/new/")
    _drop_files(page, "[data-dropzone]", [(a.name, a.read_text()), (b.name, b.read_text())])
    listed = page.locator(".file-list").inner_text()
    assert "week-a.csv" in listed and "week-b.csv" in listed
    assert page.get_by_label("ES-003 report files (CSV or XLSX)").evaluate("el => el.files.length") == 2
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url("**/entries/uploads/")

    rows = page.get_by_test_id("upload-row")
    assert rows.count() == 2
    for name in ("week-a.csv", "week-b.csv"):
        bar = page.get_by_role("progressbar", name=f"Rows read of {name}")
        assert bar.count() == 1  # each upload has its own bar from the start
    # The rows start pending (the worker takes them one by one) and are polled, not reloaded.
    assert page.locator('[data-testid="upload-row"][hx-get]').count() >= 1
    for name in ("week-a.csv", "week-b.csv"):
        row = rows.filter(has_text=name)
        row.locator('[data-testid="upload-row-status"]', has_text="Done").wait_for(timeout=90_000)
        assert page.get_by_role("progressbar", name=f"Rows read of {name}").get_attribute("aria-valuenow") == "100"
        assert row.get_by_test_id("upload-row-summary").get_attribute("href").endswith("/")
        assert "3,000" in row.inner_text()  # rows read, with the thousands separator (style.md)
    # Each row goes on polling while the classification after its ingest runs, then stops.
    # A function, not an expression: Playwright evals a bare expression, which the Content-Security-Policy refuses.
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"upload-row\"][hx-get]').length === 0", timeout=90_000
    )
    assert page.get_by_test_id("upload-row-classification").count() == 0
    swaps = page.evaluate("window.__swaps")
    for name in ("week-a.csv", "week-b.csv"):
        seen = [(status, int(pct)) for label, status, pct in swaps if label == f"Rows read of {name}"]
        # The worker takes the files one at a time, so the second was still waiting when the list
        # loaded and must have reached done through polling; the first may have been quicker.
        if name == "week-b.csv" or seen:
            assert seen and seen[-1] == ("done", 100), f"no live update of {name}'s row to done: {swaps}"
            assert [p for _, p in seen] == sorted(p for _, p in seen)  # the bar only moves forward
    assert page.url.endswith("/entries/uploads/")  # no reload to another page happened
    page.get_by_test_id("upload-row").filter(has_text="week-a.csv").get_by_test_id("upload-row-summary").click()
    page.get_by_test_id("upload-summary").wait_for()


def test_a_report_without_liquidation_columns_shows_the_how_to_warning(page, alice, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Tasks run eagerly here: the upload is processed before the page it redirects to is drawn."""
    path = write_es003(tmp_path / "default-layout.csv", 40, seed=12, layout="standard")
    login(page, "alice")
    page.goto(page.base_url + "/entries/uploads/new/")
    page.get_by_label("ES-003 report files (CSV or XLSX)").set_input_files(str(path))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url("**/entries/uploads/*/")
    page.locator('[data-testid="upload-status"]', has_text="Done").wait_for()
    warning = page.get_by_test_id("liquidation-warning")
    assert warning.is_visible()
    assert warning.get_attribute("role") == "alert"
    text = warning.inner_text()
    assert text.startswith("Liquidation columns missing:")
    assert "no Liquidation Status and Liquidation Date column" in text
    assert "add the Liquidation Status and Liquidation Date objects to the table" in text
    # above the summary, where it cannot be missed
    assert warning.bounding_box()["y"] < page.get_by_test_id("upload-summary").bounding_box()["y"]
