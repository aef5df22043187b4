"""Every URL pattern and API route, requested by outsiders, returns none of a tenant's data and changes nothing.

The routes are enumerated from the URLconf, so a new route is covered without anyone listing it; a named
pattern the harness cannot build a URL for fails the harness (it would otherwise be silently untested).
Integer URL arguments are filled with the primary keys of the victim's own objects, so a route that fetches
by id without scoping to the acting organisation leaks and fails here. Every tenant-owned model is seeded
for the victim with a marker string of its own; the outsiders are a logged-out visitor and the owner of
another organisation, by session, by session naming the victim in X-Organization, and by API token naming
the victim in X-Organization. Each is sent GET, POST, PUT, PATCH and DELETE.
"""

from __future__ import annotations

import itertools
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from tests.factories import EntryFactory, TariffLineFactory, api_key_for

# The victim's markers: each seeded row carries one, so a leak names the model it came from.
SEEDED_MARKERS = {
    "Organization": "Blue Heron",
    "Importer": "93-417726100",
    "Entry": "BHX0000001",
    "Entry.filer_name": "MkFilerQ7",
    "TariffLine": "9903019988",
    "Upload": "MkUploadQ7",
    "Upload.error": "MkUpErrQ7",
    "Classification": "MkRuleQ7",
    "ClassificationChange": "MkChgQ7",
    "Declaration": "MkDeclQ7",
    "Declaration.claim": "MkClaimQ7",
    "DeclarationEntry": "MkDeErrQ7",
    "RefundEvent": "MkRefundQ7",
    "AchEnrollment": "MkBankQ7",
    "AchEnrollment.holder": "MkHolderQ7",
    "AchEnrollment.account": "000987654321",
    "NotifyParty": "MkNotifyQ7",
    "AchRejection": "MkRejectQ7",
    "AchRejection.rev613": "MkRev613Q7",
    "Form5106Record": "Mk5106CoQ7",
    "Form5106Record.email": "mkpocq7@blueheron.example",
    "ReadinessState": "MkTaoQ7",
    "AccountApplication": "MkAppCoQ7",
    "AuditLog": "MkAuditQ7",
    "User.email": "mkaliceq7@blueheron.example",
    "Protest": "MkProtestQ7",
    "ProtestReason": "MkReasonQ7",
}
MARKERS = ["Blue Heron", "93-417726100", "417726100", "BHX0000001", *SEEDED_MARKERS.values()]
METHODS = ("get", "post", "put", "patch", "delete")
TENANT_APPS = {"accounts", "entries", "cape", "ach", "protests"}
APP_LABELS = ["accounts", "entries", "cape", "ach", "protests", "auth"]


def _walk(patterns: list[Any], namespace: str | None = None) -> list[tuple[str, list[str], dict[str, Any]]]:
    found = []
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = p.namespace if p.namespace else namespace
            full = f"{namespace}:{ns}" if namespace and p.namespace and namespace != p.namespace else ns
            found += _walk(p.url_patterns, full)
        elif isinstance(p, URLPattern) and p.name:
            regex = p.pattern.regex
            converters = getattr(p.pattern, "converters", {})
            found.append((f"{namespace}:{p.name}" if namespace else p.name, list(regex.groupindex), converters))
    return found


def _tenant_pks() -> list[int]:
    """Primary keys of the tenant-owned rows (at most 20 per model)."""
    pks: set[int] = set()
    for model in apps.get_models():
        if model._meta.app_label in TENANT_APPS:
            pks.update(model.objects.values_list("pk", flat=True)[:20])
    return sorted(pks) or [1]


def _choices(arg: str, converter: Any, pks: list[int], victim_slug: str) -> list[str]:
    conv_name = type(converter).__name__ if converter else ""
    if arg == "format":
        return ["json"]
    if "Int" in conv_name or arg in {"pk", "id"} or arg.endswith("_id") or arg.endswith("_pk"):
        return [str(pk) for pk in pks]
    if "UUID" in conv_name:
        return ["00000000-0000-0000-0000-000000000001"]
    if arg == "app_label":
        return APP_LABELS
    return [victim_slug, "1"]


