"""Issue #20 item 3 (audit log page): filters by user, action, object and date range with errors beside
the fields, links to each row's object, old → new values in words, 50 a page with the total, and only
the organisation's own rows."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditLog, Membership
from accounts.services import audit
from cape.models import Declaration
from entries.models import Upload
from tests.factories import EntryFactory, GrantFactory, ImporterFactory, MembershipFactory

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
URL = reverse("audit_log")


def _page(client, **params: str) -> str:  # type: ignore[no-untyped-def]
    response = client.get(URL, params)
    assert response.status_code == 200
    return response.content.decode()


def _rows(text: str) -> list[str]:
    return re.findall(r'<tr data-testid="audit-row">(.*?)</tr>', text, re.S)


def _actions(text: str) -> list[str]:
    return [re.findall(r"<td>(.*?)</td>", row, re.S)[2] for row in _rows(text)]


def _field_error(text: str, field: str) -> str:
    match = re.search(rf'id="id_{field}_error" class="errors">(.*?)</div>', text, re.S)
    return match.group(1) if match else ""


@pytest.fixture
def logged(alice, vera, importer_org):  # type: ignore[no-untyped-def]
    audit(action="importer.create", user=alice, organization=importer_org)
    audit(action="membership.set", user=vera, organization=importer_org)
    audit(action="system.ping", organization=importer_org)
    return importer_org


@pytest.fixture
def outsider_rows(charlie):  # type: ignore[no-untyped-def]
    org = charlie.memberships.get().organization
    importer = org.owned_importers.get()
    audit(action="outsider.secret", user=charlie, organization=org, obj=importer)
    audit(action="membership.set", user=charlie, organization=org, obj=importer)
    return org


def test_it_filters_by_user(client, alice, vera, logged) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    page = _page(client)
    assert sorted(_actions(page)) == ["importer.create", "membership.set", "system.ping"]
    assert re.search(r'<label for="id_user">User', page)  # a labelled field
    assert _actions(_page(client, user=str(vera.pk))) == ["membership.set"]
    assert _actions(_page(client, user=str(alice.pk))) == ["importer.create"]


def test_it_filters_by_action(client, alice, logged) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    page = _page(client, action="system.ping")
    assert _actions(page) == ["system.ping"]
    assert "1 event match the filters" in page


def test_it_filters_by_object(client, alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    other = ImporterFactory(owner=importer_org, name="Blue Heron Outlet")
    audit(action="importer.corporate_set", user=alice, organization=importer_org, obj=own_importer, old=False, new=True)
    audit(action="importer.corporate_set", user=alice, organization=importer_org, obj=other, old=True, new=False)
    client.force_login(alice)
    page = _page(client, object_type="accounts.importer", object_id=str(other.pk))
    assert len(_rows(page)) == 1 and f"importer {other.pk}" in _rows(page)[0]
    assert len(_rows(_page(client, object_type="accounts.importer"))) == 2


def test_it_filters_by_a_date_range_of_new_york_days(client, alice, importer_org) -> None:  # type: ignore[no-untyped-def]
    for day, hour, action in [(3, 23, "a.before"), (4, 0, "b.first_day"), (5, 23, "c.last_day"), (6, 0, "d.after")]:
        row = audit(action=action, user=alice, organization=importer_org)
        AuditLog.objects.filter(pk=row.pk).update(at=datetime(2026, 5, day, hour, 30, tzinfo=NY))
    client.force_login(alice)
    assert _actions(_page(client, date_from="05/04/2026", date_to="05/05/2026")) == ["c.last_day", "b.first_day"]
    assert _actions(_page(client, date_from="2026-05-05")) == ["d.after", "c.last_day"]
    assert _actions(_page(client, date_to="05/03/2026")) == ["a.before"]


def test_bad_filters_are_explained_beside_their_fields(client, alice, charlie, logged) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    page = _page(client, date_from="05/06/2026", date_to="05/04/2026", object_id="entry 7", user=str(charlie.pk))
    assert "The end date 05/04/2026 is before the start date 05/06/2026." in _field_error(page, "date_to")
    assert "is not an object number" in _field_error(page, "object_id")
    assert "Select a valid choice" in _field_error(page, "user")  # another organisation's user is no choice
    assert "Choose the kind of object too" in _field_error(_page(client, object_id="7"), "object_id")
    assert "Enter a valid date" in _field_error(_page(client, date_from="13/45/2026"), "date_from")
    # The valid filters still apply beside the errors.
    assert _actions(_page(client, action="system.ping", date_from="nonsense")) == ["system.ping"]


def test_each_row_links_to_its_objects_page(client, alice, importer_org, own_importer, broker_org) -> None:  # type: ignore[no-untyped-def]
    grant = own_importer.grants.get(organization=broker_org)
    entry = EntryFactory(organization=importer_org, importer=own_importer)
    upload = Upload.objects.create(organization=importer_org, uploaded_by=alice, original_name="es003.csv")
    declaration = Declaration.objects.create(organization=importer_org, importer=own_importer, name="Batch 1")
    for obj in (own_importer, grant, entry, upload, declaration, importer_org):
        audit(action="x.touch", user=alice, organization=importer_org, obj=obj)
    client.force_login(alice)
    page = _page(client)
    importer_url = reverse("importer_detail", args=[own_importer.pk])
    assert f'<a href="{importer_url}">importer {own_importer.pk}</a>' in page
    assert f'<a href="{importer_url}">access grant {grant.pk}</a>' in page  # a grant → its importer
    assert f'<a href="{reverse("entry_detail", args=[entry.pk])}">entry {entry.pk}</a>' in page
    assert f'<a href="{reverse("upload_detail", args=[upload.pk])}">upload {upload.pk}</a>' in page
    assert f'<a href="{reverse("cape_declaration", args=[declaration.pk])}">declaration {declaration.pk}</a>' in page
    assert f"organisation {importer_org.pk}" in page  # no page of its own: shown, not linked
    for url in re.findall(r'<td><a href="([^"]+)">', page):
        assert client.get(url).status_code == 200


def test_a_row_about_an_object_the_organisation_cannot_open_is_not_linked(client, bob, broker_org, importer_org) -> None:  # type: ignore[no-untyped-def]
    """A broker whose grant was revoked keeps its log rows, but the importer's page is no longer its to open."""
    gone = ImporterFactory(owner=importer_org, name="Former Client Inc")
    grant = GrantFactory(importer=gone, organization=broker_org)
    audit(action="grant.create", user=bob, organization=broker_org, obj=grant)
    audit(action="importer.touch", user=bob, organization=broker_org, obj=gone)
    grant.revoked_at = timezone.now()
    grant.save()
    client.force_login(bob)
    page = _page(client)
    assert f"importer {gone.pk}" in page and f"access grant {grant.pk}" in page
    assert reverse("importer_detail", args=[gone.pk]) not in page


