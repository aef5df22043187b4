"""draft → exported → filed → decided: entries under protest move to R5 at once; never on two open protests."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection

from accounts.models import AuditLog
from accounts.services import ServiceError
from cape.classify import today_eastern
from cape.models import Classification
from entries.models import Entry
from protests.models import Protest, ProtestEntry
from protests.services import (
    protest_discard,
    protest_drafts_build,
    protest_export,
    protest_record_decision,
    protest_record_filing,
)
from tests.protests.factories import classify, protest_entry

pytestmark = pytest.mark.django_db


@pytest.fixture
def drafted(alice, importer_org, own_importer):  # type: ignore[no-untyped-def]
    entries = [protest_entry(own_importer, importer_org, days_ago=d) for d in (100, 150)]
    classify(importer_org)
    protest = protest_drafts_build(organization=importer_org, user=alice).protests[0]
    return protest, entries


def _number(year: int) -> str:
    return f"2704-{year % 100:02d}-100412"


def test_filing_puts_the_entries_under_protest_and_moves_them_to_rule_r5_at_once(drafted, alice) -> None:  # type: ignore[no-untyped-def]
    protest, entries = drafted
    today = today_eastern()
    protest_export(protest=protest, user=alice)
    protest.refresh_from_db()
    assert protest.status == Protest.Status.EXPORTED and protest.exported_at is not None

    protest_record_filing(protest=protest, user=alice, protest_number=_number(today.year), filed_on=today)
    protest.refresh_from_db()
    assert protest.status == Protest.Status.FILED
    assert protest.protest_number == f"2704{today:%y}100412"
    assert protest.protest_number_display == _number(today.year)
    for e in entries:
        e.refresh_from_db()
        assert (e.protest_status, e.protest_number, e.protest_set_by_user) == ("open", protest.protest_number, True)
        c = Classification.objects.get(entry=e)
        assert c.path == "protest" and c.reasons[0] == "protest_pending"
    assert list(AuditLog.objects.filter(organization=protest.organization, action__startswith="protest.")
                .order_by("pk").values_list("action", flat=True)) == ["protest.draft", "protest.exported", "protest.filed"]


@pytest.mark.parametrize("typed", ["2704-26-10041", "27042610041X", "2704/26/100412", ""])
def test_a_protest_number_not_in_cbp_form_is_refused_beside_its_field(drafted, alice, typed) -> None:  # type: ignore[no-untyped-def]
    protest, _ = drafted
    with pytest.raises(ServiceError) as info:
        protest_record_filing(protest=protest, user=alice, protest_number=typed, filed_on=today_eastern())
    assert info.value.field == "protest_number" and "2704-26-100412" in info.value.message
    assert Protest.objects.get(pk=protest.pk).status == Protest.Status.DRAFT


def test_the_year_of_the_number_must_be_the_year_of_filing(drafted, alice) -> None:  # type: ignore[no-untyped-def]
    protest, _ = drafted
    today = today_eastern()
    with pytest.raises(ServiceError) as info:
        protest_record_filing(protest=protest, user=alice, protest_number=_number(today.year - 1), filed_on=today)
    assert info.value.field == "protest_number"
    with pytest.raises(ServiceError) as future:
        protest_record_filing(protest=protest, user=alice, protest_number=_number(today.year), filed_on=today + timedelta(days=1))
    assert future.value.field == "filed_on"


def test_a_denial_shows_the_180_day_cit_window_and_frees_the_entries(drafted, alice) -> None:  # type: ignore[no-untyped-def]
    protest, entries = drafted
    today = today_eastern()
    with pytest.raises(ServiceError):  # not filed yet
        protest_record_decision(protest=protest, user=alice, decision="denied", decided_on=today)
    protest_record_filing(protest=protest, user=alice, protest_number=_number(today.year), filed_on=today)
    with pytest.raises(ServiceError) as before:
        protest_record_decision(protest=protest, user=alice, decision="denied", decided_on=today - timedelta(days=1))
    assert before.value.field == "decided_on"
    protest_record_decision(protest=protest, user=alice, decision="denied", decided_on=today)
    protest.refresh_from_db()
    assert protest.status == Protest.Status.DECIDED and protest.decision == "denied"
    assert protest.cit_summons_by == today + timedelta(days=180)  # 28 U.S.C. 2636(a)
    for e in entries:
        e.refresh_from_db()
        assert e.protest_status == "denied"
        assert "protest_pending" not in Classification.objects.get(entry=e).reasons
    assert AuditLog.objects.filter(action="protest.decided", object_id=str(protest.pk)).exists()


def test_an_allowed_protest_has_no_court_window(drafted, alice) -> None:  # type: ignore[no-untyped-def]
    protest, entries = drafted
    today = today_eastern()
    protest_record_filing(protest=protest, user=alice, protest_number=_number(today.year), filed_on=today)
    protest_record_decision(protest=protest, user=alice, decision="allowed", decided_on=today)
    protest.refresh_from_db()
    assert protest.cit_summons_by is None
    assert {Entry.objects.get(pk=e.pk).protest_status for e in entries} == {"approved"}


def test_an_entry_is_never_on_two_open_protests(drafted, alice, importer_org) -> None:  # type: ignore[no-untyped-def]
    first, entries = drafted
    # A second draft holding the same entry (built before the first was exported, e.g. by another person).
    second = Protest.objects.create(organization=importer_org, importer=first.importer, reason_text="x")
    ProtestEntry.objects.create(protest=second, entry=entries[0], position=1, lead=True)
    protest_export(protest=first, user=alice)
    with pytest.raises(ServiceError) as info:
        protest_export(protest=second, user=alice)
    assert entries[0].entry_number_display in info.value.message
    with pytest.raises(ServiceError):
        protest_record_filing(protest=second, user=alice, protest_number=_number(today_eastern().year),
                              filed_on=today_eastern())
    assert Protest.objects.get(pk=second.pk).status == Protest.Status.DRAFT
    # Once the first is discarded, the second may go.
    protest_discard(protest=first, user=alice)
    protest_export(protest=second, user=alice)
    assert Protest.objects.get(pk=second.pk).status == Protest.Status.EXPORTED
    assert AuditLog.objects.filter(action="protest.discarded", object_id=str(first.pk)).exists()


def test_a_filed_protest_cannot_be_discarded(drafted, alice) -> None:  # type: ignore[no-untyped-def]
    protest, _ = drafted
    protest_record_filing(protest=protest, user=alice, protest_number=_number(today_eastern().year), filed_on=today_eastern())
    with pytest.raises(ServiceError):
        protest_discard(protest=protest, user=alice)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks: PostgreSQL (SQLite serialises every writer)")
def test_two_people_exporting_drafts_that_share_an_entry_at_the_same_moment_cannot_both_succeed(alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    entry = protest_entry(own_importer, importer_org)
    classify(importer_org)
    protests = []
    for _ in range(2):
        p = Protest.objects.create(organization=importer_org, importer=own_importer, reason_text="x")
        ProtestEntry.objects.create(protest=p, entry=entry, position=1, lead=True)
        protests.append(p)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def export(p: Protest) -> None:
        try:
            barrier.wait()
            protest_export(protest=p, user=alice)
            outcomes.append("exported")
        except ServiceError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=export, args=(p,)) for p in protests]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["exported", "refused"]
    assert Protest.objects.filter(status=Protest.Status.EXPORTED).count() == 1
