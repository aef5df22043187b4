"""Issue 18's reproduction, in Chromium, as it must now read: one truth for an importer and its broker.

Two browser contexts, Blue Heron's owner (the importer of record's own organisation) and Harbor's staff (a broker
Blue Heron granted access). Harbor loads a small ES-003 of 7 Blue Heron entries; Blue Heron uploads its own report
(12,007 entries, those 7 among them), files a CAPE declaration and imports CBP's Claim Details: 3BZ-5500120-4
accepted, 3BZ-5500121-2 rejected with HTS RELATIONSHIP MISMATCH. Then Harbor's pages: the entries page counts
Blue Heron's entries exactly, shows 3BZ-5500120-4 as "Filed in CAPE" and 3BZ-5500121-2 with CBP's error and the
correction advice, and Harbor's next CAPE build leaves the accepted entry out (saying why) and warns on the
rejected one (post-summary correction first). Both contexts see the same path, reasons and deadline for a sample of
entries. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from ach.models import AchEnrollment
from cape.models import Classification, Declaration, DeclarationEntry
from entries.models import Entry
from entries.samplegen import Text, es003_rows, write_csv
from tests.conftest import login
from tests.entries.conftest import entry_rows

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_cache")]

ACCEPTED, REJECTED = "3BZ55001204", "3BZ55001212"
# The broker's 7 Blue Heron entries (issue 18: "the 7 entries the broker loaded").
BROKER_ENTRIES = [ACCEPTED, REJECTED, "3BZ55001220", "3BZ55001238", "3BZ55001246", "3BZ55001253", "3BZ55001261"]
CLAIM = "100000241223"
CBP_ERROR = "HTS RELATIONSHIP MISMATCH"


def _display(number: str) -> str:
    return f"{number[:3]}-{number[3:10]}-{number[10]}"


@pytest.fixture
def broker_page(chromium_browser, live_server, request) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """A second browser context (its own cookies), as the ``page`` fixture makes the first."""
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(20_000)
    pg = context.new_page()
    pg.base_url = live_server.url  # type: ignore[attr-defined]
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        shots = Path(__file__).resolve().parents[2] / "data" / "screenshots"
        shots.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(shots / f"{request.node.name}-broker.png"), full_page=True)
    context.close()


def _upload(page: Any, report: Path) -> None:
    """Upload an ES-003 on the upload page and wait for it to finish."""
    page.goto(page.base_url + "/entries/uploads/new/")
    page.get_by_label("ES-003 report files (CSV or XLSX)").set_input_files(str(report))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url("**/entries/uploads/*/")
    page.locator('[data-testid="upload-status"]', has_text="Done").wait_for(timeout=120_000)


def _rows(page: Any, query: str) -> dict[str, list[str]]:
    """The entries page's rows for a query: entry number → the cells' visible text (path, reasons, deadline, …)."""
    page.goto(page.base_url + "/entries/?" + query)
    out = {}
    for row in page.get_by_test_id("entries").locator("tbody tr").all():
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        if len(cells) > 1:
            out[cells[0]] = cells[1:]
    return out


def _first_entries(rows: Iterator[Any], n: int) -> Iterator[Any]:
    """The lines of the first ``n`` entries (es003_rows counts lines, and an entry has several)."""
    seen, last = 0, None
    for row in rows:
        if row[0] != last:
            seen, last = seen + 1, row[0]
            if seen > n:
                return
        yield row


def test_the_broker_sees_the_importers_entries_and_cape_outcomes_as_one_truth(  # type: ignore[no-untyped-def]
    page, broker_page, alice, bob, own_importer, tmp_path
) -> None:
    AchEnrollment.objects.create(importer=own_importer, status=AchEnrollment.Status.ACTIVE)
    ior = {"Importer Number": Text(own_importer.ir_number), "Importer Name": own_importer.name}
    shared = [row for number in BROKER_ENTRIES for row in entry_rows(number, ieepa_duty="1200.00", **ior)]

    # 1. Harbor loads its small report: 7 Blue Heron entries.
    login(broker_page, "bob")
    _upload(broker_page, write_csv(tmp_path / "harbor-es003.csv", shared))
    assert Entry.objects.filter(importer=own_importer).count() == 7

    # 2. Blue Heron uploads its own report: 12,007 entries, as in the issue, Harbor's 7 among them (the same rows).
    generated = list(
        _first_entries(
            es003_rows(
                12_000 * 20, seed=18, importers=[(own_importer.ir_number, own_importer.name)], first_serial=5520000
            ),
            12_000,
        )
    )
    report = write_csv(tmp_path / "blue-heron-es003.csv", generated + shared)
    numbers = {str(r[0]) for r in generated} | set(BROKER_ENTRIES)
    login(page, "alice")
    _upload(page, report)
    assert Entry.objects.filter(importer=own_importer).count() == len(numbers) == 12_007  # one record per entry number

    # 3. Blue Heron files a declaration of the two entries in CAPE and imports CBP's Claim Details.
    page.goto(page.base_url + "/cape/")
    page.get_by_label("Only these entries (optional)").fill(f"{_display(ACCEPTED)}\n{_display(REJECTED)}")
    page.get_by_role("button", name="Build declarations").click()
    page.get_by_role("heading", name="Built 1 declaration").wait_for()
    page.locator(".cape-result a").first.click()
    page.wait_for_url("**/cape/declarations/*/")
    with page.expect_download():
        page.get_by_role("button", name="Download the CAPE file (CSV)").click()
    page.reload()
    page.get_by_label("Date filed in the ACE Portal CAPE tab").fill(timezone.localdate().isoformat())
    page.get_by_label("CAPE claim/declaration number").fill(CLAIM)
    page.get_by_role("button", name="Record submission").click()
    page.get_by_test_id("claim-number").wait_for()
    claims = tmp_path / "claim-details.csv"
    claims.write_bytes(
        (
            f'ENTRY_NUMBER,CLAIM_NUMBER,STATUS,ERROR_DESCRIPTION\r\n="{ACCEPTED}",="{CLAIM}",Entry Summary Updated,\r\n'
            f'="{REJECTED}",="{CLAIM}",Failed,{CBP_ERROR}\r\n'
        ).encode()
    )
    page.get_by_label("CAPE Claim Details CSV").set_input_files(str(claims))
    page.get_by_role("button", name="Import claim details").click()
    page.get_by_text("Claim details imported: 1 accepted, 1 rejected.").wait_for()
    assert page.get_by_test_id("declaration-status").inner_text() == "Accepted with error(s)"
    filed = Declaration.objects.get(organization=alice.memberships.get().organization)

    # 4. Harbor's entries page: Blue Heron's entries, counted exactly; the accepted one filed; the rejected one
    # with CBP's error and what to do about it.
    broker_page.goto(broker_page.base_url + f"/entries/?importer={own_importer.pk}")
    count = broker_page.get_by_test_id("entries-count").inner_text()
    assert count.endswith(f" of {len(numbers):,}"), count
    accepted = _rows(broker_page, f"q={ACCEPTED}")[_display(ACCEPTED)]
    assert accepted[2] == "Filed in CAPE", accepted
    rejected = _rows(broker_page, f"q={REJECTED}")[_display(REJECTED)]
    assert "CAPE Phase 1" in rejected[2], rejected  # back on its path, not filed
    assert f"CBP rejected this entry on a CAPE declaration with the error shown: {CBP_ERROR}" in rejected[3], rejected
    assert "CBP's error is one a post-summary correction fixes" in rejected[3], rejected
    broker_page.get_by_role("link", name=_display(REJECTED)).click()
    reasons = broker_page.get_by_test_id("reasons").inner_text()
    assert (
        f"CBP said: {CBP_ERROR}" in reasons
        and "correct the HTS lines in ACE first, then put the entry on a new declaration" in reasons
    )

    # 5. Harbor's next CAPE build of Blue Heron's entries: the accepted entry is not on it, the rejected one is,
    # with a warning that the post-summary correction comes first.
    broker_page.goto(broker_page.base_url + "/cape/")
    broker_page.get_by_label(re.compile(re.escape(own_importer.name))).check()
    broker_page.get_by_role("button", name="Build declarations").click()
    broker_page.get_by_role("heading", name="Built 1 declaration").wait_for()
    assert "warning" in broker_page.get_by_test_id("build-result").inner_text()
    broker_page.locator(".cape-result a").first.click()
    broker_page.wait_for_url("**/cape/declarations/*/")
    harbor = Declaration.objects.exclude(pk=filed.pk).get()
    on_it = set(harbor.items.values_list("entry__entry_number", flat=True))
    assert REJECTED in on_it and ACCEPTED not in on_it
    assert on_it == set(
        Classification.objects.filter(importer=own_importer, path__in=["cape_phase1", "cape_phase2"]).values_list(
            "entry__entry_number", flat=True
        )
    )
    check = broker_page.locator('[data-check="psc_first"]')
    assert check.inner_text().startswith("! Warning"), check.inner_text()
    finding = broker_page.get_by_test_id("findings-psc_first").inner_text()
    assert f"rejected earlier: {CBP_ERROR}" in finding and "1 entry" in finding
    # Asked for the accepted entry by number, the build says why it leaves it out, in the entry's own words.
    broker_page.goto(broker_page.base_url + "/cape/")
    broker_page.get_by_label("Only these entries (optional)").fill(_display(ACCEPTED))
    broker_page.get_by_role("button", name="Build declarations").click()
    left_out = broker_page.get_by_test_id("left-out").inner_text()
    assert _display(ACCEPTED) in left_out or ACCEPTED in left_out
    assert "already filed in CAPE: CBP accepted it" in left_out
    assert not DeclarationEntry.objects.filter(entry__entry_number=ACCEPTED).exclude(declaration=filed).exists()

    # 6. Both see the same path, reasons, deadline and duty for a sample of entries (the first pages by number).
    for query in (
        f"importer={own_importer.pk}&sort=entry",
        f"importer={own_importer.pk}&sort=entry&page=3",
        f"importer={own_importer.pk}&sort=amount",
    ):
        theirs, mine = _rows(broker_page, query), _rows(page, query)
        assert len(mine) == 50 and theirs == mine, query
