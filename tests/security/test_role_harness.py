"""The permission harness for every route and every role (extends tests/test_permission_harness.py):

* owner, staff and viewer of an importer organisation and of a broker organisation: a viewer's POST (and PUT,
  PATCH, DELETE on the API) to every state-changing route is refused with 403 or 404 and changes nothing;
  staff are refused the owner-only routes;
* every state change an owner makes through a route writes the audit log;
* a viewer POSTing to every route changes nothing;
* a broker whose grant was revoked sees nothing of the importer;
* another organisation reaching a tenant's objects by id, by filter (?importer=<id> and friends) or by a
  bulk action (POSTed lists of the tenant's ids) gets nothing and changes nothing.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from accounts.models import AuditLog, Importer, ImporterGrant, Membership
from ach.models import AchRejection
from cape.models import Declaration, DeclarationEntry
from tests.cape.factories import eligible_entry
from tests.factories import BrokerFactory, GrantFactory, ImporterFactory, MembershipFactory, TariffLineFactory
from tests.security.conftest import tenant_counts
from tests.test_permission_harness import (
    MARKERS,
    _assert_no_tenant_data,
    _snapshot,
    _stay_logged_in,
    _urls,
    _urls_by_name,
    seed_tenant,
)

FILTER_PARAMS = [
    "importer",
    "importer_id",
    "importers",
    "organization",
    "org",
    "entry",
    "declaration",
    "upload",
    "pk",
    "id",
]


@pytest.fixture
def tenant(alice, own_importer, importer_org):  # type: ignore[no-untyped-def]
    entry = eligible_entry(own_importer, organization=importer_org, entry_number="BHX00000010")
    TariffLineFactory(entry=entry)
    return {"importer": own_importer, "entry": entry}


def _routes() -> list[str]:
    return [u for u in _urls("blue-heron") if not u.startswith("/admin/")]


@pytest.mark.django_db
def test_a_viewer_posting_to_every_route_changes_nothing(tenant, vera) -> None:  # type: ignore[no-untyped-def]
    before = tenant_counts()
    client = Client()
    payloads = [
        {},
        {
            "confirmation": "Blue Heron Housewares",
            "name": "x",
            "ir_number": "93-417726199",
            "entry": [tenant["entry"].pk],
            "type09_filed": "on",
            "drawback": "on",
            "status": "accepted",
            "bank_name": "B",
            "routing_number": "011000015",
            "account_number": "000123456789",
            "account_type": "checking",
            "account_holder": "x",
        },
    ]
    for url in _routes():
        for data in payloads:
            client.force_login(vera)
            response = client.post(url, data)
            assert response.status_code != 500, url
    after = tenant_counts()
    assert after == before, {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    entry = tenant["entry"]
    entry.refresh_from_db()
    assert not entry.type09_filed and not entry.drawback


@pytest.mark.django_db
def test_a_broker_whose_grant_was_revoked_sees_nothing(tenant, bob, broker_org) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(bob)
    assert "Blue Heron" in client.get("/accounts/importers/").content.decode()  # with the grant: visible
    ImporterGrant.objects.filter(organization=broker_org).update(revoked_at=timezone.now())
    for url in _routes():
        _assert_no_tenant_data(client, url, "get")


@pytest.mark.django_db
def test_another_organisation_gets_nothing_by_filter(tenant, charlie, importer_org) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(charlie)
    ids = {str(tenant["importer"].pk), str(tenant["entry"].pk), str(importer_org.pk)}
    for url in _routes():
        for param in FILTER_PARAMS:
            for value in ids:
                _assert_no_tenant_data(client, f"{url}?{param}={value}", "get")


@pytest.mark.django_db
def test_another_organisation_gets_nothing_and_changes_nothing_by_bulk_action(tenant, charlie) -> None:  # type: ignore[no-untyped-def]
    from cape.models import Declaration

    client = Client()
    client.force_login(charlie)
    importer, entry = tenant["importer"], tenant["entry"]
    before = tenant_counts()
    form = {
        "entry": [entry.pk],
        "importers": [importer.pk],
        "importer": [importer.pk],
        "entry_numbers": entry.entry_number,
        "ids": [entry.pk],
        "selected": [importer.pk],
    }
    # The outsider types the entry number himself: a form echoing it back is no leak (the other markers are).
    markers = [m for m in MARKERS if not entry.entry_number.startswith(m) and m != entry.entry_number]
    for url in _routes():
        response = client.post(url, form)
        _stay_logged_in(client, charlie)
        body = response.content.decode(errors="replace") if not response.streaming else ""
        for marker in markers:
            assert marker not in body, f"POST {url} leaked {marker}"
        if url.startswith("/api/"):
            response = client.post(
                url,
                json.dumps({"importers": [importer.pk], "entry_numbers": [entry.entry_number], "entries": [entry.pk]}),
                content_type="application/json",
            )
            for marker in markers:
                assert marker not in response.content.decode(errors="replace"), f"POST {url} (JSON) leaked {marker}"
    after = tenant_counts()
    changed = {k for k in before if before[k] != after[k]}
    # Charlie may create things of his own (an empty declaration, say); none may hold the tenant's rows.
    from cape.models import DeclarationEntry

    assert not DeclarationEntry.objects.filter(entry=entry).exists()
    assert not Declaration.objects.filter(importer=importer).exists()
    assert changed <= {
        "cape.Declaration",
        "accounts.AccountApplication",
        "accounts.VerificationCode",
        "accounts.Importer",
        "accounts.ImporterGrant",
        "accounts.Form5106Record",
        "accounts.ReadinessState",
    }, changed
    entry.refresh_from_db()
    assert not entry.type09_filed and entry.importer.owner_id == importer.owner_id


# ---------------------------------------------------------------- every role, in both kinds of organisation
# Routes a viewer may POST to: their own session and settings, their own API token (read access), and CBP's
# public account application (anyone may apply; it holds no tenant data until an owner links it).
PERSONAL = {
    "login", "logout", "switch_organization", "my_settings", "api_token", "onboarding_apply", "onboarding_verify",
    "onboarding_resend", "onboarding_back", "onboarding_details", "onboarding_authorize", "onboarding_done",
    "onboarding_already_linked", "onboarding_index", "home", "no_organization",
    "password_change", "password_change_done", "password_reset", "password_reset_done", "password_reset_confirm",
    "password_reset_complete",
}
# Pages that only read: they answer a POST as a GET (no form, no service behind them).
READ_ONLY = {
    "dashboard", "client_dashboard", "exports", "importer_list", "importer_detail", "audit_log", "entry_list",
    "upload_list", "upload_detail", "upload_errors", "cape_declaration", "cape_refund_timeline", "ach_home",
    "ach_export", "ach_importer", "onboarding_5106_list", "onboarding_readiness", "onboarding_subaccount_letter",
    "api_schema", "api_docs",
}
# Owners only: the organisation's data (export, delete) and revoking a broker's access.
OWNER_ONLY = {"organization_data": ["get", "post"], "organization_export": ["post"], "grant_revoke": ["post"]}
REFUSED = {403, 404, 405}

ROLES = [Membership.Role.OWNER, Membership.Role.STAFF, Membership.Role.VIEWER]


@pytest.fixture(params=["importer", "broker"])
def org_roles(request, alice, own_importer, importer_org, broker_org):  # type: ignore[no-untyped-def]
    """An organisation of each kind with an owner, a staff member and a viewer, holding one row of every model."""
    org = importer_org if request.param == "importer" else broker_org
    users = {role: MembershipFactory(organization=org, role=role, user__username=f"{request.param}-{role}").user for role in ROLES}
    seeded = seed_tenant(organization=org, importer=own_importer, user=users[Membership.Role.OWNER],
                         entry_number="BHX00000010" if org == importer_org else "HCB00000016")
    return {"kind": request.param, "org": org, "users": users, **seeded}


def _state() -> dict[str, Any]:
    """Every row of the app's tables, users and tokens, apart from the audit log and last_login (reading can be
    audited, logging in is not a change to tenant data)."""
    snap = _snapshot()
    snap.pop("accounts.AuditLog")
    user_label = get_user_model()._meta.label
    last_login = [f.attname for f in get_user_model()._meta.concrete_fields].index("last_login") + 1
    snap[user_label] = {pk: row[:last_login] + row[last_login + 1:] for pk, row in snap[user_label].items()}
    return snap


def _diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [f"{label} #{pk}" for label in before for pk in set(before[label]) | set(after[label])
            if before[label].get(pk) != after[label].get(pk)]


def _request(client: Client, method: str, url: str, data: Any = None) -> Any:
    if method == "post" and not url.startswith("/api/"):
        return client.post(url, data or {})
    return getattr(client, method)(url, data=json.dumps(data or {}), content_type="application/json")


def _named_routes() -> dict[str, list[str]]:
    return {name: urls for name, urls in _urls_by_name("blue-heron").items() if not name.startswith("admin:")}


VIEWER_FORM = {
    "confirmation": "Blue Heron Housewares", "name": "x", "ir_number": "93-417726199", "company_name": "x",
    "poc_email": "x@example.com", "type09_filed": "on", "drawback": "on", "status": "failed_validation",
    "bank_name": "B", "routing_number": "011000015", "account_number": "000123456789", "account_number_confirm": "000123456789",
    "account_type": "checking", "account_holder": "x", "entered_on": "2026-01-05", "entered_by": "x", "amount": "10.00",
    "rejected_on": "2026-01-05", "emailed_on": "2026-01-05", "resolved_on": "2026-01-05", "submitted_on": "2026-01-05",
    "claim_number": "100000241223", "ace_account": "active", "sub_account": "active", "tao_name": "x",
    "tao_email": "t@example.com", "action": "create",
}


@pytest.mark.django_db
def test_a_viewer_is_refused_every_state_changing_route_and_changes_nothing(org_roles) -> None:  # type: ignore[no-untyped-def]
    viewer = org_roles["users"][Membership.Role.VIEWER]
    client = Client()
    client.force_login(viewer)
    before = _state()
    accepted = []
    for name, urls in _named_routes().items():
        if name in PERSONAL or name in READ_ONLY:
            continue
        methods = ["post", "put", "patch", "delete"] if urls[0].startswith("/api/") else ["post"]
        for url in urls:
            for method in methods:
                for data in ({}, VIEWER_FORM):
                    response = _request(client, method, url, data)
                    if response.status_code not in REFUSED:
                        accepted.append(f"{method.upper()} {url} ({name}) -> {response.status_code}")
                    _stay_logged_in(client, viewer)
    assert not accepted, accepted
    assert not _diff(before, _state())


@pytest.mark.django_db
def test_a_viewer_posting_to_a_declaration_download_is_refused_with_403(org_roles) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(org_roles["users"][Membership.Role.VIEWER])
    before = _state()
    for url in _named_routes()["cape_declaration_download"]:
        assert client.post(url).status_code in REFUSED, url
    assert not _diff(before, _state())


@pytest.mark.django_db
def test_the_read_only_and_personal_lists_hold_no_state_changing_route(org_roles) -> None:  # type: ignore[no-untyped-def]
    """Staff POSTing the viewer's kitchen-sink form to the READ_ONLY pages changes nothing: the exemption is honest."""
    staff = org_roles["users"][Membership.Role.STAFF]
    client = Client()
    client.force_login(staff)
    routes = _named_routes()
    assert READ_ONLY <= set(routes) and set(OWNER_ONLY) <= set(routes), "a listed route no longer exists"
    before = _state()
    for name in READ_ONLY:
        for url in routes[name]:
            client.post(url, VIEWER_FORM)
    assert not _diff(before, _state())


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Membership.Role.STAFF, Membership.Role.VIEWER])
def test_staff_and_viewers_are_refused_the_owner_only_routes(org_roles, role) -> None:  # type: ignore[no-untyped-def]
    from accounts.models import ImporterGrant

    GrantFactory(importer=ImporterFactory(owner=org_roles["org"]), organization=BrokerFactory())
    client = Client()
    client.force_login(org_roles["users"][role])
    routes = _urls_by_name("blue-heron")
    routes["grant_revoke"] = [f"/accounts/grants/{g.pk}/revoke/" for g in ImporterGrant.objects.all()]
    before = _state()
    for name, methods in OWNER_ONLY.items():
        for url in routes[name]:
            for method in methods:
                data = {"confirmation": org_roles["org"].name}
                response = client.post(url, data) if method == "post" else client.get(url)
                assert response.status_code in {403, 404}, f"{role} {method.upper()} {url} -> {response.status_code}"
    assert not _diff(before, _state())
    # The same routes do answer the owner (the list is real).
    owner = Client()
    owner.force_login(org_roles["users"][Membership.Role.OWNER])
    assert owner.get(routes["organization_data"][0]).status_code == 200
    assert owner.post(routes["organization_export"][0]).status_code == 200


