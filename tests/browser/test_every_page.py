"""Every page as a person sees it (issue #20): each demo persona, in real Chromium, at a laptop's width
(1366 px) and a phone's (390 px), on demo data that fills the tables.

A page fails on: template syntax in its visible text; our own file names in its visible text (users get
CBP's and the law's sources); a page body wider than the screen; a console error or a failed request; an
image without alt text; a form field without a label; an axe-core violation of serious or critical impact;
money not written $1,234.56 or a count not written 12,007 (tests/numbers.py); a chart value drawn outside its
chart.
Each page is photographed (full page) into data/screenshots/pages/ (ignored by git) to be looked at.

The pages are found the way a person finds them: by following the links of the navigation and of each
page (GET only; downloads, log-out and the admin are left out), two of each URL shape at most.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from accounts.models import Importer, Organization
from ach.models import AchEnrollment
from cape.classify import today_eastern
from cape.models import Path as P
from portfolio.management.commands.seed_demo import DEMO_PASSWORD
from tests.accounts.factories import Form5106RecordFactory
from tests.cape.factories import ClassificationFactory
from tests.conftest import login
from tests.factories import EntryFactory
from tests.numbers import figure_problems, text_problems

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_cache")]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "data" / "screenshots" / "pages"
WIDTHS = (1366, 390)
PERSONAS = ("broker-owner", "broker-staff", "broker-viewer", "importer-owner", "importer-staff", "importer-viewer")
START = (
    "/",
    "/dashboard/",
    "/entries/",
    "/entries/uploads/",
    "/cape/",
    "/ach/",
    "/onboarding/readiness/",
    "/accounts/importers/",
    "/accounts/audit/",
    "/accounts/settings/",
)
SKIP = re.compile(
    r"\.(xlsx|pdf|ics|csv|txt|json)(\?|$)|/download|/logout|/admin|/api/|/export|/template|/static/|/media/"
)
LEAKED_SYNTAX = re.compile(r"\{%|%\}|\{\{|\}\}|\{#|#\}")
OUR_FILES = re.compile(r"README|rules\.md|seed[ _]0\d\d|shared/(seeds|domain|samples)|\.py\b")
PER_SHAPE = 2
MAX_PAGES = 40


def _shape(path: str) -> str:
    return re.sub(r"/\d+(?=/|$)", "/N", path)


def _demo_data() -> None:
    """manage.py seed_demo (Blue Heron's own report cut to 30 + 7 entries), then what fills the tables the demo
    leaves empty: every path on the importer's entries (one set, seen by Blue Heron and by Harbor), an ACH
    enrollment, a 5106 record, a CAPE declaration built by each organisation."""
    with open(os.devnull, "w") as devnull:
        call_command("seed_demo", importer_entries=30, stdout=devnull)
    blue = Importer.objects.get(ir_number="93-417726100")
    owner_org = Organization.objects.get(slug="blue-heron")
    broker = Organization.objects.get(slug="harbor")
    AchEnrollment.objects.update_or_create(importer=blue, defaults={"status": AchEnrollment.Status.ACTIVE})
    Form5106RecordFactory(importer=blue, company_name="Blue Heron Housewares Inc")
    today = today_eastern()
    for k, (path, duty, days) in enumerate(
        [
            (P.CAPE_PHASE1, "18450.00", 8),
            (P.CAPE_PHASE1, "9320.75", 19),
            (P.CAPE_PHASE2, "6120.00", 45),
            (P.PROTEST, "4410.20", 27),
            (P.CIT, "2210.00", 300),
            (P.WAIT, "12880.00", None),
            (P.FILED, "7300.00", None),
            (P.NOT_ELIGIBLE, "950.00", None),
            (P.NEEDS_REVIEW, "120.00", None),
        ]
    ):
        entry = EntryFactory(organization=owner_org, importer=blue, ieepa_duty=Decimal(duty) + k)
        ClassificationFactory(
            entry=entry,
            path=path,
            deadline=today + timedelta(days=days) if days else None,
            urgent=days is not None and days <= 14,
        )
    from cape.declarations import declaration_build

    for org in (owner_org, broker):
        declaration_build(organization=org, importer_ids=[blue.pk])
    # The rows above were written by factories, not by the services that announce a change to the cached figures.
    from cape.selectors import bump_totals_version

    for org in (owner_org, broker):
        bump_totals_version(org.pk)
    # Client work: the broker's staff member has Blue Heron, with an overdue follow-up and a note.
    from django.contrib.auth import get_user_model

    from accounts.services import importer_assign, importer_note_add

    staff = get_user_model().objects.get(username="broker-staff")
    importer_assign(organization=broker, importer=blue, member=staff, user=staff)
    importer_note_add(
        organization=broker,
        importer=blue,
        user=staff,
        follow_up_on=today - timedelta(days=1),
        text="Ask for the ACH Refund Authorization (ACE) and confirm the 4811 notify party.",
    )
    importer_note_add(organization=broker, importer=blue, user=staff, text="Client prefers e-mail.")


def _visible_problems(page: Any) -> list[str]:
    text = page.evaluate("document.body.innerText")
    problems = [f"template syntax {m!r} in the text" for m in sorted(set(LEAKED_SYNTAX.findall(text)))]
    problems += [f"our file name {m!r} in the text" for m in sorted({m.group(0) for m in OUR_FILES.finditer(text)})]
    problems += text_problems(text)
    for figure in page.eval_on_selector_all(
        "td.num, th.num, .stat-value, .bar-value, dd.n",
        "els => els.map(e => e.textContent.replace(/\\s+/g, ' ').trim())",
    ):
        problems += [p for p in figure_problems(figure) if p not in problems]
    problems += [
        f"chart text outside its chart: {t}"
        for t in page.eval_on_selector_all(
            "svg.chart text",
            """els => els.filter(t => { const b = t.getBBox(), v = t.ownerSVGElement.viewBox.baseVal;
                                                 return b.x < 0 || b.x + b.width > v.width; }).map(t => t.textContent)""",
        )
    ]
    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        problems.append(f"the page is {overflow}px wider than the screen")
    problems += [
        f"image without alt text: {src}"
        for src in page.eval_on_selector_all("img:not([alt])", "els => els.map(e => e.getAttribute('src'))")
    ]
    problems += [
        f"form field without a label: {name}"
        for name in page.eval_on_selector_all(
            "input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea",
            """els => els.filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                              && !e.getAttribute('aria-labelledby') && !e.closest('label')).map(e => e.name || e.id)""",
        )
    ]
    return problems


def _axe_problems(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"axe {v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} element(s), e.g. {v['nodes'][0]['target']}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def _visit_all(page: Any, base: str, persona: str, extra: tuple[str, ...], with_axe: bool) -> tuple[list[str], int]:
    failures: list[str] = []
    events: list[str] = []
    page.on("console", lambda m: events.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("requestfailed", lambda r: events.append(f"request failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: events.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    queue, seen, shapes = [*extra, *START], set(), Counter()
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        if path in seen or SKIP.search(path) or shapes[_shape(path)] >= PER_SHAPE:
            continue
        seen.add(path)
        shapes[_shape(path)] += 1
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            events.clear()
            page.goto(base + path)  # waits for the load event: deferred scripts (htmx, app.js) have run
            problems = _visible_problems(page) + list(events)
            if with_axe and width == WIDTHS[0]:
                problems += _axe_problems(page)
            name = re.sub(r"[^a-z0-9]+", "_", path.strip("/").lower()) or "home"
            page.screenshot(path=str(SHOTS / f"{persona}__{name}__{width}.png"), full_page=True)
            failures += [f"{persona} {path} at {width}px: {p}" for p in problems]
            if width == WIDTHS[0]:
                for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
                    target = urlsplit(href)
                    if (
                        not target.netloc
                        and target.path.startswith("/")
                        and not target.query
                        and target.path not in seen
                    ):
                        queue.append(target.path)
    return failures, len(seen)


def test_every_page_of_every_persona_reads_right_and_fits_a_laptop_and_a_phone(chromium_browser, live_server) -> None:  # type: ignore[no-untyped-def]
    _demo_data()
    SHOTS.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    visited: dict[str, int] = {}
    # An entry the demo ES-003 brought into the broker's workspace, with the ruleset's reasons and sources.
    from entries.models import Entry

    ingested = Entry.objects.filter(last_upload__isnull=False).order_by("pk").values_list("pk", flat=True)
    start = tuple(f"/entries/{pk}/" for pk in ingested[:1])
    for persona in PERSONAS:
        context = chromium_browser.new_context(viewport={"width": WIDTHS[0], "height": 900})
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.base_url = live_server.url
        login(page, persona, DEMO_PASSWORD)
        # Staff see the owner's pages less the owner's settings: axe once per kind of role is enough.
        found, visited[persona] = _visit_all(
            page,
            live_server.url,
            persona,
            start if persona.startswith("broker") else (),
            with_axe=not persona.endswith("-staff"),
        )
        failures += found
        context.close()
    assert all(n >= 12 for n in visited.values()), visited  # the crawl really found the pages
    assert not failures, f"{len(failures)} problem(s):\n" + "\n".join(failures)