def _urls_by_name(victim_slug: str) -> dict[str, list[str]]:
    """Every named pattern → the URLs built for it. Fails if a pattern yields none."""
    pks = _tenant_pks()
    out: dict[str, list[str]] = {}
    for name, args, converters in _walk(get_resolver().url_patterns):
        urls: list[str] = []
        choices = [_choices(arg, converters.get(arg), pks, victim_slug) for arg in args]
        for combo in itertools.product(*choices):
            try:
                urls.append(reverse(name, kwargs=dict(zip(args, combo, strict=True))) if args else reverse(name))
            except Exception:  # noqa: BLE001 - a combination the pattern refuses (checked below: at least one fits)
                continue
            if name.startswith("admin:"):
                break  # the whole admin sits behind is_staff: one URL per admin pattern is enough
        out[name] = sorted(set(urls))
    missing = sorted(n for n, u in out.items() if not u)
    assert not missing, f"the harness could not build a URL for these named patterns: {missing}"
    return out


def _urls(victim_slug: str) -> list[str]:
    return sorted({u for urls in _urls_by_name(victim_slug).values() for u in urls})


@pytest.fixture
def victim(alice, broker_org, bob) -> Any:  # type: ignore[no-untyped-def]
    """The importer organisation Blue Heron with one row of every tenant-owned model, each carrying a marker."""
    from accounts.models import Importer

    importer = Importer.objects.get(ir_number="93-417726100")
    seed_tenant(organization=importer.owner, importer=importer, user=alice)
    return importer


def seed_tenant(*, organization: Any, importer: Any, user: Any, entry_number: str = "BHX00000010") -> dict[str, Any]:
    """One row of every tenant-owned model for ``organization`` (holding ``importer``'s data), with the markers."""
    from accounts.models import AccountApplication, ApiToken, AuditLog, Form5106Record, ReadinessState, VerificationCode
    from ach.crypto import encrypt
    from ach.models import AchEnrollment, AchRejection, NotifyParty
    from cape.models import Classification, ClassificationChange, Declaration, DeclarationEntry, Path, RefundEvent
    from entries.models import Upload

    m = SEEDED_MARKERS
    org, alice = organization, user
    alice.email = m["User.email"]
    alice.save()
    if not ApiToken.objects.filter(user=alice).exists():
        api_key_for(alice)
    upload = Upload.objects.create(
        organization=org, uploaded_by=alice, file="uploads/2026/01/x.csv", original_name=f"{m['Upload']}.csv", size=10,
        status=Upload.Status.DONE, rows_total=1, rows_read=1,
        errors=[{"file": f"{m['Upload']}.csv", "row": 2, "column": "HTS", "value": m["Upload.error"], "reason": "bad"}],
    )
    entry = EntryFactory(organization=org, importer=importer, entry_number=entry_number, filer_name=m["Entry.filer_name"],
                         last_upload=upload)
    TariffLineFactory(entry=entry, hts=m["TariffLine"])
    Classification.objects.create(entry=entry, importer=importer, ieepa_duty=entry.ieepa_duty,
                                  path=Path.CAPE_PHASE1, reasons=["unliquidated"], reasons_text="|unliquidated|",
                                  ruleset=m["Classification"], as_of=timezone.localdate(),
                                  deadline=timezone.localdate() + timedelta(days=20))
    ClassificationChange.objects.create(entry=entry, new_path=Path.CAPE_PHASE1, ruleset=m["ClassificationChange"],
                                        as_of=timezone.localdate())
    declaration = Declaration.objects.create(organization=org, importer=importer, name=f"{m['Declaration']} file",
                                             status=Declaration.Status.ACCEPTED_WITH_ERRORS, entry_count=1,
                                             ieepa_duty=entry.ieepa_duty, claim_number=m["Declaration.claim"],
                                             file_bytes=f"ENTRY_NUMBER\r\n{entry_number}\r\n".encode(), created_by=alice)
    DeclarationEntry.objects.create(declaration=declaration, entry=entry, position=1,
                                    outcome=DeclarationEntry.Outcome.REJECTED, error_text=m["DeclarationEntry"])
    RefundEvent.objects.create(organization=org, importer=importer, entry=entry, declaration=declaration,
                               kind=RefundEvent.Kind.TREASURY_ISSUED, event_date=date(2026, 3, 1),
                               amount=Decimal("1200.00"), reference=m["RefundEvent"])
    AchEnrollment.objects.create(importer=importer, status=AchEnrollment.Status.ACTIVE, bank_name=f"{m['AchEnrollment']} Bank",
                                 routing_number="011000015", account_number_encrypted=encrypt(m["AchEnrollment.account"]),
                                 account_last4="4321", account_type="checking", account_holder=m["AchEnrollment.holder"])
    NotifyParty.objects.create(importer=importer, name=f"{m['NotifyParty']} Brokers", ir_number="77-123456700")
    AchRejection.objects.create(importer=importer, organization=org, amount=Decimal("55.00"), reason=m["AchRejection"],
                                source=AchRejection.Source.REV613, reference=m["AchRejection.rev613"],
                                entry_number=entry_number, rejected_on=date(2026, 2, 1))
    Form5106Record.objects.create(importer=importer, company_name=m["Form5106Record"], poc_email=m["Form5106Record.email"],
                                  address="1 Heron Way\nNewark, NJ 07102")
    ReadinessState.objects.create(importer=importer, ace_account="active", tao_name=m["ReadinessState"],
                                  tao_email="tao@blueheron.example")
    application = AccountApplication.objects.create(
        token=f"application-token-{org.pk}", status=AccountApplication.Status.SUBMITTED, company_name=m["AccountApplication"],
        ir_number="93-417726100", email="apply@blueheron.example", importer=importer, requester=alice, organization=org,
        expires_at=timezone.now() + timedelta(minutes=10), submitted_at=timezone.now(),
    )
    VerificationCode.objects.create(application=application, ir_key="k", ip_key="k", code_hash="h",
                                    expires_at=timezone.now() + timedelta(minutes=10))
    AuditLog.objects.create(user=alice, organization=org, action=f"test.{m['AuditLog']}", object_type="Entry",
                            object_id=str(entry.pk), detail={"note": m["AuditLog"]})
    from protests.models import Protest, ProtestEntry, ProtestReason

    protest = Protest.objects.create(organization=org, importer=importer, reason_text=f"{m['Protest']} reason",
                                     entry_count=1, created_by=alice)
    ProtestEntry.objects.create(protest=protest, entry=entry, position=1, lead=True)
    ProtestReason.objects.create(organization=org, text=f"{m['ProtestReason']} text")
    return {"entry": entry, "upload": upload, "declaration": declaration, "protest": protest}


