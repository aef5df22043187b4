"""The daily digest names protest-path entries nearing their deadline with no protest filed, and CIT limits."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from cape.classify import digest_send, today_eastern
from cape.models import Classification
from protests.selectors import protest_alerts
from protests.services import protest_drafts_build, protest_record_filing
from tests.protests.factories import classify, protest_entry

pytestmark = pytest.mark.django_db


def test_alerts_name_unfiled_protests_within_30_days_and_cit_limits_within_90(alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    today = today_eastern()
    soon = protest_entry(own_importer, importer_org, days_ago=170)  # deadline in 10 days
    filed = protest_entry(own_importer, importer_org, days_ago=165)
    later = protest_entry(own_importer, importer_org, days_ago=100)  # deadline in 80 days: not yet
    cit_soon = protest_entry(own_importer, importer_org, days_ago=400)
    cit_later = protest_entry(own_importer, importer_org, days_ago=400)
    classify(importer_org)
    Classification.objects.filter(entry=cit_soon).update(cit_deadline=today + timedelta(days=60))
    Classification.objects.filter(entry=cit_later).update(cit_deadline=today + timedelta(days=200))
    protest = protest_drafts_build(organization=importer_org, user=alice).protests[0]
    protest.items.exclude(entry=filed).delete()
    protest_record_filing(protest=protest, user=alice, protest_number=f"2704{today:%y}000001", filed_on=today)

    alerts = protest_alerts(importer_org, as_of=today)
    assert [c.entry_id for c in alerts.protest_unfiled] == [soon.pk]
    assert [c.entry_id for c in alerts.cit_due] == [cit_soon.pk]
    assert later.pk not in [c.entry_id for c in alerts.protest_unfiled]

    mail.outbox.clear()
    sent = digest_send(organization=importer_org, as_of=today, since=timezone.now() - timedelta(days=1000))
    assert sent == 1
    body = mail.outbox[0].body
    part = body.split("No protest filed yet")[1].split("Court of International Trade limits")[0]
    assert soon.entry_number_display in part and filed.entry_number_display not in part
    cit_part = body.split("Court of International Trade limits")[1]
    assert cit_soon.entry_number_display in cit_part and cit_later.entry_number_display not in cit_part
    html = mail.outbox[0].alternatives[0][0]
    assert cit_soon.entry_number_display in html


def test_the_digest_goes_out_for_a_cit_limit_alone(alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    entry = protest_entry(own_importer, importer_org, days_ago=400)
    classify(importer_org)
    as_of = date(2027, 1, 1)
    Classification.objects.filter(entry=entry).update(cit_deadline=as_of + timedelta(days=30))
    mail.outbox.clear()
    # since: now, so no path change is reported; the CIT line alone is worth the email.
    assert digest_send(organization=importer_org, as_of=as_of, since=timezone.now()) == 1
    assert entry.entry_number_display in mail.outbox[0].body
