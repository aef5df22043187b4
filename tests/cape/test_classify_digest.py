"""The nightly task and the daily deadline digest."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Membership
from cape.classify import classify_entries
from cape.models import Classification
from cape.tasks import classify_all_organizations, send_deadline_digests
from tests.factories import EntryFactory

AS_OF = date(2026, 11, 22)


@pytest.mark.django_db
def test_the_nightly_task_classifies_every_organisation(importer_org, own_importer, broker_org, charlie) -> None:
    from accounts.models import Importer
    from cape.selectors import classifications_for

    mine = EntryFactory(organization=importer_org, importer=own_importer)
    loaded_by_broker = EntryFactory(organization=broker_org, importer=own_importer)
    outsider = Importer.objects.get(ir_number="55-555555500")
    theirs = EntryFactory(importer=outsider)
    # every organisation that sees an importer with entries (the importer, its broker, the outsider)
    assert classify_all_organizations(as_of=AS_OF.isoformat()) == 3
    assert Classification.objects.filter(entry__in=[mine, loaded_by_broker, theirs]).count() == 3
    # one result per entry, seen alike by the importer and its broker, never by the outsider
    shared = {mine.pk, loaded_by_broker.pk}
    assert set(classifications_for(importer_org).values_list("entry_id", flat=True)) == shared
    assert set(classifications_for(broker_org).values_list("entry_id", flat=True)) == shared
    assert set(classifications_for(outsider.owner).values_list("entry_id", flat=True)) == {theirs.pk}


@pytest.mark.django_db
def test_the_digest_lists_closing_windows_protest_deadlines_and_changes(importer_org, own_importer, alice, vera) -> None:
    closing = EntryFactory(organization=importer_org, importer=own_importer, liquidation_status="liquidated",
                           liquidation_date=date(2026, 9, 10), ieepa_duty=Decimal("75.00"))  # closes 11-28
    protest = EntryFactory(organization=importer_org, importer=own_importer, entry_type="23",
                           liquidation_status="liquidated", liquidation_date=date(2026, 6, 10))  # protest by 12-07
    moving = EntryFactory(organization=importer_org, importer=own_importer)  # unliquidated today
    far = EntryFactory(organization=importer_org, importer=own_importer, liquidation_status="liquidated",
                       liquidation_date=date(2026, 11, 1))  # window closes 2027-01-19: not in the digest
    classify_entries(organization=importer_org, as_of=date(2026, 11, 21))
    moving.liquidation_status, moving.liquidation_date = "liquidated", date(2026, 11, 20)  # a new upload says so
    moving.updated_at = timezone.now()
    moving.save()
    Membership.objects.filter(user=vera).update(email_digest=False)  # vera opted out
    mail.outbox.clear()
    assert send_deadline_digests(as_of=AS_OF.isoformat()) == 1
    assert len(mail.outbox) == 1
    msg = mail.outbox[0]
    assert msg.to == [alice.email]
    body = msg.body
    assert closing.entry_number_display in body and "2026-11-28" in body.split("Protest deadlines")[0]
    protest_part = body.split("Protest deadlines")[1].split("Newly liquidated")[0]
    assert protest.entry_number_display in protest_part and "2026-12-07" in protest_part
    liquidated_part = body.split("Newly liquidated")[1].split("Moved to another path")[0]
    assert moving.entry_number_display in liquidated_part
    assert far.entry_number_display not in body
    assert "text/html" in [m for _, m in msg.alternatives]


@pytest.mark.django_db
def test_path_crossings_since_yesterday_are_reported(importer_org, own_importer, alice) -> None:
    crossing = EntryFactory(organization=importer_org, importer=own_importer, liquidation_status="liquidated",
                            liquidation_date=date(2026, 9, 3))  # day 80 on 2026-11-22
    classify_entries(organization=importer_org, as_of=date(2026, 11, 21))
    mail.outbox.clear()
    send_deadline_digests(as_of=AS_OF.isoformat())
    moved = mail.outbox[0].body.split("Moved to another path")[1]
    assert crossing.entry_number_display in moved and "cape_phase1 -> protest" in moved


@pytest.mark.django_db
def test_nothing_to_say_sends_nothing(importer_org, own_importer, alice) -> None:
    EntryFactory(organization=importer_org, importer=own_importer)  # unliquidated, no deadline close
    classify_entries(organization=importer_org, as_of=AS_OF)
    mail.outbox.clear()
    send_deadline_digests(as_of=AS_OF.isoformat())
    assert mail.outbox == []


@pytest.mark.django_db
def test_the_digest_shows_only_what_the_organisation_may_see(importer_org, own_importer, broker_org, bob) -> None:
    from django.utils import timezone

    from accounts.models import ImporterGrant

    e = EntryFactory(organization=broker_org, importer=own_importer, liquidation_status="liquidated",
                     liquidation_date=date(2026, 9, 10))
    classify_entries(organization=broker_org, as_of=AS_OF)
    ImporterGrant.objects.filter(organization=broker_org).update(revoked_at=timezone.now())
    mail.outbox.clear()
    send_deadline_digests(as_of=AS_OF.isoformat())
    assert all(e.entry_number_display not in m.body for m in mail.outbox)
