"""Content-Security-Policy (refundready/csp.py): every page is served with it, and Chromium, enforcing it, refuses
nothing on the app's pages: no inline script, handler or style is left, htmx neither evaluates code nor adds a
<style>, and the Swagger UI runs from files. Violations are caught both ways Chromium reports them: the
securitypolicyviolation event and the console's "Refused to …" messages."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from accounts.models import Membership
from cape.classify import today_eastern
from cape.models import Path as P
from entries.models import Upload
from tests.cape.factories import ClassificationFactory
from tests.conftest import login
from tests.factories import EntryFactory, MembershipFactory, TariffLineFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_cache")]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


class Watch:
    """Visits pages and collects every CSP violation reported on them."""

    def __init__(self, page: Any) -> None:
        self.page, self.violations, self.unprotected = page, [], []
        page.context.add_init_script(RECORD_VIOLATIONS)
        page.on("console", lambda m: "Refused to" in m.text and self.violations.append(f"console: {m.text}"))

    def collect(self, path: str) -> None:
        found = self.page.evaluate("window.__cspViolations || []")
        self.violations += [f"{path}: {v}" for v in found]

    def visit(self, path: str, *, ready: str | None = None) -> None:
        response = self.page.goto(self.page.base_url + path, wait_until="networkidle")
        assert response is not None and response.status == 200, f"{path} -> {response.status if response else None}"
        if "script-src 'self'" not in (response.headers.get("content-security-policy") or ""):
            self.unprotected.append(path)
        if ready:
            self.page.wait_for_selector(ready, timeout=20_000)
        self.collect(path)


def test_no_page_breaks_the_content_security_policy(page, alice, importer_org, own_importer, broker_org) -> None:  # type: ignore[no-untyped-def]
    for path, duty, days in ((P.CAPE_PHASE1, "1200.00", 6), (P.PROTEST, "450.50", 90)):
        entry = EntryFactory(organization=importer_org, importer=own_importer, ieepa_duty=Decimal(duty))
        TariffLineFactory(entry=entry)
        ClassificationFactory(
            entry=entry, path=path, deadline=today_eastern() + timedelta(days=days), urgent=days <= 14
        )
    running = Upload.objects.create(
        organization=importer_org,
        uploaded_by=alice,
        original_name="es003.csv",
        status=Upload.Status.RUNNING,
        rows_total=200,
        rows_read=74,
    )
    # A second organisation, so that the page header carries the organisation switcher.
    MembershipFactory(organization=broker_org, user=alice, role=Membership.Role.OWNER)
    watch = Watch(page)

    watch.visit("/accounts/login/")
    login(page, "alice")
    for path in (
        "/dashboard/",
        f"/dashboard/importers/{own_importer.pk}/",
        "/dashboard/exports/",
        "/entries/",
        f"/entries/{entry.pk}/",
        "/entries/uploads/",
        "/entries/uploads/new/",
        "/cape/",
        "/cape/refunds/",
        "/ach/",
        f"/ach/importers/{own_importer.pk}/",
        "/onboarding/",
        "/onboarding/5106/",
        "/onboarding/readiness/",
        "/accounts/importers/",
        "/accounts/settings/",
        "/organization/data/",
        "/organization/api-token/",
    ):
        watch.visit(path)

    # The progress bar takes its width from the stylesheet, and htmx's polling swaps it without a violation.
    watch.visit(f"/entries/uploads/{running.pk}/")
    assert not watch.violations, "\n".join(watch.violations)
    fill = page.locator(".progress-fill").first
    assert fill.get_attribute("data-percent") == "37"
    assert fill.evaluate(
        "el => el.getBoundingClientRect().width / el.parentElement.getBoundingClientRect().width"
    ) == pytest.approx(0.37, abs=0.01)
    Upload.objects.filter(pk=running.pk).update(rows_read=150)
    page.wait_for_selector('.progress-fill[data-percent="75"]', timeout=10_000)
    watch.collect("upload poll")

    # The organisation switcher submits on change from app.js (it had an onchange attribute).
    page.select_option("#org-switch", label=f"{broker_org.name} (Owner)")
    page.wait_for_selector(f'#org-switch option[selected]:has-text("{broker_org.name}")', state="attached")
    watch.collect("organisation switch")

    # The interactive API docs run Swagger UI from the vendored files and its start-up script's own URL.
    watch.visit("/api/docs/", ready=".swagger-ui .opblock")

    assert not watch.unprotected, f"pages served without the policy: {watch.unprotected}"
    assert not watch.violations, "\n".join(watch.violations)