@pytest.fixture
def outsider(charlie) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Charlie (owner of another organisation) as a session and as an API token client."""
    session = Client()
    session.force_login(charlie)
    return {"user": charlie, "session": session, "token": Client(HTTP_AUTHORIZATION=f"Token {api_key_for(charlie)}")}


# ---------------------------------------------------------------- what must not change
def _snapshot() -> dict[str, dict[Any, tuple[Any, ...]]]:
    """Every row of every app table (and users, tokens), by primary key."""
    snap = {}
    for model in [*(m for m in apps.get_models() if m._meta.app_label in TENANT_APPS), get_user_model()]:
        fields = [f.attname for f in model._meta.concrete_fields]
        snap[model._meta.label] = {row[0]: row for row in model._default_manager.order_by().values_list("pk", *fields)}
    return snap


def _victim_keys(victim: Any) -> dict[str, set[Any]]:
    """The victim's objects as (model label → primary keys), the targets new rows must never point at."""
    from accounts.models import Membership

    org = victim.owner
    keys: dict[str, set[Any]] = {"accounts.Organization": {org.pk}, "accounts.Importer": {victim.pk}}
    keys[get_user_model()._meta.label] = set(Membership.objects.filter(organization=org).values_list("user_id", flat=True))
    for model in apps.get_models():
        if model._meta.app_label not in TENANT_APPS:
            continue
        names = {f.name for f in model._meta.concrete_fields}
        if "organization" in names:
            keys.setdefault(model._meta.label, set()).update(model.objects.filter(organization=org).values_list("pk", flat=True))
        elif "importer" in names:
            keys.setdefault(model._meta.label, set()).update(model.objects.filter(importer=victim).values_list("pk", flat=True))
    return keys


