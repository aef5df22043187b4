"""Client work (issue #20): importers assigned to members of the organisation, with a "my clients" filter on
the portfolio and the entries page, and notes with a follow-up date per importer shown on the portfolio
(an overdue one stands out). Every change is audited; all of it is the acting organisation's own: the
importer's owner and any other organisation never see a broker's assignments or notes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AuditLog, ImporterAssignment, ImporterNote, Membership
from accounts.services import ServiceError, importer_assign, importer_note_add, importer_unassign
from cape.classify import today_eastern
from cape.models import Path
from tests.cape.factories import ClassificationFactory
from tests.factories import EntryFactory, GrantFactory, ImporterFactory, MembershipFactory, api_key_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def cedar(broker_org):  # type: ignore[no-untyped-def]
    importer = ImporterFactory(name="Cedar Lane Imports LLC", ir_number="27-418830200", owner=None)
    GrantFactory(importer=importer, organization=broker_org)
    return importer


@pytest.fixture
def olga(broker_org):  # type: ignore[no-untyped-def]
    """Owner of Bob's broker."""
    return MembershipFactory(organization=broker_org, role=Membership.Role.OWNER, user__username="olga").user


@pytest.fixture
def victor(broker_org):  # type: ignore[no-untyped-def]
    """A viewer at Bob's broker."""
    return MembershipFactory(organization=broker_org, role=Membership.Role.VIEWER, user__username="victor").user


def _entry(importer, org, duty: str):  # type: ignore[no-untyped-def]
    entry = EntryFactory(organization=org, importer=importer, ieepa_duty=Decimal(duty))
    ClassificationFactory(entry=entry, path=Path.CAPE_PHASE1, deadline=today_eastern() + timedelta(days=40))
    return entry


# ---------------------------------------------------------------- services
def test_staff_assign_an_importer_to_a_member_and_it_is_audited(broker_org, bob, olga, own_importer) -> None:  # type: ignore[no-untyped-def]
    importer_assign(organization=broker_org, importer=own_importer, member=bob, user=olga)
    importer_assign(organization=broker_org, importer=own_importer, member=bob, user=olga)  # twice: nothing new
    assert ImporterAssignment.objects.filter(organization=broker_org, importer=own_importer, member=bob).count() == 1
    rows = AuditLog.objects.filter(organization=broker_org, action="importer.assign")
    assert rows.count() == 1 and rows.get().detail["member"] == "bob" and rows.get().user == olga
    assert importer_unassign(organization=broker_org, importer=own_importer, member=bob, user=olga)
    assert not ImporterAssignment.objects.exists()
    assert AuditLog.objects.filter(organization=broker_org, action="importer.unassign").count() == 1


def test_only_owners_and_staff_of_the_organisation_are_assigned_its_own_importers(broker_org, bob, victor, charlie, own_importer) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ServiceError, match="owner or staff"):
        importer_assign(organization=broker_org, importer=own_importer, member=victor, user=bob)
    with pytest.raises(ServiceError, match="owner or staff"):
        importer_assign(organization=broker_org, importer=own_importer, member=charlie, user=bob)
    outsiders = charlie.memberships.get().organization.owned_importers.get()
    with pytest.raises(ServiceError, match="not one of this organisation's importers"):
        importer_assign(organization=broker_org, importer=outsiders, member=bob, user=bob)
    with pytest.raises(ServiceError, match="not one of this organisation's importers"):
        importer_note_add(organization=broker_org, importer=outsiders, text="hello", user=bob)
    assert not ImporterAssignment.objects.exists() and not ImporterNote.objects.exists()


def test_a_note_needs_words_and_is_audited(broker_org, bob, own_importer) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ServiceError, match="Write the note"):
        importer_note_add(organization=broker_org, importer=own_importer, text="  \x00 ", user=bob)
    due = today_eastern() + timedelta(days=3)
    note = importer_note_add(organization=broker_org, importer=own_importer, text="Call about the 5106", follow_up_on=due, user=bob)
    row = AuditLog.objects.get(action="importer.note_add")
    assert row.organization == broker_org and row.object_id == str(note.pk) and row.detail["follow_up_on"] == due.isoformat()


