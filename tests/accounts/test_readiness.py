"""The readiness checklist per importer, and the broker's table of every client."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from accounts.models import AuditLog, ReadinessState
from ach.models import AchEnrollment, NotifyParty
from cape.models import Classification, Declaration, DeclarationEntry, Path
from entries.models import Upload
from portfolio.readiness import importer_readiness, readiness_for_organization, readiness_state_update
from tests.accounts.factories import Form5106RecordFactory
from tests.factories import EntryFactory, GrantFactory, ImporterFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=ZoneInfo("America/New_York"))


def steps(importer, **kw):  # type: ignore[no-untyped-def]
    return {s.key: s for s in importer_readiness(importer, **kw)}


def upload(org, finished_at):  # type: ignore[no-untyped-def]
    return Upload.objects.create(
        organization=org,
        file="uploads/x.csv",
        original_name="es003.csv",
        status=Upload.Status.DONE,
        finished_at=finished_at,
    )


def classify(entry, path):  # type: ignore[no-untyped-def]
    return Classification.objects.create(
        entry=entry,
        importer=entry.importer,
        path=path,
        ruleset="test",
        as_of=date(2026, 5, 4),
    )


def test_a_new_importer_has_everything_to_do_in_order(own_importer) -> None:  # type: ignore[no-untyped-def]
    result = importer_readiness(own_importer)
    assert [s.key for s in result] == [
        "poc_email",
        "ace_account",
        "sub_account",
        "tao",
        "ach",
        "notify_party",
        "es003",
        "cape_files",
        "importer_record",
    ]
    by_key = {s.key: s for s in result}
    assert by_key["poc_email"].state == "todo" and "5106" in by_key["poc_email"].next_step
    assert by_key["ace_account"].state == "todo" and "10 minutes" in by_key["ace_account"].next_step
    assert by_key["ach"].state == "todo" and by_key["ach"].contact["email"] == "frn-achrefundsupport@cbp.dhs.gov"
    assert by_key["notify_party"].state == "not_needed"
    assert by_key["es003"].state == "todo" and "Liquidation Date" in by_key["es003"].next_step
    assert by_key["cape_files"].state == "not_needed"
    assert by_key["importer_record"].state == "done"  # no entry, no 5106 address: nothing to warn about
    assert all(s.next_step for s in result if s.state != "done")


def test_the_poc_email_step_follows_the_5106_record(own_importer, bob) -> None:  # type: ignore[no-untyped-def]
    record = Form5106RecordFactory(importer=own_importer, poc_email="ops@blueheron.example")
    assert steps(own_importer)["poc_email"].state == "todo"
    record.poc_email_confirmed_on = date(2026, 4, 30)
    record.save()
    step = steps(own_importer)["poc_email"]
    assert step.state == "done" and step.changed_on == date(2026, 4, 30)
    bob.email = "bob@harborcb.example"
    bob.save()
    record.poc_email = "clients@harborcb.example"
    record.save()
    step = steps(own_importer)["poc_email"]
    assert step.state == "warning" and "Harbor" in step.status and "TF" in step.next_step
    record.poc_email = ""
    record.save()
    assert steps(own_importer)["poc_email"].state == "blocked"


@pytest.mark.parametrize(
    ("ace", "state", "contact_email"),
    [
        ("none", "todo", "ace.support@cbp.dhs.gov"),
        ("applied", "waiting", "ace.support@cbp.dhs.gov"),
        ("active", "done", None),
        ("inactive", "blocked", "CBP.Technology.Service.Desk@cbp.dhs.gov"),
        ("voided", "blocked", "BONDQUESTIONS@CBP.DHS.GOV"),
    ],
)
def test_the_ace_account_step_names_the_cbp_contact(own_importer, ace, state, contact_email) -> None:  # type: ignore[no-untyped-def]
    ReadinessState.objects.create(importer=own_importer, ace_account=ace, ace_account_changed_on=date(2026, 3, 2))
    step = steps(own_importer)["ace_account"]
    assert step.state == state and step.changed_on == date(2026, 3, 2)
    assert (step.contact or {}).get("email") == contact_email
    if contact_email:
        assert step.contact["source_text"].startswith("A1WWL")  # type: ignore[index]


def test_the_sub_account_step_points_to_the_letter_once_the_account_is_active(own_importer) -> None:  # type: ignore[no-untyped-def]
    ReadinessState.objects.create(importer=own_importer, ace_account="active")
    step = steps(own_importer)["sub_account"]
    assert step.state == "todo" and "ACE.Applications@cbp.dhs.gov" in step.next_step
    ReadinessState.objects.filter(importer=own_importer).update(sub_account="active")
    assert steps(own_importer)["sub_account"].state == "done"


@pytest.mark.parametrize(
    ("status", "state"),
    [("not_started", "todo"), ("entered", "waiting"), ("active", "done"), ("rejected", "blocked")],
)
def test_the_ach_step_reads_the_ach_enrollment(own_importer, status, state) -> None:  # type: ignore[no-untyped-def]
    AchEnrollment.objects.create(
        importer=own_importer,
        status=status,
        confirmed_on=date(2026, 4, 2),
        rejected_on=date(2026, 4, 3),
        entered_on=date(2026, 4, 1),
    )
    step = steps(own_importer)["ach"]
    assert step.state == state
    if status != "not_started":
        assert step.changed_on in {date(2026, 4, 1), date(2026, 4, 2), date(2026, 4, 3)}


def test_a_complete_4811_notify_party_receives_the_refund_instead(own_importer) -> None:  # type: ignore[no-untyped-def]
    notify = NotifyParty.objects.create(
        importer=own_importer,
        name="Harbor",
        ir_number="11-111111100",
        on_ace_profile=True,
        in_box_28=False,
        ach_enrolled=True,
    )
    by_key = steps(own_importer)
    assert by_key["notify_party"].state == "warning" and "box 28" in by_key["notify_party"].next_step
    assert by_key["ach"].state == "todo"
    notify.in_box_28 = True
    notify.save()
    by_key = steps(own_importer)
    assert by_key["notify_party"].state == "done" and by_key["ach"].state == "not_needed"


def test_the_es003_step_wants_liquidation_columns_within_seven_days(importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        entry = EntryFactory(
            organization=importer_org,
            importer=own_importer,
            has_liquidation_columns=False,
            last_upload=upload(importer_org, NOW - timedelta(days=1)),
        )
        step = steps(own_importer)["es003"]
        assert step.state == "todo" and "lacked the liquidation columns" in step.next_step
        entry.has_liquidation_columns = True
        entry.last_upload = upload(importer_org, NOW - timedelta(days=7))
        entry.save()
        assert steps(own_importer)["es003"].state == "done"
        entry.last_upload = upload(importer_org, NOW - timedelta(days=7, minutes=1))
        entry.save()
        step = steps(own_importer)["es003"]
        assert step.state == "warning" and step.changed_on == date(2026, 4, 27)


def test_the_cape_step_counts_cape_path_entries_without_a_file(importer_org, own_importer, alice) -> None:  # type: ignore[no-untyped-def]
    e1, e2, e3 = (EntryFactory(organization=importer_org, importer=own_importer) for _ in range(3))
    classify(e1, Path.CAPE_PHASE1)
    classify(e2, Path.CAPE_PHASE2)
    classify(e3, Path.PROTEST)
    step = steps(own_importer)["cape_files"]
    assert step.state == "todo" and step.status == "2 of 2 entries without a CAPE file"
    declaration = Declaration.objects.create(organization=importer_org, importer=own_importer, name="d1")
    DeclarationEntry.objects.create(declaration=declaration, entry=e1, position=1)
    rejected = Declaration.objects.create(
        organization=importer_org, importer=own_importer, name="d2", status=Declaration.Status.REJECTED
    )
    DeclarationEntry.objects.create(declaration=rejected, entry=e2, position=1)
    assert steps(own_importer)["cape_files"].status == "1 of 2 entries without a CAPE file"
    DeclarationEntry.objects.create(declaration=declaration, entry=e2, position=2)
    step = steps(own_importer)["cape_files"]
    assert step.state == "done" and step.changed_on is not None


def test_readiness_is_the_same_for_the_importer_and_its_broker(importer_org, own_importer, broker_org) -> None:  # type: ignore[no-untyped-def]
    # One entry per entry number (issue 18): an entry the broker loaded is the importer's entry too.
    entry = EntryFactory(organization=broker_org, importer=own_importer)
    classify(entry, Path.CAPE_PHASE1)
    assert steps(own_importer, organization=broker_org)["cape_files"].state == "todo"
    assert steps(own_importer, organization=importer_org)["cape_files"].state == "todo"
    assert steps(own_importer, organization=importer_org) == steps(own_importer, organization=broker_org)


def test_a_broker_sees_every_client_in_a_fixed_number_of_queries(broker_org, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    def add_clients(n: int) -> None:
        for _ in range(n):
            importer = ImporterFactory(owner=None)
            GrantFactory(importer=importer, organization=broker_org)
            Form5106RecordFactory(importer=importer)
            ReadinessState.objects.create(importer=importer, ace_account="active")
            AchEnrollment.objects.create(importer=importer, status="active")
            entry = EntryFactory(organization=broker_org, importer=importer)
            classify(entry, Path.CAPE_PHASE1)

    add_clients(2)
    with django_assert_max_num_queries(13) as small:  # 13: the latest entry date per importer (2026.12 warning)
        rows = readiness_for_organization(broker_org)
    add_clients(20)
    with django_assert_max_num_queries(len(small.captured_queries)):
        rows = readiness_for_organization(broker_org)
    assert len(rows) == 23  # 22 clients + Blue Heron
    assert all(r.step("ach").state == "done" for r in rows if r.importer.name != "Blue Heron Housewares Inc")


def test_state_changes_move_their_date_only_when_the_value_changes(own_importer, importer_org, alice) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        readiness_state_update(
            importer=own_importer, organization=importer_org, user=alice, ace_account="applied", tao_name="Alice Ng"
        )
    with time_machine.travel(NOW + timedelta(days=3), tick=False):
        readiness_state_update(
            importer=own_importer, organization=importer_org, user=alice, ace_account="active", tao_name="Alice Ng"
        )
    state = ReadinessState.objects.get(importer=own_importer)
    assert state.ace_account_changed_on == date(2026, 5, 7) and state.tao_changed_on == date(2026, 5, 4)
    logs = AuditLog.objects.filter(action="readiness.update").order_by("at")
    assert [log.detail["changes"] for log in logs] == [
        {"ace_account": ["none", "applied"], "tao_name": ["", "Alice Ng"]},
        {"ace_account": ["applied", "active"]},
    ]


def test_the_broker_table_and_the_checklist_pages(client, bob, alice, charlie, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    page = client.get(reverse("onboarding_readiness")).content.decode()
    assert "Blue Heron Housewares Inc" in page and "ACH refund enrollment" in page
    detail = client.get(reverse("onboarding_readiness_detail", args=[own_importer.pk])).content.decode()
    assert "frn-achrefundsupport@cbp.dhs.gov" in detail and "sub-account request letter" in detail
    response = client.post(
        reverse("onboarding_readiness_detail", args=[own_importer.pk]),
        {"ace_account": "voided", "sub_account": "none", "tao_name": "", "tao_email": ""},
        follow=True,
    )
    assert "BONDQUESTIONS@CBP.DHS.GOV" in response.content.decode()
    client.force_login(charlie)
    assert client.get(reverse("onboarding_readiness_detail", args=[own_importer.pk])).status_code == 404
    assert "Blue Heron" not in client.get(reverse("onboarding_readiness")).content.decode()


@pytest.mark.parametrize(("ace", "contact_key", "text"), [
    ("inactive", "technology_service_desk", "first call CBP to reactivate it"),
    ("voided", "bonds_team", "contact the CBP Bonds team to restore it first"),
])
def test_the_sub_account_step_says_to_restore_an_inactive_or_voided_account_first(own_importer, ace, contact_key, text) -> None:  # type: ignore[no-untyped-def]
    ReadinessState.objects.create(importer=own_importer, ace_account=ace)
    step = steps(own_importer)["sub_account"]
    assert step.state == "blocked" and text in step.next_step
    assert "Download the sub-account request letter" not in step.next_step
    assert step.contact["key"] == contact_key  # type: ignore[index]


def test_the_broker_table_has_50_importers_a_page(client, bob, broker_org) -> None:  # type: ignore[no-untyped-def]
    for n in range(54):  # plus Blue Heron: 55
        GrantFactory(importer=ImporterFactory(name=f"Client {n:03d}"), organization=broker_org)
    client.force_login(bob)
    first = client.get(reverse("onboarding_readiness"))
    rows = first.context["rows"]
    assert len(rows) == 50 and rows[0].importer.name == "Blue Heron Housewares Inc" and rows[-1].importer.name == "Client 048"
    html = first.content.decode()
    assert "55 importers" in html and "Page 1 of 2" in html and 'href="?page=2"' in html
    second = client.get(reverse("onboarding_readiness"), {"page": 2})
    assert [r.importer.name for r in second.context["rows"]] == [f"Client {n:03d}" for n in range(49, 54)]
    assert client.get(reverse("onboarding_readiness"), {"page": "99"}).context["page"].number == 2