def _assert_nothing_changed(before: dict[str, dict[Any, tuple[Any, ...]]], victim_keys: dict[str, set[Any]],
                            outsider_user: Any) -> None:
    from accounts.models import ApiToken

    after = _snapshot()
    is_user = isinstance(outsider_user, get_user_model())
    own_tokens = set(ApiToken.objects.filter(user=outsider_user).values_list("pk", flat=True)) if is_user else set()
    for label, rows in before.items():
        for pk, row in rows.items():
            if label == get_user_model()._meta.label and pk == outsider_user.pk:
                continue  # the outsider's own last_login
            if label == "accounts.ApiToken" and pk in own_tokens:
                continue  # the outsider's own token: its last use
            assert after[label].get(pk) == row, f"{label} #{pk} changed or vanished: {row} -> {after[label].get(pk)}"
    for label, rows in after.items():
        model = apps.get_model(label)
        fks = [(i + 1, f) for i, f in enumerate(model._meta.concrete_fields) if isinstance(f, models.ForeignKey)]
        for pk in rows.keys() - before[label].keys():
            for index, fk in fks:
                target = fk.related_model._meta.label
                assert rows[pk][index] not in victim_keys.get(target, set()), (
                    f"a new {label} #{pk} points at the victim's {target} #{rows[pk][index]}"
                )


# ---------------------------------------------------------------- requests
def _body(response: Any) -> str:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return body.decode("utf-8", errors="replace")


def _assert_no_tenant_data(client: Client, url: str, method: str, **extra: Any) -> None:
    if method in {"get", "post"}:
        response = getattr(client, method)(url, follow=False, **extra)
    else:
        response = getattr(client, method)(url, data="{}", content_type="application/json", follow=False, **extra)
    text = _body(response)
    for marker in MARKERS:
        assert marker not in text, f"{method.upper()} {url} -> {response.status_code} leaked {marker!r}"
    assert response.status_code < 500, f"{method.upper()} {url} -> {response.status_code}"


def _stay_logged_in(client: Client, user: Any) -> None:
    """POST /accounts/logout/ (or a session flush) logs the client out: log it back in, or every later request
    of the harness would run logged out and prove nothing."""
    if str(client.session.get("_auth_user_id")) != str(user.pk):
        client.force_login(user)


def _api(urls: list[str]) -> list[str]:
    return [u for u in urls if u.startswith("/api/")]


@pytest.mark.django_db
def test_every_named_pattern_is_requested(victim) -> None:  # type: ignore[no-untyped-def]
    by_name = _urls_by_name("blue-heron")
    assert {"entry_detail", "cape_declaration", "ach_importer", "api_docs", "entry-detail", "declaration-claim-details"} <= set(by_name)
    # Detail routes are tried with the victim's own keys.
    assert f"/entries/{victim.entries.get().pk}/" in by_name["entry_detail"]
    assert f"/api/importers/{victim.pk}/" in by_name["importer-detail"]


@pytest.mark.django_db
def test_every_route_reveals_nothing_when_logged_out(victim, client) -> None:  # type: ignore[no-untyped-def]
    urls = _urls("blue-heron")
    assert len(urls) > 10
    before, keys = _snapshot(), _victim_keys(victim)
    for url in urls:
        for method in METHODS:
            _assert_no_tenant_data(client, url, method)
        if url.startswith("/api/"):
            _assert_no_tenant_data(client, url, "get", HTTP_X_ORGANIZATION="blue-heron")
    _assert_nothing_changed(before, keys, outsider_user=victim.owner)