# ---------------------------------------------------------------- pages
def test_a_member_assigns_on_the_importer_page_and_sees_only_their_clients_with_my_clients(client, broker_org, bob, olga, own_importer, cedar) -> None:  # type: ignore[no-untyped-def]
    mine = _entry(own_importer, broker_org, "1500.00")
    theirs = _entry(cedar, broker_org, "2500.00")
    client.force_login(olga)
    response = client.post(reverse("importer_assign", args=[own_importer.pk]), {"member": bob.pk, "action": "assign"})
    assert response.status_code == 302
    assert ImporterAssignment.objects.filter(organization=broker_org, importer=own_importer, member=bob).exists()
    page = client.get(reverse("importer_detail", args=[own_importer.pk])).content.decode()
    assert 'data-testid="assignees"' in page and "bob" in page

    client.force_login(bob)
    everyone = client.get(reverse("dashboard")).content.decode()
    assert "Cedar Lane Imports LLC" in everyone and "Blue Heron Housewares Inc" in everyone
    assert "Assigned to bob" in everyone
    only_mine = client.get(reverse("dashboard"), {"mine": "on"}).content.decode()
    assert "Blue Heron Housewares Inc" in only_mine and "Cedar Lane Imports LLC" not in only_mine
    entries = client.get(reverse("entry_list"), {"mine": "on"}).content.decode()
    assert mine.entry_number_display in entries and theirs.entry_number_display not in entries
    assert "Entries 1–1 of 1" in entries
    assert theirs.entry_number_display in client.get(reverse("entry_list")).content.decode()
    # the portfolio workbook follows the filter
    import io

    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(client.get(reverse("portfolio_export"), {"mine": "on"}).content)).active
    assert [row[0] for row in ws.iter_rows(min_row=2, values_only=True)] == ["Blue Heron Housewares Inc"]

    # Olga has no clients assigned: "my clients" shows none of the importers
    client.force_login(olga)
    assert "No client importer matches." in client.get(reverse("dashboard"), {"mine": "on"}).content.decode()


