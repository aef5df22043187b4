"""Every page that renders a form, requested as a logged-in owner: each visible input, select and
textarea has a <label> (for=its id, or wrapping it). Pages are collected from the URL patterns; a
pattern that needs an object gets one below, and a pattern the walk cannot build fails the test."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import Form5106Record
from ach.models import AchRejection
from cape.build_jobs import declaration_build_job_start
from cape.models import Declaration
from entries.models import Upload
from tests.cape.factories import eligible_entry

pytestmark = pytest.mark.django_db
NOT_PAGES = ("admin", "api")  # the Django admin and the REST API render no app form pages


class _Controls(HTMLParser):
    SKIP_TYPES = {"hidden", "submit", "button", "reset", "image"}

    def __init__(self) -> None:
        super().__init__()
        self.label_for: set[str] = set()
        self.controls: list[dict[str, Any]] = []
        self.forms = 0
        self._label_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms += 1
        elif tag == "label":
            self._label_depth += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        elif tag in ("input", "select", "textarea"):
            if tag == "input" and a.get("type", "text") in self.SKIP_TYPES:
                return
            if "hidden" in a:
                return
            self.controls.append({"tag": tag, "id": a.get("id", ""), "name": a.get("name", ""), "wrapped": self._label_depth > 0})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self._label_depth:
            self._label_depth -= 1

    def unlabelled(self) -> list[str]:
        return [f"<{c['tag']} name={c['name']!r} id={c['id']!r}>" for c in self.controls
                if not c["wrapped"] and not (c["id"] and c["id"] in self.label_for)]


def _named_patterns(patterns: list[Any], prefix: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for p in patterns:
        if isinstance(p, URLResolver):
            found += _named_patterns(p.url_patterns, prefix + str(p.pattern))
        elif p.name and not (prefix + str(p.pattern)).startswith(NOT_PAGES):
            found.append((prefix + str(p.pattern), p))
    return found


@pytest.fixture
def objects(importer_org, own_importer, alice) -> dict[str, int]:  # type: ignore[no-untyped-def]
    entry = eligible_entry(own_importer)
    declaration = Declaration.objects.create(organization=importer_org, importer=own_importer, name="Batch", entry_count=1)
    upload = Upload.objects.create(organization=importer_org, uploaded_by=alice, file="uploads/x.csv", original_name="x.csv",
                                   size=1, status=Upload.Status.DONE)
    record = Form5106Record.objects.create(importer=own_importer, company_name="Blue Heron Housewares Inc",
                                           poc_email="poc@blueheron.example", address="1 Heron Way")
    rejection = AchRejection.objects.create(importer=own_importer, organization=importer_org, amount="5.00", reason="R03",
                                            rejected_on="2026-02-01")
    job = declaration_build_job_start(organization=importer_org, user=alice)
    from protests.models import Protest, ProtestEntry

    protest = Protest.objects.create(organization=importer_org, importer=own_importer, reason_text="Reason", entry_count=1)
    ProtestEntry.objects.create(protest=protest, entry=entry, position=1, lead=True)
    return {"importer": own_importer.pk, "entry": entry.pk, "declaration": declaration.pk, "upload": upload.pk,
            "5106": record.pk, "rejection": rejection.pk, "job": job.pk, "protest": protest.pk}


# Which object each pattern with an argument takes (pk or importer_id).
NEEDS = {
    "client_dashboard": "importer", "importer_detail": "importer", "importer_facts": "importer", "grant_revoke": "importer",
    "onboarding_5106_edit": "5106", "onboarding_5106_confirm": "5106", "onboarding_readiness_detail": "importer",
    "onboarding_subaccount_letter": "importer", "entry_detail": "entry", "upload_detail": "upload", "upload_errors": "upload",
    "cape_build_job": "job", "cape_refund_timeline": "importer", "cape_export_readiness": "importer",
    "ach_rejection_resolve": "rejection", "importer_assign": "importer", "importer_note_new": "importer",
    **{name: "protest" for name in ("protest_detail", "protest_spreadsheet_xlsx", "protest_spreadsheet_csv", "protest_form19",
                                    "protest_reason_text", "protest_reason_edit", "protest_filing", "protest_decision",
                                    "protest_discard")},
    "counsel_packet_xlsx": "importer", "counsel_packet_pdf": "importer",
}


def test_every_visible_control_on_every_form_page_has_a_label(client, alice, objects) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    problems: dict[str, list[str]] = {}
    cannot_build: list[str] = []
    form_pages: list[str] = []
    for route, pattern in _named_patterns(get_resolver().url_patterns):
        name = pattern.name
        if name == "logout":
            continue  # logging out would end the walk; its POST form is in the top bar of every page
        args = list(pattern.pattern.regex.groupindex)
        if not args:
            url = reverse(name)
        elif name.startswith("cape_declaration"):
            url = reverse(name, args=[objects["declaration"]])
        elif name.startswith("ach_") and args == ["importer_id"]:
            url = reverse(name, kwargs={"importer_id": objects["importer"]})
        elif name in NEEDS:
            url = reverse(name, kwargs={args[0]: objects[NEEDS[name]]})
        elif name == "importer_note_done":  # POST only; its form is on the importer page
            url = reverse(name, args=[objects["importer"], 1])
        elif name == "password_reset_confirm":
            # A real reset link for alice: it redirects to the page with the new-password form.
            from django.contrib.auth.tokens import default_token_generator
            from django.utils.encoding import force_bytes
            from django.utils.http import urlsafe_base64_encode

            link = reverse(name, kwargs={"uidb64": urlsafe_base64_encode(force_bytes(alice.pk)),
                                         "token": default_token_generator.make_token(alice)})
            url = client.get(link)["Location"]
        else:
            cannot_build.append(f"{name} ({route})")
            continue
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue  # POST-only actions (405), redirects of a flow not started, downloads
        parser = _Controls()
        parser.feed(response.content.decode())
        if parser.forms:
            form_pages.append(name)
        if parser.unlabelled():
            problems[name] = parser.unlabelled()
    assert cannot_build == [], f"add these patterns to NEEDS: {cannot_build}"
    assert problems == {}, problems
    # The walk really reached the form pages (a broken walk would pass vacuously).
    for expected in ["importer_new", "upload_new", "cape_home", "cape_declaration", "onboarding_5106_new", "onboarding_apply",
                     "ach_importer", "my_settings", "entry_list", "cape_refunds", "password_change", "password_reset",
                     "password_reset_confirm", "protests_home", "protest_detail", "protests_reason"]:
        assert expected in form_pages, (expected, form_pages)


def test_the_portfolio_controls_have_labels(client, bob, broker_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    eligible_entry(own_importer, organization=broker_org)
    client.force_login(bob)
    parser = _Controls()
    parser.feed(client.get(reverse("dashboard")).content.decode())
    assert parser.controls and parser.unlabelled() == []


def test_a_field_error_is_linked_to_its_input(client, alice, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    html = client.post(reverse("cape_declaration_submission", args=[Declaration.objects.create(
        organization=own_importer.owner, importer=own_importer, name="B", status="exported").pk]),
        {"submitted_on": "", "claim_number": ""}).content.decode()
    assert 'aria-invalid="true"' in html and 'aria-describedby="id_claim_number_helptext id_claim_number_error"' in html
    assert 'id="id_claim_number_error"' in html and 'id="id_claim_number_helptext"' in html
