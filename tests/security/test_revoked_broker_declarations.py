"""Issue #17 item 5: a broker keeps nothing of an importer's CAPE work once the owner revokes its grant.

Bob (staff at Harbor, the broker) builds declarations for Alice's importer through the page and the API,
downloads one, records its filing and CBP's Claim Details, and has a refund event recorded against it.
Alice then revokes Harbor's grant through the owner's route and updates her 4811 notify party and ACH
enrollment. Every declaration page, API route, download, lifecycle action, preflight, build job, refund
and export route now answers 404 to Bob or leaves the declarations out, changes nothing, and never shows
Alice's current data. Harbor's work for an importer it still manages, and Alice's own declarations, stay.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import ImporterGrant
from ach.models import AchEnrollment, NotifyParty
from cape.models import Declaration, DeclarationBuildJob, DeclarationEntry, RefundEvent
from tests.cape.factories import eligible_entry
from tests.factories import (
    GrantFactory,
    ImporterFactory,
    OrganizationFactory,
    api_key_for,
    entry_number_with_check_digit,
)
from tests.test_permission_harness import _body, _urls

pytestmark = pytest.mark.django_db

E_FILED, E_REJECTED, E_DRAFT, E_MIXED_HERON = "00261103162", "60576069342", "00261111157", "00261111090"
E_GULL, E_MIXED_GULL = "00261112239", "00261110829"
CLAIM = "100000777555"
# What the revoked broker must no longer see: its declarations of the importer, their claim, their
# entries, its refund event, and the owner's data (before and after the owner changed it).
HIDDEN = ["HarborFiledQ5", "HarborDraftQ5", "HarborMixedQ5", CLAIM, "HarborRefundQ5", "HeronNotifyOldQ5",
          "HeronNotifyNewQ5", "HeronBankNewQ5",
          *[f"{n[:3]}-{n[3:10]}-{n[10:]}" for n in (E_FILED, E_REJECTED, E_DRAFT, E_MIXED_HERON)],
          E_FILED, E_REJECTED, E_DRAFT, E_MIXED_HERON]


def _api_build(token: Client, **body: Any) -> dict[str, Any]:
    r = token.post("/api/declarations/build/", data=json.dumps(body), content_type="application/json")
    assert r.status_code == 201, r.content
    return r.json()


@pytest.fixture
def scene(alice, bob, broker_org, own_importer, importer_org) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    gull_org = OrganizationFactory(name="Gull Imports", slug="gull")
    gull = ImporterFactory(owner=gull_org, ir_number="44-444444400", name="Gull Imports LLC")
    GrantFactory(importer=gull, organization=broker_org)
    for number in (E_FILED, E_REJECTED, E_DRAFT, E_MIXED_HERON):
        eligible_entry(own_importer, organization=broker_org, entry_number=number)
    for number in (E_GULL, E_MIXED_GULL):
        eligible_entry(gull, organization=broker_org, entry_number=number)
    NotifyParty.objects.create(importer=own_importer, name="HeronNotifyOldQ5 LLC", ir_number="77-123456700")

    page = Client()
    page.force_login(bob)
    token = Client(HTTP_AUTHORIZATION=f"Token {api_key_for(bob)}", HTTP_X_ORGANIZATION="harbor")
    # The page builds, downloads, records the filing and imports CBP's Claim Details (one entry rejected).
    r = page.post(reverse("cape_home"), {"paths": ["cape_phase1"], "entry_numbers": f"{E_FILED}\n{E_REJECTED}",
                                         "name": "HarborFiledQ5"})
    assert r.status_code == 200
    filed = Declaration.objects.get(name="HarborFiledQ5")
    assert page.post(reverse("cape_declaration_download", args=[filed.pk])).status_code == 200
    r = page.post(reverse("cape_declaration_submission", args=[filed.pk]),
                  {"submitted_on": timezone.localdate().isoformat(), "claim_number": CLAIM})
    assert r.status_code == 302
    claims = (f'ENTRY_NUMBER,CLAIM_NUMBER,STATUS,ERROR_DESCRIPTION\n="{E_FILED}",="{CLAIM}",Entry Summary Updated,\n'
              f'="{E_REJECTED}",="{CLAIM}",Failed,HTS RELATIONSHIP MISMATCH\n').encode()
    r = page.post(reverse("cape_declaration_claim_details", args=[filed.pk]),
                  {"file": SimpleUploadedFile("claims.csv", claims)})
    assert r.status_code == 200
    filed.refresh_from_db()
    assert filed.status == Declaration.Status.ACCEPTED_WITH_ERRORS and filed.accepted_on is not None
    # The API builds the rest: a draft for the importer, a mixed file, and one for Gull (still granted).
    _api_build(token, entry_numbers=[E_DRAFT], name="HarborDraftQ5")
    _api_build(token, entry_numbers=[E_MIXED_HERON, E_MIXED_GULL], mixed=True, name="HarborMixedQ5")
    _api_build(token, entry_numbers=[E_GULL], name="HarborGullQ5")
    RefundEvent.objects.create(organization=broker_org, importer=own_importer, entry=filed.items.first().entry,
                               declaration=filed, kind=RefundEvent.Kind.TREASURY_ISSUED, amount="120.00",
                               reference="HarborRefundQ5", event_date=timezone.localdate())
    heron = list(Declaration.objects.filter(organization=broker_org).exclude(name="HarborGullQ5"))
    assert len(heron) == 3
    # With the grant, Bob sees all of it (so the 404s below are the revocation's doing).
    for d in heron:
        assert d.name in page.get(reverse("cape_declaration", args=[d.pk])).content.decode()
    assert "HeronNotifyOldQ5" in json.dumps(Declaration.objects.get(name="HarborDraftQ5").preflight)
    jobs = list(DeclarationBuildJob.objects.filter(organization=broker_org))
    assert len(jobs) == 4 and all(page.get(reverse("cape_build_job", args=[j.pk])).status_code == 200 for j in jobs)

    owner = Client()
    owner.force_login(alice)
    grant = ImporterGrant.objects.get(importer=own_importer, organization=broker_org)
    assert owner.post(reverse("grant_revoke", args=[grant.pk])).status_code == 302
    grant.refresh_from_db()
    assert grant.revoked_at is not None
    # The owner's current 4811 and ACH data, which a re-run preflight would read.
    NotifyParty.objects.filter(importer=own_importer).update(name="HeronNotifyNewQ5 LLC")
    AchEnrollment.objects.create(importer=own_importer, status=AchEnrollment.Status.ACTIVE, bank_name="HeronBankNewQ5")
    gull_job = next(j for j in jobs if j.params.get("name") == "HarborGullQ5")
    return {"page": page, "token": token, "heron": heron, "jobs": [j for j in jobs if j.pk != gull_job.pk],
            "gull_job": gull_job, "gull": Declaration.objects.get(name="HarborGullQ5"), "importer": own_importer}


def _state() -> list[tuple[Any, ...]]:
    return [
        *Declaration.objects.order_by("pk").values_list("pk", "status", "preflight", "claim_number", "exported_at",
                                                        "submitted_on", "accepted_on", "outcome_summary"),
        *DeclarationEntry.objects.order_by("pk").values_list("pk", "outcome", "error_text", "corrected_at"),
    ]


def _assert_hidden(response: Any, where: str) -> None:
    text = _body(response)
    for marker in HIDDEN:
        assert marker not in text, f"{where} -> {response.status_code} shows {marker!r}"
    if "spreadsheetml" in response.get("Content-Type", "") and response.status_code == 200:
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(response.content), read_only=True)
        cells = " ".join(str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if v is not None)
        for marker in HIDDEN:
            assert marker not in cells, f"{where} workbook shows {marker!r}"


def test_every_declaration_page_and_action_is_a_404_after_the_grant_is_revoked(scene) -> None:  # type: ignore[no-untyped-def]
    page = scene["page"]
    before = _state()
    claims = f'ENTRY_NUMBER,CLAIM_NUMBER,STATUS,ERROR_DESCRIPTION\n="{E_FILED}",="{CLAIM}",Failed,INVALID HTS\n'.encode()
    for d in scene["heron"]:
        routes = [
            ("get", "cape_declaration", {}),
            ("get", "cape_declaration_download", {}),
            ("post", "cape_declaration_download", {}),
            ("post", "cape_declaration_preflight", {}),
            ("post", "cape_declaration_submission", {"submitted_on": timezone.localdate().isoformat(), "claim_number": "100000777556"}),
            ("post", "cape_declaration_claim_details", {"file": SimpleUploadedFile("c.csv", claims)}),
            ("post", "cape_declaration_outcome", {"status": "rejected", "error_text": "x"}),
            ("post", "cape_declaration_discard", {}),
        ]
        for method, name, data in routes:
            r = getattr(page, method)(reverse(name, args=[d.pk]), data)
            assert r.status_code == 404, f"{method.upper()} {name} of {d.name} -> {r.status_code}"
            _assert_hidden(r, name)
    for job in scene["jobs"]:
        r = page.get(reverse("cape_build_job", args=[job.pk]))
        assert r.status_code == 404, f"build job {job.params.get('name')} -> {r.status_code}"
        assert page.get(reverse("cape_build_job", args=[job.pk]), HTTP_HX_REQUEST="true").status_code == 404
    for name in ("cape_refund_timeline", "cape_export_readiness"):
        assert page.get(reverse(name, args=[scene["importer"].pk])).status_code == 404, name
    for url in (f"{reverse('cape_export_workbook')}?importer={scene['importer'].pk}",
                f"{reverse('cape_export_calendar')}?importer={scene['importer'].pk}"):
        assert page.get(url).status_code == 404, url
    # Refile: the rejected entry neither listed nor markable as corrected.
    rejected = DeclarationEntry.objects.get(entry__entry_number=E_REJECTED)
    r = page.post(reverse("cape_refile"), {"action": "mark_corrected", "entry": [rejected.entry_id]})
    assert r.status_code == 302
    assert _state() == before, "a revoked broker changed a declaration"
    assert Declaration.objects.filter(pk__in=[d.pk for d in scene["heron"]]).count() == 3


def test_lists_exports_and_refunds_leave_the_importers_declarations_out(scene) -> None:  # type: ignore[no-untyped-def]
    page = scene["page"]
    for name in ("cape_home", "cape_refile", "cape_refunds", "exports", "dashboard", "cape_export_workbook",
                 "cape_export_calendar", "portfolio_export"):
        r = page.get(reverse(name))
        assert r.status_code == 200, name
        _assert_hidden(r, name)
    # The broker's work for the importer it still manages is all there.
    assert "HarborGullQ5" in page.get(reverse("cape_home")).content.decode()
    assert page.get(reverse("cape_declaration", args=[scene["gull"].pk])).status_code == 200
    assert page.get(reverse("cape_build_job", args=[scene["gull_job"].pk])).status_code == 200


def test_every_api_route_is_a_404_after_the_grant_is_revoked(scene) -> None:  # type: ignore[no-untyped-def]
    token = scene["token"]
    before = _state()
    listed = token.get("/api/declarations/")
    assert listed.status_code == 200
    _assert_hidden(listed, "/api/declarations/")
    assert "HarborGullQ5" in listed.content.decode()
    claims = f'ENTRY_NUMBER,CLAIM_NUMBER,STATUS,ERROR_DESCRIPTION\n="{E_FILED}",="{CLAIM}",Failed,INVALID HTS\n'.encode()
    for d in scene["heron"]:
        base = f"/api/declarations/{d.pk}/"
        requests = [
            ("get", base, None), ("get", f"{base}preflight/", None), ("post", f"{base}preflight/", None),
            ("get", f"{base}download/", None), ("post", f"{base}download/", None),
            ("post", f"{base}submission/", {"submitted_on": timezone.localdate().isoformat(), "claim_number": "100000777556"}),
        ]
        for method, url, body in requests:
            if method == "get":
                r = token.get(url)
            else:
                r = token.post(url, data=json.dumps(body or {}), content_type="application/json")
            assert r.status_code == 404, f"{method.upper()} {url} ({d.name}) -> {r.status_code}"
            _assert_hidden(r, url)
        r = token.post(f"{base}claim-details/", {"file": SimpleUploadedFile("c.csv", claims)})
        assert r.status_code == 404, f"claim-details of {d.name} -> {r.status_code}"
    for job in scene["jobs"]:
        r = token.get(f"/api/declaration-builds/{job.pk}/")
        assert r.status_code == 404, f"build job {job.params.get('name')} -> {r.status_code}"
    assert token.get(f"/api/declaration-builds/{scene['gull_job'].pk}/").status_code == 200
    assert _state() == before


def test_no_route_shows_the_revoked_broker_the_importers_declarations_or_the_owners_data(scene) -> None:  # type: ignore[no-untyped-def]
    """Every named route (URLs filled with every tenant's ids), GET, page and API: none of it. The audit log is
    left out: it is the broker's own record of what it did and keeps the names of declarations it built."""
    page, token = scene["page"], scene["token"]
    for url in _urls("harbor"):
        if url.startswith("/admin/") or url.startswith("/accounts/audit"):
            continue
        _assert_hidden(token.get(url) if url.startswith("/api/") else page.get(url), url)


def test_the_owner_and_a_still_granted_broker_keep_their_declarations(scene, alice, importer_org) -> None:  # type: ignore[no-untyped-def]
    from cape.declarations import declaration_build, declarations_for

    own = eligible_entry(scene["importer"], organization=importer_org, entry_number=entry_number_with_check_digit("BHX0000042"))
    built = declaration_build(organization=importer_org, user=alice, entry_ids=[own.pk]).declarations
    assert [d.pk for d in declarations_for(importer_org)] == [built[0].pk]
    owner = Client()
    owner.force_login(alice)
    assert owner.get(reverse("cape_declaration", args=[built[0].pk])).status_code == 200
    harbor = scene["gull"].organization
    assert sorted(d.name for d in declarations_for(harbor)) == ["HarborGullQ5"]


def test_a_revoked_brokers_draft_no_longer_holds_the_importers_entries(scene, alice, importer_org) -> None:  # type: ignore[no-untyped-def]
    """Harbor can no longer see or discard its draft, and never downloaded it (CBP cannot have it): the owner
    may declare the entry. The entry on Harbor's filed declaration stays out (CBP has it)."""
    from cape.declarations import declaration_build

    # The entries are the importer's (one record each, issue 18): Harbor's CAPE filing is their history too.
    result = declaration_build(organization=importer_org, user=alice, entry_numbers=[E_DRAFT, E_FILED])
    [built] = result.declarations
    assert list(built.items.values_list("entry__entry_number", flat=True)) == [E_DRAFT]
    assert [(x.entry_number, x.reason) for x in result.left_out] == [(E_FILED, "already filed in CAPE: CBP accepted it")]
    checks = {c["code"]: c for c in built.preflight["checks"]}
    assert checks["duplicates_across_declarations"]["passed"]
