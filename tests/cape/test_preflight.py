"""Each preflight check, passing and failing: the pure decisions, then the facts the service gathers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts.services import ServiceError
from ach.models import AchEnrollment, NotifyParty
from cape.csvfile import render_declaration_csv, sha256_hex
from cape.declarations import (
    declaration_build,
    declaration_entries_mark_corrected,
    declaration_export,
    declaration_preflight,
)
from cape.models import Classification, Declaration, DeclarationEntry, Path
from cape.preflight import EntryFacts, PreflightInput, run_preflight
from tests.cape.factories import DeclarationEntryFactory, DeclarationFactory, eligible_entry

GOOD = ["00261103162", "00261111157", "60576069342"]
CAPE = ["cape_phase1", "cape_phase2"]


def _run(numbers=GOOD, data=None, sha=None, **kw):  # type: ignore[no-untyped-def]
    data = data if data is not None else render_declaration_csv(numbers if len(set(numbers)) == len(numbers) else GOOD)
    facts = kw.pop("facts", None) or [EntryFacts(n, 1, "Blue Heron", path="cape_phase1") for n in numbers]
    report = run_preflight(PreflightInput(file_bytes=data, stored_sha256=sha if sha is not None else sha256_hex(data), entries=facts,
                                          as_of=date(2026, 11, 22), cape_paths=CAPE, **kw))
    return report, {c["code"]: c for c in report["checks"]}


def test_a_clean_file_passes_every_check() -> None:
    report, checks = _run()
    assert report["ok"] and not report["blocking"] and report["warnings"] == 0
    assert all(c["passed"] for c in checks.values())
    assert checks["entry_number_format"]["passing_count"] == 3
    assert set(checks) == {"entry_number_format", "duplicates_in_file", "duplicates_across_declarations", "cape_path_today",
                           "file_format", "ach_refund_route", "notify_party_4811", "psc_first", "open_protest", "type09_filed",
                           "cape_window_open"}


def test_a_wrong_check_digit_and_a_short_number_fail_the_format_check() -> None:
    numbers = ["00261103163", "261103162", "60576069342"]
    data = ("Entry Number\n" + "\n".join(numbers) + "\n").encode()
    report, checks = _run(numbers, data=data)
    failing = {f["entry_number"]: f["detail"] for f in checks["entry_number_format"]["failing"]}
    assert failing == {"00261103163": "wrong check digit", "261103162": failing["261103162"]}
    assert "11 characters" in failing["261103162"]
    assert checks["entry_number_format"]["passing_count"] == 1
    assert report["blocking"]


def test_a_duplicate_within_the_file_fails() -> None:
    numbers = ["00261103162", "00261103162"]
    data = b"Entry Number\n00261103162\n00261103162\n"
    _, checks = _run(numbers, data=data)
    assert checks["duplicates_in_file"]["failing"] == [{"entry_number": "00261103162", "detail": "listed 2 times"}]


def test_an_entry_on_another_declaration_fails() -> None:
    report, checks = _run(other_declarations={"00261111157": ["Blue Heron · CAPE 2026-11-01"]})
    assert checks["duplicates_across_declarations"]["failing"][0]["entry_number"] == "00261111157"
    assert checks["duplicates_across_declarations"]["passing_count"] == 2
    assert report["blocking"]


def test_an_entry_off_its_cape_path_fails() -> None:
    facts = [EntryFacts(GOOD[0], 1, path="protest"), EntryFacts(GOOD[1], 1, path=None), EntryFacts(GOOD[2], 1, path="cape_phase2")]
    _, checks = _run(facts=facts)
    details = {f["entry_number"]: f["detail"] for f in checks["cape_path_today"]["failing"]}
    assert details == {GOOD[0]: "now on path protest", GOOD[1]: "not classified yet"}
    assert "2026-11-22" in checks["cape_path_today"]["name"]


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b"\xef\xbb\xbfEntry Number\n00261103162\n00261111157\n60576069342\n", "byte-order mark"),
        (b"Entry Number\r\n00261103162\r\n00261111157\r\n60576069342\r\n", "CRLF"),
        (b"Entry number\n00261103162\n00261111157\n60576069342\n", "A1"),
        (b"Entry Number\n00261103162\n00261111157\n60576069342", "last line"),
        (b'Entry Number\n"00261103162"\n00261111157\n60576069342\n', "quotes"),
        (b"Entry Number\n00261103162\n00261111157\n6057606934\xff\n", "UTF-8"),
    ],
)
def test_header_encoding_and_line_endings_are_checked(data: bytes, fragment: str) -> None:
    report, checks = _run(data=data)
    check = checks["file_format"]
    assert not check["passed"] and any(fragment in f["detail"] for f in check["failing"]), check["failing"]
    assert report["blocking"]


def test_a_file_that_no_longer_matches_its_sha256_fails() -> None:
    _, checks = _run(sha="0" * 64)
    assert any("SHA-256" in f["detail"] for f in checks["file_format"]["failing"])


def test_too_many_lines_and_too_many_bytes_fail() -> None:
    from tests.cape.test_csvfile import make_numbers

    numbers = make_numbers(10_000)
    data = ("Entry Number\n" + "\n".join(numbers) + "\n").encode()
    facts = [EntryFacts(n, 1, path="cape_phase1") for n in numbers]
    _, checks = _run(numbers, data=data, facts=facts)
    details = " ".join(f["detail"] for f in checks["file_format"]["failing"])
    assert "10,000 entry numbers: CAPE takes at most 9,999" in details
    big = b"Entry Number\n" + b"00261103162\n" * 90_000
    _, checks = _run(data=big)
    assert "under 1 MB" in " ".join(f["detail"] for f in checks["file_format"]["failing"])


@pytest.mark.parametrize(
    "code, facts_kw, input_kw",
    [
        ("ach_refund_route", {}, {"importers_without_route": {1}}),
        ("notify_party_4811", {}, {"notify_party_unset": {1: "4811 notify party Broker X not yet in box 28"}}),
        ("psc_first", {"psc_pending_error": "INVALID HTS"}, {}),
        ("open_protest", {"protest_open": True}, {}),
        ("type09_filed", {"type09_filed": True}, {}),
        ("cape_window_open", {"deadline_passed": True}, {}),
    ],
)
def test_each_warning_fails_alone_and_blocks_only_when_the_organisation_says_so(code, facts_kw, input_kw) -> None:  # type: ignore[no-untyped-def]
    facts = [EntryFacts(GOOD[0], 1, "Blue Heron", path="cape_phase1", **facts_kw),
             EntryFacts(GOOD[1], 2, "Other", path="cape_phase1"), EntryFacts(GOOD[2], 2, "Other", path="cape_phase1")]
    report, checks = _run(facts=facts, **input_kw)
    assert [c for c, v in checks.items() if not v["passed"]] == [code]
    assert checks[code]["level"] == "warning" and checks[code]["failing"][0]["entry_number"] == GOOD[0]
    assert checks[code]["passing_count"] == 2
    assert report["ok"] and not report["blocking"] and report["warnings"] == 1
    blocked, _ = _run(facts=facts, block_on_warnings=True, **input_kw)
    assert blocked["blocking"]


# ------------------------------------------------------------------- gathered from the database


def _checks(declaration: Declaration) -> dict:
    return {c["code"]: c for c in declaration.preflight["checks"]}


@pytest.mark.django_db
def test_the_service_flags_missing_ach_and_an_unset_notify_party(importer_org, own_importer, alice) -> None:
    eligible_entry(own_importer)
    NotifyParty.objects.create(importer=own_importer, name="Harbor Customs", ir_number="12-345678900", on_ace_profile=True)
    d = declaration_build(organization=importer_org, user=alice).declarations[0]
    checks = _checks(d)
    assert not checks["ach_refund_route"]["passed"] and not checks["notify_party_4811"]["passed"]
    assert "box 28" in checks["notify_party_4811"]["failing"][0]["detail"]
    AchEnrollment.objects.create(importer=own_importer, status=AchEnrollment.Status.ACTIVE)
    NotifyParty.objects.filter(importer=own_importer).update(in_box_28=True, ach_enrolled=True)
    checks = {c["code"]: c for c in declaration_preflight(declaration=d, user=alice)["checks"]}
    assert checks["ach_refund_route"]["passed"] and checks["notify_party_4811"]["passed"]


@pytest.mark.django_db
def test_warnings_block_the_download_when_the_organisation_chooses(importer_org, own_importer, alice) -> None:
    eligible_entry(own_importer, protest_status="open", type09_filed=True)
    AchEnrollment.objects.create(importer=own_importer, status=AchEnrollment.Status.ACTIVE)
    d = declaration_build(organization=importer_org, user=alice).declarations[0]
    checks = _checks(d)
    assert not checks["open_protest"]["passed"] and not checks["type09_filed"]["passed"]
    importer_org.block_on_preflight_warnings = True
    importer_org.save()
    d = Declaration.objects.get(pk=d.pk)
    with pytest.raises(ServiceError, match="No open protest"):
        declaration_export(declaration=d, user=alice)
    importer_org.block_on_preflight_warnings = False
    importer_org.save()
    d = Declaration.objects.get(pk=d.pk)
    assert declaration_export(declaration=d, user=alice) == bytes(d.file_bytes)


@pytest.mark.django_db
def test_an_entry_that_left_the_cape_path_blocks_the_download(importer_org, own_importer, alice) -> None:
    entry = eligible_entry(own_importer)
    d = declaration_build(organization=importer_org, user=alice).declarations[0]
    assert _checks(d)["cape_path_today"]["passed"]
    Classification.objects.filter(entry=entry).update(path=Path.PROTEST)
    with pytest.raises(ServiceError, match="CAPE path"):
        declaration_export(declaration=d, user=alice)
    assert Declaration.objects.get(pk=d.pk).status == Declaration.Status.DRAFT


@pytest.mark.django_db
def test_an_entry_on_another_live_declaration_is_a_duplicate(importer_org, own_importer, alice) -> None:
    entry = eligible_entry(own_importer)
    d = declaration_build(organization=importer_org, user=alice).declarations[0]
    other = DeclarationFactory(organization=importer_org, importer=own_importer, status=Declaration.Status.SUBMITTED, name="Earlier one")
    DeclarationEntryFactory(declaration=other, entry=entry)
    checks = {c["code"]: c for c in declaration_preflight(declaration=d, user=alice)["checks"]}
    assert checks["duplicates_across_declarations"]["failing"] == [{"entry_number": entry.entry_number, "detail": "also on Earlier one"}]
    DeclarationEntry.objects.filter(declaration=other).update(outcome=DeclarationEntry.Outcome.REJECTED)
    checks = {c["code"]: c for c in declaration_preflight(declaration=d, user=alice)["checks"]}
    assert checks["duplicates_across_declarations"]["passed"]


@pytest.mark.django_db
def test_a_psc_rejection_warns_until_the_correction_is_marked(importer_org, own_importer, alice) -> None:
    entry = eligible_entry(own_importer)
    old = DeclarationFactory(organization=importer_org, importer=own_importer, status=Declaration.Status.ACCEPTED_WITH_ERRORS)
    DeclarationEntryFactory(declaration=old, entry=entry, outcome="rejected", error_text="HTS RELATIONSHIP MISMATCH",
                            outcome_at=timezone.now() + timedelta(seconds=5))
    d = declaration_build(organization=importer_org, user=alice).declarations[0]
    assert _checks(d)["psc_first"]["failing"][0]["detail"] == "rejected earlier: HTS RELATIONSHIP MISMATCH"
    assert declaration_entries_mark_corrected(organization=importer_org, entry_ids=[entry.pk], user=alice) == 1
    assert {c["code"]: c for c in declaration_preflight(declaration=d)["checks"]}["psc_first"]["passed"]


@pytest.mark.django_db
def test_a_stale_classification_is_brought_up_to_today_before_checking(importer_org, own_importer, alice) -> None:
    """A classification computed days ago and due for review is recomputed by the engine first."""
    entry = eligible_entry(own_importer)
    d = declaration_build(organization=importer_org, user=alice, run_checks=False).declarations[0]
    Classification.objects.filter(entry=entry).update(as_of=date(2026, 5, 1), stable_until=date(2026, 5, 2))
    declaration_preflight(declaration=d, user=alice)
    assert Classification.objects.get(entry=entry).as_of == timezone.localdate()


def test_every_incomplete_4811_notify_party_of_an_importer_is_named_not_only_the_last() -> None:
    from cape.preflight import NotifyPartyFacts, notify_party_problems

    parties = [
        NotifyPartyFacts(1, "Zephyr Express", True, False, True),
        NotifyPartyFacts(1, "Harbor Customs", False, True, False),
        NotifyPartyFacts(1, "Complete Carrier", True, True, True),
        NotifyPartyFacts(2, "Other Broker", True, True, False),
        NotifyPartyFacts(3, "All Set Ltd", True, True, True),
    ]
    problems = notify_party_problems(parties)
    assert problems == {
        1: "4811 notify party Harbor Customs not yet on the importer's ACE profile, ACH-enrolled; "
           "4811 notify party Zephyr Express not yet in box 28",
        2: "4811 notify party Other Broker not yet ACH-enrolled",
    }
    # Order of the records does not matter: the last record read no longer overwrites the others.
    assert notify_party_problems(list(reversed(parties))) == problems
    _, checks = _run(notify_party_unset=problems)
    check = checks["notify_party_4811"]
    assert not check["passed"]
    assert check["failing"] == [{"entry_number": n, "detail": "Blue Heron: " + problems[1]} for n in GOOD]


@pytest.mark.django_db
def test_the_service_names_the_notify_party_of_each_importer_of_a_mixed_declaration(importer_org, own_importer, alice) -> None:
    from tests.factories import ImporterFactory

    second = ImporterFactory(owner=importer_org, name="Second Importer Inc")
    a, b = eligible_entry(own_importer), eligible_entry(second, organization=importer_org)
    NotifyParty.objects.create(importer=own_importer, name="Harbor Customs", ir_number="12-345678900", on_ace_profile=True)
    NotifyParty.objects.create(importer=second, name="Zephyr Express", ir_number="12-345678901", on_ace_profile=True,
                               in_box_28=True)
    d = declaration_build(organization=importer_org, user=alice, mixed=True).declarations[0]
    failing = {f["entry_number"]: f["detail"] for f in _checks(d)["notify_party_4811"]["failing"]}
    assert failing == {
        a.entry_number: "Blue Heron Housewares Inc: 4811 notify party Harbor Customs not yet in box 28, ACH-enrolled",
        b.entry_number: "Second Importer Inc: 4811 notify party Zephyr Express not yet ACH-enrolled",
    }