def test_the_assign_form_refuses_a_viewer_beside_the_field_and_viewers_cannot_post(client, broker_org, bob, victor, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.post(reverse("importer_assign", args=[own_importer.pk]), {"member": victor.pk, "action": "assign"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()  # a viewer is not among the choices
    client.force_login(victor)
    assert client.post(reverse("importer_assign", args=[own_importer.pk]), {"member": bob.pk}).status_code == 403
    assert client.post(reverse("importer_note_new", args=[own_importer.pk]), {"text": "x"}).status_code == 403
    page = client.get(reverse("importer_detail", args=[own_importer.pk])).content.decode()
    assert 'data-testid="client-work"' in page and 'action="/accounts/importers/' not in page.split('data-testid="client-work"')[1].split("</section>")[0]
    assert not ImporterAssignment.objects.exists()


def test_notes_with_a_follow_up_show_on_the_portfolio_and_an_overdue_one_stands_out(client, broker_org, bob, own_importer, cedar) -> None:  # type: ignore[no-untyped-def]
    today = today_eastern()
    client.force_login(bob)
    response = client.post(reverse("importer_note_new", args=[cedar.pk]),
                           {"text": "Ask for the ACH refund authorization", "follow_up_on": (today - timedelta(days=2)).isoformat()})
    assert response.status_code == 302
    client.post(reverse("importer_note_new", args=[own_importer.pk]),
                {"text": "Waiting for the 5106 update", "follow_up_on": (today + timedelta(days=5)).isoformat()})
    portfolio = client.get(reverse("dashboard")).content.decode()
    cedar_row = portfolio.split('data-importer="27-418830200"')[1].split("</tr>")[0]
    blue_row = portfolio.split('data-importer="93-417726100"')[1].split("</tr>")[0]
    assert "Follow-up overdue" in cedar_row and "Ask for the ACH refund authorization" in cedar_row
    assert 'class="follow-up overdue"' in cedar_row and "follow-up-overdue" in portfolio.split('data-importer="27-418830200"')[1][:120]
    assert "Follow up " + (today + timedelta(days=5)).strftime("%m/%d/%Y") in blue_row and "overdue" not in blue_row
    due = client.get(reverse("dashboard"), {"follow_up_due": "on"}).content.decode()
    assert 'data-importer="27-418830200"' in due and 'data-importer="93-417726100"' not in due
    ordered = client.get(reverse("dashboard"), {"sort": "follow_up"}).content.decode()
    assert ordered.index('data-importer="27-418830200"') < ordered.index('data-importer="93-417726100"')

    note = ImporterNote.objects.get(importer=cedar)
    response = client.post(reverse("importer_note_done", args=[cedar.pk, note.pk]))
    assert response.status_code == 302
    note.refresh_from_db()
    assert note.follow_up_done_on == today
    cedar_row = client.get(reverse("dashboard")).content.decode().split('data-importer="27-418830200"')[1].split("</tr>")[0]
    assert "Follow-up overdue" not in cedar_row and "Note: Ask for the ACH refund authorization" in cedar_row
    assert list(AuditLog.objects.filter(organization=broker_org).values_list("action", flat=True).order_by("at")) == [
        "importer.note_add", "importer.note_add", "importer.follow_up_done"]


def test_a_note_form_error_shows_beside_its_field(client, bob, own_importer) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.post(reverse("importer_note_new", args=[own_importer.pk]), {"text": "", "follow_up_on": "13/45/2026"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_text_error"' in html and 'id="id_follow_up_on_error"' in html
    assert not ImporterNote.objects.exists()


# ---------------------------------------------------------------- tenancy
def test_another_organisation_never_sees_the_notes_or_assignments(client, broker_org, bob, alice, charlie, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    importer_assign(organization=broker_org, importer=own_importer, member=bob, user=bob)
    note = importer_note_add(organization=broker_org, importer=own_importer, text="Broker-only: fee discussion",
                             follow_up_on=today_eastern(), user=bob)
    # Alice owns the importer: her importer page has client work of her own organisation only.
    client.force_login(alice)
    page = client.get(reverse("importer_detail", args=[own_importer.pk])).content.decode()
    assert "Broker-only" not in page and "No notes yet." in page and "Nobody yet." in page
    assert client.post(reverse("importer_note_done", args=[own_importer.pk, note.pk])).status_code == 404
    key = api_key_for(alice)
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    assert client.get(f"/api/importers/{own_importer.pk}/notes/", **auth).json() == []
    assert client.get(f"/api/importers/{own_importer.pk}/assignments/", **auth).json() == []
    assert client.post(f"/api/importers/{own_importer.pk}/notes/{note.pk}/follow-up-done/", **auth).status_code == 404
    assert client.delete(f"/api/importers/{own_importer.pk}/assignments/{bob.pk}/", **auth).status_code == 404
    # Charlie's organisation does not see the importer at all.
    client.force_login(charlie)
    assert client.get(reverse("importer_detail", args=[own_importer.pk])).status_code == 404
    assert client.post(reverse("importer_note_new", args=[own_importer.pk]), {"text": "x"}).status_code == 404
    assert client.post(reverse("importer_assign", args=[own_importer.pk]), {"member": bob.pk}).status_code == 404
    key = api_key_for(charlie)
    assert client.get(f"/api/importers/{own_importer.pk}/notes/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 404
    note.refresh_from_db()
    assert note.follow_up_done_on is None and ImporterAssignment.objects.count() == 1
    # A revoked grant hides the broker's own notes and assignments with the importer.
    from accounts.services import grant_revoke

    grant_revoke(grant=own_importer.grants.get(organization=broker_org), user=alice)
    from accounts.selectors import assignments_for, notes_for

    assert not notes_for(broker_org).exists() and not assignments_for(broker_org).exists()


# ---------------------------------------------------------------- API
def test_the_api_assigns_notes_and_filters_my_clients(client, broker_org, bob, olga, own_importer, cedar) -> None:  # type: ignore[no-untyped-def]
    mine = _entry(own_importer, broker_org, "10.00")
    _entry(cedar, broker_org, "20.00")
    auth = {"HTTP_AUTHORIZATION": f"Token {api_key_for(bob)}"}
    response = client.post(f"/api/importers/{own_importer.pk}/assignments/", {"member": bob.pk}, content_type="application/json", **auth)
    assert response.status_code == 201 and response.json()["member_username"] == "bob"
    assert client.post(f"/api/importers/{own_importer.pk}/assignments/", {"member": 999999}, content_type="application/json", **auth).status_code == 400
    assert [i["id"] for i in client.get("/api/importers/", {"mine": "true"}, **auth).json()["results"]] == [own_importer.pk]
    assert len(client.get("/api/importers/", **auth).json()["results"]) == 2
    assert [e["entry_number"] for e in client.get("/api/entries/", {"mine": "true"}, **auth).json()["results"]] == [mine.entry_number]

    due = (today_eastern() + timedelta(days=1)).isoformat()
    response = client.post(f"/api/importers/{cedar.pk}/notes/", {"text": "Call Monday", "follow_up_on": due}, content_type="application/json", **auth)
    assert response.status_code == 201, response.content
    note_id = response.json()["id"]
    listed = client.get(f"/api/importers/{cedar.pk}/notes/", **auth).json()
    assert listed[0]["text"] == "Call Monday" and listed[0]["follow_up_on"] == due and listed[0]["created_by"] == "bob"
    done = client.post(f"/api/importers/{cedar.pk}/notes/{note_id}/follow-up-done/", **auth)
    assert done.status_code == 200 and done.json()["follow_up_done_on"] == today_eastern().isoformat()
    # the note belongs to Cedar: under another importer's URL it is not found
    assert client.post(f"/api/importers/{own_importer.pk}/notes/{note_id}/follow-up-done/", **auth).status_code == 404
    assert client.delete(f"/api/importers/{own_importer.pk}/assignments/{bob.pk}/", **auth).status_code == 204
    assert not ImporterAssignment.objects.exists()
    assert set(AuditLog.objects.filter(organization=broker_org).values_list("action", flat=True)) >= {
        "importer.assign", "importer.unassign", "importer.note_add", "importer.follow_up_done"}


def test_a_viewer_reads_client_work_through_the_api_but_cannot_change_it(client, broker_org, bob, victor, own_importer) -> None:  # type: ignore[no-untyped-def]
    importer_note_add(organization=broker_org, importer=own_importer, text="Shared with the team", user=bob)
    auth = {"HTTP_AUTHORIZATION": f"Token {api_key_for(victor)}"}
    assert client.get(f"/api/importers/{own_importer.pk}/notes/", **auth).json()[0]["text"] == "Shared with the team"
    assert client.post(f"/api/importers/{own_importer.pk}/notes/", {"text": "x"}, content_type="application/json", **auth).status_code == 403
    assert client.post(f"/api/importers/{own_importer.pk}/assignments/", {"member": bob.pk}, content_type="application/json", **auth).status_code == 403


def test_the_audit_log_links_client_work_to_the_importer_page(client, broker_org, bob, own_importer) -> None:  # type: ignore[no-untyped-def]
    importer_assign(organization=broker_org, importer=own_importer, member=bob, user=bob)
    note = importer_note_add(organization=broker_org, importer=own_importer, text="Call back", user=bob)
    client.force_login(bob)
    html = client.get(reverse("audit_log")).content.decode()
    assert "importer.assign" in html and "importer.note_add" in html
    assert f'href="/accounts/importers/{own_importer.pk}/#client-work"' in html and f"note on an importer {note.pk}" in html
