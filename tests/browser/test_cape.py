"""In real Chromium: build a CAPE declaration, download the file, record its submission."""

from __future__ import annotations

import pytest
from django.utils import timezone

from ach.models import AchEnrollment
from cape.models import Declaration
from tests.cape.factories import eligible_entry
from tests.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_build_download_and_record_a_declaration(page, alice, own_importer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    AchEnrollment.objects.create(importer=own_importer, status=AchEnrollment.Status.ACTIVE)
    entries = sorted((eligible_entry(own_importer) for _ in range(3)), key=lambda e: e.entry_number)
    login(page, "alice")
    page.get_by_role("link", name="CAPE").first.click()
    page.get_by_role("heading", name="CAPE declarations").wait_for()
    page.get_by_role("button", name="Build declarations").click()
    page.get_by_role("heading", name="Built 1 declaration").wait_for()
    page.locator(".cape-result a").first.click()

    page.get_by_text("all checks passed").wait_for()
    assert page.locator('[data-check="entry_number_format"]').inner_text().startswith("✓ Pass")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download the CAPE file (CSV)").click()
    download = info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    declaration = Declaration.objects.get()
    assert saved.read_bytes() == ("Entry Number\n" + "".join(e.entry_number + "\n" for e in entries)).encode()
    assert saved.read_bytes() == bytes(declaration.file_bytes)
    assert declaration.status == Declaration.Status.EXPORTED

    page.reload()
    page.get_by_label("Date filed in the ACE Portal CAPE tab").fill(timezone.localdate().isoformat())
    page.get_by_label("CAPE claim/declaration number").fill("100000241223")
    page.get_by_role("button", name="Record submission").click()
    page.get_by_test_id("claim-number").wait_for()
    assert page.get_by_test_id("declaration-status").inner_text() == "Submitted"
    declaration.refresh_from_db()
    assert (declaration.status, declaration.claim_number, declaration.submitted_on) == (
        "submitted",
        "100000241223",
        timezone.localdate(),
    )


def test_a_background_build_ends_on_its_page_with_links_to_the_declarations(
    page, live_server, alice, own_importer, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A build over the synchronous limit goes through the job page (the eager worker finishes it on commit)."""
    from cape import build_jobs

    monkeypatch.setattr(build_jobs, "SYNC_LIMIT", 0)
    AchEnrollment.objects.create(importer=own_importer, status=AchEnrollment.Status.ACTIVE)
    for _ in range(2):
        eligible_entry(own_importer)
    login(page, "alice")
    page.goto(f"{live_server.url}/cape/")
    page.get_by_role("button", name="Build declarations").click()
    page.wait_for_url("**/cape/builds/*/")
    page.get_by_test_id("build-status").filter(has_text="Done").wait_for()
    assert page.get_by_role("progressbar").get_attribute("aria-valuenow") == "100"
    page.locator(".cape-result a").first.click()
    page.wait_for_url("**/cape/declarations/*/")
    assert Declaration.objects.get().entry_count == 2