# ---------------------------------------------------------------- audit: every state change an owner makes is logged
def _csv(name: str, text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def _audit_table(s: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(label, url, payload): a valid POST for each state-changing route, built against the seeded rows."""
    imp, entry = s["importer"], s["entry"]
    rejection = AchRejection.objects.get(importer=imp)
    AchRejection.objects.filter(pk=rejection.pk).update(re_enrolled_on=date(2026, 1, 2))  # CBP asks for the email once re-enrolled
    submitted = Declaration.objects.create(organization=s["org"], importer=imp, name="filed", entry_count=1,
                                           status=Declaration.Status.SUBMITTED, submitted_on=date(2026, 1, 3))
    draft = Declaration.objects.create(organization=s["org"], importer=imp, name="draft", entry_count=1)
    DeclarationEntry.objects.create(declaration=draft, entry=entry, position=1)
    membership = Membership.objects.get(user=s["owner"], organization=s["org"])
    ach = f"/ach/importers/{imp.pk}"
    # An importer organisation edits the 5106 of its own importer only (a new IR number goes through the account
    # application); a broker adds new clients.
    ir_5106, ir_csv = ("93-417726100", "93-417726100") if s["kind"] == "importer" else ("21-765432200", "21-765432300")
    return [
        ("importer_new", "/accounts/importers/new/", {"ir_number": "21-765432100", "name": "Newly Added Co"}),
        ("entry_detail", f"/entries/{entry.pk}/", {"type09_filed": "on", "drawback": "on", "protest_status": "none",
                                                   "importer_is_corporate": "true"}),
        ("onboarding_5106_new", "/onboarding/5106/new/", {"ir_number": ir_5106, "company_name": "Fresh Co",
                                                          "poc_email": "poc@fresh.example", "address": "1 Way"}),
        ("onboarding_5106_import", "/onboarding/5106/import/", {"file": _csv("5106.csv", f"IR Number,Company Name,POC Email,Address,Date Last Updated\r\n{ir_csv},Imported Co,poc@imported.example,1 Road,01/02/2026\r\n")}),
        ("onboarding_readiness_detail", f"/onboarding/readiness/{imp.pk}/", {"ace_account": "applied", "sub_account": "requested",
                                                                             "tao_name": "New Tao", "tao_email": "tao2@example.com"}),
        ("ach_enrollment_save", f"{ach}/bank/", {"bank_name": "Other Bank", "routing_number": "011000015",
                                                 "account_number": "000111222333", "account_number_confirm": "000111222333",
                                                 "account_type": "savings", "account_holder": "Blue Heron Housewares Inc"}),
        ("ach_entered", f"{ach}/entered/", {"entered_on": "2026-01-05", "entered_by": "The TAO"}),
        ("ach_special_cases", f"{ach}/special-cases/", {"foreign_no_us_bank": "on", "ace_account": "active",
                                                        "paper_check_waiver": "requested"}),
        ("ach_notify_party", f"{ach}/notify-party/", {"name": "Other Party", "ir_number": "77-123456800", "on_ace_profile": "on"}),
        ("ach_rejection_new", f"{ach}/rejections/", {"amount": "12.50", "rejected_on": "2026-01-05", "reason": "closed"}),
        ("ach_support_emailed", f"{ach}/rejections/emailed/", {"emailed_on": "2026-01-06"}),
        ("ach_rejection_resolve", f"/ach/rejections/{rejection.pk}/resolve/", {"resolved_on": "2026-02-20"}),
        ("cape_declaration_discard", f"/cape/declarations/{draft.pk}/discard/", {}),
        ("cape_declaration_outcome", f"/cape/declarations/{submitted.pk}/outcome/", {"status": "failed_validation", "error_text": "bad file"}),
        ("my_settings", "/accounts/settings/", {"membership": membership.pk, f"m{membership.pk}-email_digest": ""}),
        ("api_token", "/organization/api-token/", {"action": "create", "expires_in": "90"}),
        ("api importers", "/api/importers/", {"ir_number": "21-765432400", "name": "Api Co"}),
    ]


AUDIT_ROUTES = [
    "importer_new", "entry_detail", "onboarding_5106_new", "onboarding_5106_import", "onboarding_readiness_detail",
    "ach_enrollment_save", "ach_entered", "ach_special_cases", "ach_notify_party", "ach_rejection_new", "ach_support_emailed",
    "ach_rejection_resolve", "cape_declaration_discard", "cape_declaration_outcome", "my_settings", "api_token", "api importers",
]


@pytest.mark.django_db
@pytest.mark.parametrize("label", AUDIT_ROUTES)
def test_every_state_change_an_owner_makes_writes_the_audit_log(org_roles, label) -> None:  # type: ignore[no-untyped-def]
    # An importer organisation adds no importer by these routes (ownership comes from the account application's
    # code: tests/security/test_importer_takeover.py): its POST is refused and changes nothing.
    refused = org_roles["kind"] == "importer" and label in {"importer_new", "api importers"}
    owner = org_roles["users"][Membership.Role.OWNER]
    seeded = {**org_roles, "importer": Importer.objects.get(ir_number="93-417726100"), "owner": owner}
    (_, url, payload), = [row for row in _audit_table(seeded) if row[0] == label]
    client = Client()
    client.force_login(owner)
    before, audit_before = _state(), AuditLog.objects.count()
    if url.startswith("/api/"):
        response = client.post(url, json.dumps(payload), content_type="application/json",
                               HTTP_X_ORGANIZATION=org_roles["org"].slug)
    else:
        response = client.post(url, payload)
    changed = _diff(before, _state())
    if refused:
        assert not changed and not Importer.objects.filter(ir_number__in=["21-765432100", "21-765432400"]).exists(), changed[:5]
        return
    assert changed, f"{label}: the payload changed nothing ({response.status_code}); fix the table"
    new_audit = list(AuditLog.objects.order_by("-pk")[: AuditLog.objects.count() - audit_before])
    assert new_audit, f"POST {url} changed {changed[:5]} but wrote no audit log row"
    assert all(row.user_id == owner.pk for row in new_audit), [(r.action, r.user_id) for r in new_audit]


# ---------------------------------------------------------------- shared entries (issue 18)
def _classified_ids(client: Client, **query: Any) -> list[int]:
    """The entries list page's rows (entry ids) for a query."""
    response = client.get("/entries/", query)
    assert response.status_code == 200
    return [c.entry_id for c in response.context["page"].rows]


@pytest.mark.django_db(transaction=True)
def test_after_grant_revoke_the_broker_sees_none_of_the_importers_entries_even_those_it_loaded(  # type: ignore[no-untyped-def]
        tenant, alice, bob, broker_org, tmp_path) -> None:
    """The entries are the importer of record's: revoking the broker's grant takes every one of them from the broker
    at once, pages and API, including the entries the broker's own upload brought in; the importer keeps them all."""
    from accounts.services import grant_revoke
    from entries.ingest.cli import ingest_files
    from entries.models import Entry
    from entries.samplegen import Text, write_csv
    from tests.entries.conftest import entry_rows
    from tests.factories import api_key_for

    importer = tenant["importer"]
    rows = entry_rows("HCB00000016", **{"Importer Number": Text(importer.ir_number), "Importer Name": importer.name})
    result = ingest_files(organization=broker_org, paths=[write_csv(tmp_path / "harbor.csv", rows)], user=bob)
    assert result.uploads[0].status == "done", result.uploads[0].error_message
    loaded = Entry.objects.get(entry_number="HCB00000016")
    ids = {tenant["entry"].pk, loaded.pk}
    broker, owner = Client(), Client()
    broker.force_login(bob)
    owner.force_login(alice)
    token = Client(HTTP_AUTHORIZATION=f"Token {api_key_for(bob)}", HTTP_X_ORGANIZATION="harbor")

    def api_ids(**query: Any) -> set[int]:
        response = token.get("/api/entries/", query)
        return {e["id"] for e in response.json()["results"]} if response.status_code == 200 else set()

    # With the grant: the broker sees both entries, by page and by API.
    assert set(_classified_ids(broker, importer=importer.pk)) == ids == api_ids(importer=importer.pk)
    assert all(broker.get(f"/entries/{pk}/").status_code == 200 and token.get(f"/api/entries/{pk}/").status_code == 200
               for pk in ids)
    grant_revoke(grant=ImporterGrant.objects.get(importer=importer, organization=broker_org), user=alice)
    for pk in ids:
        assert broker.get(f"/entries/{pk}/").status_code == 404, pk
        assert token.get(f"/api/entries/{pk}/").status_code == 404, pk
    assert _classified_ids(broker) == [] and _classified_ids(broker, q="HCB00000016") == []
    assert api_ids() == set() and token.get("/api/entries/", {"importer": importer.pk}).status_code == 400
    assert sum(p["count"] for p in token.get("/api/classifications/").json()["paths"]) == 0
    assert "Blue Heron" not in broker.get("/dashboard/").content.decode()
    # The data stays with the importer of record.
    assert set(_classified_ids(owner)) == ids and Entry.objects.filter(pk__in=ids).count() == 2


def _fact_history(client: Client, entry_pk: int) -> list[list[str]]:
    """The entry page's "Facts set by people" table: [when, what, from, to, who] per row."""
    import re
    from html import unescape

    html = client.get(f"/entries/{entry_pk}/").content.decode()
    table = re.search(r'data-testid="fact-history">(.*?)</table>', html, re.S)
    if table is None:
        return []
    body = table.group(1).split("<tbody>", 1)[1]
    return [[unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


@pytest.mark.django_db
def test_entry_facts_one_organisation_sets_are_the_others_and_say_who_set_them(  # type: ignore[no-untyped-def]
        tenant, alice, bob, charlie, importer_org, broker_org) -> None:
    from entries.models import Entry
    from tests.factories import api_key_for

    entry = tenant["entry"]
    broker, owner, outsider = Client(), Client(), Client()
    broker.force_login(bob)
    owner.force_login(alice)
    outsider.force_login(charlie)
    # Harbor's staff sets drawback on the entry page; Blue Heron sees the fact and who set it, in which organisation.
    corporate = "true" if entry.importer.is_corporate else "false"  # the importer's own fact: unchanged
    response = broker.post(f"/entries/{entry.pk}/", {"drawback": "on", "protest_status": "none",
                                                     "importer_is_corporate": corporate})
    assert response.status_code == 302, response.status_code
    assert Entry.objects.get(pk=entry.pk).drawback
    bob_name = f"{bob.get_full_name() or bob.username} ({broker_org.name})"
    seen_by_owner = _fact_history(owner, entry.pk)
    assert [r[1:] for r in seen_by_owner] == [["drawback", "no", "yes", bob_name]], seen_by_owner
    # Blue Heron sets type 09 through the API's facts file; Harbor sees it, attributed to Blue Heron.
    token = Client(HTTP_AUTHORIZATION=f"Token {api_key_for(alice)}", HTTP_X_ORGANIZATION=importer_org.slug)
    facts = SimpleUploadedFile("facts.csv", f"Entry Number,Type 09 Filed\r\n{entry.entry_number},Y\r\n".encode(),
                               content_type="text/csv")
    response = token.post("/api/entry-facts/", {"file": facts})
    assert response.status_code == 200 and response.json()["rows_applied"] == 1, response.content
    alice_name = f"{alice.get_full_name() or alice.username} ({importer_org.name}), facts file"
    seen_by_broker = _fact_history(broker, entry.pk)
    assert [r[1:] for r in seen_by_broker] == [["type09 filed", "no", "yes", alice_name],
                                               ["drawback", "no", "yes", bob_name]], seen_by_broker
    assert _fact_history(owner, entry.pk) == seen_by_broker  # one entry, one history
    # An organisation that does not serve the importer sees neither the entry nor its history, and cannot set facts.
    assert outsider.get(f"/entries/{entry.pk}/").status_code == 404
    assert outsider.post(f"/entries/{entry.pk}/", {"protest_status": "open", "importer_is_corporate": corporate}).status_code == 404
    refused = Client(HTTP_AUTHORIZATION=f"Token {api_key_for(charlie)}", HTTP_X_ORGANIZATION="outsider").post(
        "/api/entry-facts/", {"file": SimpleUploadedFile("f.csv", f"Entry Number,Drawback\r\n{entry.entry_number},N\r\n".encode())})
    assert refused.status_code in (200, 400) and (refused.status_code == 400 or refused.json()["rows_applied"] == 0)
    entry.refresh_from_db()
    assert entry.drawback and entry.type09_filed and entry.protest_status == "none"