@pytest.mark.django_db
def test_every_route_reveals_nothing_to_another_organisation(victim, outsider) -> None:  # type: ignore[no-untyped-def]
    urls = _urls("blue-heron")
    before, keys = _snapshot(), _victim_keys(victim)
    session, token = outsider["session"], outsider["token"]
    user = outsider["user"]
    for url in urls:
        for method in METHODS:
            _assert_no_tenant_data(session, url, method)
            _stay_logged_in(session, user)
    # The API also picks the organisation from X-Organization: naming the victim's slug must not get its data,
    # by session or by token.
    for url in _api(urls):
        for method in METHODS:
            _assert_no_tenant_data(session, url, method, HTTP_X_ORGANIZATION="blue-heron")
            _stay_logged_in(session, user)
            _assert_no_tenant_data(token, url, method, HTTP_X_ORGANIZATION="blue-heron")
    # A JSON body naming the victim's objects changes nothing either.
    body = json.dumps({"importer": victim.pk, "importers": [victim.pk], "entry_numbers": ["BHX00000010"], "name": "x"})
    for url in _api(urls):
        response = token.post(url, data=body, content_type="application/json", HTTP_X_ORGANIZATION="blue-heron")
        assert not any(marker in _body(response) for marker in MARKERS), url
    _assert_nothing_changed(before, keys, outsider_user=outsider["user"])


@pytest.mark.django_db
def test_the_harness_would_catch_a_leak(victim, alice, client) -> None:  # type: ignore[no-untyped-def]
    """The same routes as the owner do show the data: the markers are real, and most of them are on some page."""
    client.force_login(alice)
    token = Client(HTTP_AUTHORIZATION=f"Token {api_key_for(alice)}", HTTP_X_ORGANIZATION="blue-heron")
    urls = [u for u in _urls("blue-heron") if "admin" not in u]
    seen = ""
    for url in urls:
        seen += _body(client.get(url))
        _stay_logged_in(client, alice)
    seen += "".join(_body(token.get(url)) for url in _api(urls))
    shown = {name for name, marker in SEEDED_MARKERS.items() if marker in seen}
    # The full bank account number is never shown, even to the owner.
    assert "AchEnrollment.account" not in shown
    # Rows no page of the owner prints a marker of (they are still requested and searched for above).
    not_printed = {"AchEnrollment.account", "AccountApplication", "RefundEvent"}
    missing = set(SEEDED_MARKERS) - shown
    assert missing <= not_printed, f"markers no page shows even to the owner (check the seed): {sorted(missing - not_printed)}"


# ---------------------------------------------------------------- shared entries (issue 18)
# One entry per entry number, the importer of record's, seen by every organisation that owns or is granted the
# importer (accounts.selectors.importers_for) and by no other: not a broker whose grant was revoked, not an
# organisation that uploads the same entry number for an importer of its own.
def _gull(victim: Any) -> dict[str, Any]:
    """Gull Brokers: once granted Blue Heron (revoked), with a client and an entry of its own."""
    from accounts.models import ImporterGrant, Membership
    from tests.factories import BrokerFactory, GrantFactory, ImporterFactory, MembershipFactory

    gull = BrokerFactory(name="Gull Brokers", slug="gull")
    user = MembershipFactory(organization=gull, role=Membership.Role.STAFF, user__username="gull-staff").user
    ImporterGrant.objects.create(importer=victim, organization=gull, revoked_at=timezone.now())
    client = ImporterFactory(ir_number="41-220945100", name="Kestrel Outdoor Gear Inc", owner=None, created_by=gull)
    GrantFactory(importer=client, organization=gull)
    from tests.cape.factories import ClassificationFactory

    entry = EntryFactory(importer=client, organization=gull)
    ClassificationFactory(entry=entry)  # the lists show classified entries
    return {"org": gull, "user": user, "importer": client, "entry": entry}


def _as(user: Any, slug: str) -> tuple[Client, Client]:
    session = Client()
    session.force_login(user)
    return session, Client(HTTP_AUTHORIZATION=f"Token {api_key_for(user)}", HTTP_X_ORGANIZATION=slug)