def test_old_and_new_values_are_shown_in_words(client, broker_org, own_importer, importer_org, alice) -> None:  # type: ignore[no-untyped-def]
    owner = MembershipFactory(organization=broker_org, role=Membership.Role.OWNER, user__username="hana").user
    client.force_login(owner)
    client.post(reverse("organization_settings"), {"email_domains": "harborcb.com"})
    client.post(reverse("organization_settings"), {"email_domains": "harborcb.com\nharbor.example"})
    page = _page(client, action="organization.email_domains")
    assert "email domains: harborcb.com → harborcb.com, harbor.example" in page
    assert "email domains: (none) → harborcb.com" in page

    audit(action="importer.corporate_set", user=alice, organization=importer_org, obj=own_importer, old=False, new=True)
    audit(action="entry.fact_set", user=alice, organization=importer_org, fact="type09_filed", old=None, new=True)
    audit(action="readiness.update", user=alice, organization=importer_org, changes={"ace_account": ["", "yes"]})
    client.force_login(alice)
    page = _page(client)
    assert "corporate: no → yes" in page
    assert "type09 filed: (none) → yes" in page
    assert "ace account: (none) → yes" in page


def test_another_organisations_rows_never_show(client, alice, charlie, logged, outsider_rows) -> None:  # type: ignore[no-untyped-def]
    client.force_login(alice)
    pages = [
        _page(client),
        _page(client, action="outsider.secret"),
        _page(client, user=str(charlie.pk)),
        _page(client, action="membership.set"),
    ]
    for page in pages:
        rows = " ".join(_rows(page))
        assert "outsider.secret" not in rows and "charlie" not in rows
        # Nor do the menus offer the other organisation's actions or users.
        assert 'value="outsider.secret"' not in page and ">charlie<" not in page
    assert _actions(pages[3]) == ["membership.set"] and "1 event match the filters" in pages[3]
    # Another organisation's action or user is no choice: said beside the field, and the own rows stay.
    assert "Select a valid choice" in _field_error(pages[1], "action") and len(_rows(pages[1])) == 3
    assert "Select a valid choice" in _field_error(pages[2], "user") and len(_rows(pages[2])) == 3
    assert "3 events" in pages[0]


def test_fifty_rows_a_page_with_the_total_and_the_filters_kept(client, alice, importer_org) -> None:  # type: ignore[no-untyped-def]
    AuditLog.objects.bulk_create(
        [AuditLog(organization=importer_org, user=alice, action="entry.fact_set") for _ in range(120)]
        + [AuditLog(organization=importer_org, user=alice, action="system.ping") for _ in range(5)]
    )
    client.force_login(alice)
    first = _page(client, action="entry.fact_set")
    assert len(_rows(first)) == 50 and "120 events match the filters; 1–50 shown." in first
    assert 'href="?action=entry.fact_set&amp;page=2"' in first
    last = _page(client, action="entry.fact_set", page="3")
    assert len(_rows(last)) == 20 and set(_actions(last)) == {"entry.fact_set"}
    assert "125 events; 1–50 shown." in _page(client)