@pytest.mark.django_db
def test_shared_entries_an_organisation_never_sees_an_importer_it_neither_owns_nor_is_granted(victim, bob, outsider) -> None:  # type: ignore[no-untyped-def]
    entry = victim.entries.get()
    gull = _gull(victim)
    # The broker Blue Heron granted sees the importer's entry: the refusals below are about scope, not a dead route.
    session, token = _as(bob, "harbor")
    assert session.get(f"/entries/{entry.pk}/").status_code == 200
    assert token.get(f"/api/entries/{entry.pk}/").json()["entry_number"] == entry.entry_number
    assert entry.pk in {e["id"] for e in token.get("/api/entries/", {"page_size": 500}).json()["results"]}
    for user, slug, own in ((gull["user"], "gull", gull["entry"]), (outsider["user"], "outsider", None)):
        session, token = _as(user, slug)
        assert session.get(f"/entries/{entry.pk}/").status_code == 404, slug
        assert token.get(f"/api/entries/{entry.pk}/").status_code == 404, slug
        listed = {e["id"] for e in token.get("/api/entries/", {"page_size": 500}).json()["results"]}
        assert entry.pk not in listed and (own is None or own.pk in listed), (slug, listed)
        assert token.get("/api/entries/", {"importer": victim.pk}).status_code == 400, slug
        for query in ({"q": entry.entry_number}, {"importer": victim.pk}, {"q": "93-417726100"}):
            response = session.get("/entries/", query)
            assert response.status_code == 200 and entry.pk not in [c.entry_id for c in response.context["page"].rows], (slug, query)
        totals = token.get("/api/classifications/", {"importer": victim.pk})
        assert totals.status_code == 400, (slug, totals.status_code)
        everything = token.get("/api/classifications/").json()["paths"]
        assert sum(p["count"] for p in everything) == (1 if own is not None else 0), (slug, everything)


@pytest.mark.django_db
def test_shared_entries_uploading_an_entry_number_of_an_unseen_importer_takes_nothing(victim, outsider, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """An entry summary exists once, for one importer of record: another organisation's ES-003 naming the same entry
    number (for an importer of its own, or for the victim's IR number it does not serve) neither moves, changes nor
    reveals the entry."""
    from accounts.models import Importer
    from entries.ingest.cli import ingest_files
    from entries.models import Entry, TariffLine
    from entries.samplegen import Text, write_csv
    from tests.entries.conftest import entry_rows

    entry = victim.entries.get()
    before = (Entry.objects.filter(pk=entry.pk).values().get(), sorted(TariffLine.objects.filter(entry=entry).values_list("pk", "hts")))
    gull = _gull(victim)
    charlie_org = outsider["user"].memberships.get().organization
    attempts = [
        (charlie_org, outsider["user"], Importer.objects.get(owner=charlie_org)),  # its own importer, the victim's number
        (gull["org"], gull["user"], gull["importer"]),
        (gull["org"], gull["user"], victim),  # the victim's IR number, which Gull no longer serves
    ]
    for n, (org, user, importer) in enumerate(attempts):
        rows = entry_rows(entry.entry_number, ieepa_duty="999.00", **{
            "Importer Number": Text(importer.ir_number), "Importer Name": "MkTakeover", "Filer Name": "MkTakeover"})
        path = write_csv(tmp_path / f"takeover-{n}.csv", rows)
        result = ingest_files(organization=org, paths=[path], user=user)
        upload = result.uploads[0] if result.uploads else None
        assert upload is not None and upload.summary["entries_in_file"] == 0, (n, upload.summary if upload else result.fatal_errors)
        if importer == victim:
            assert upload.summary["rows_rejected"] == 2, upload.summary  # not Gull's importer to load any more
        else:
            assert upload.summary["refused_entries"] == [entry.entry_number], upload.summary  # another IOR's entry
        # What the uploader is told echoes what it typed (the entry and IR numbers), nothing of the victim's.
        text = json.dumps([result.fatal_errors, upload.summary, upload.error_message, upload.errors], default=str)
        for marker in MARKERS:
            assert marker not in text.replace(entry.entry_number, "").replace(importer.ir_number, ""), \
                f"attempt {n} leaked {marker!r}: {text}"
        assert entry.pk not in set(result.entry_ids or []), n
        session, token = _as(user, org.slug)
        assert session.get(f"/entries/{entry.pk}/").status_code == 404 and token.get(f"/api/entries/{entry.pk}/").status_code == 404
    after = (Entry.objects.filter(pk=entry.pk).values().get(), sorted(TariffLine.objects.filter(entry=entry).values_list("pk", "hts")))
    assert after == before
    assert Entry.objects.filter(entry_number=entry.entry_number).count() == 1
