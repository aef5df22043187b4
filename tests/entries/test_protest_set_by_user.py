"""Ruleset 2026.12, rules.md "Inputs": a protest status a person set wins over the report's; a blank user value
changes nothing. Through the entry page and a facts file, then an ES-003 that says otherwise, on both
ingestion paths."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from django.urls import reverse

from entries.models import Entry, Upload
from entries.samplegen import Text
from tests.entries.conftest import entry_rows

pytestmark = pytest.mark.django_db

NUMBER = "00261103162"


@pytest.fixture(params=["csv-fast", "csv-rows"])
def way(request: Any) -> str:
    return request.param


@pytest.fixture
def ingest(ingest: Any, way: str) -> Any:
    """The ingestion of tests/entries/conftest.py, through the path this test's `way` names."""
    return functools.partial(ingest, fast_csv=way == "csv-fast")


def _report(status: str, number: str = "") -> list[list[object]]:
    return entry_rows(NUMBER, **{"Protest Status": status, "Protest Number": Text(number) if number else ""})


def test_a_status_set_on_the_entry_page_survives_a_later_report(way, write_es003, importer_org, alice, client, ingest) -> None:  # type: ignore[no-untyped-def]
    first = ingest(write_es003(_report(""), name="week1.csv"), organization=importer_org, user=alice)
    assert first.status == Upload.Status.DONE, first.error_message
    entry = Entry.objects.get(entry_number=NUMBER)
    assert entry.protest_status == "none" and not entry.protest_set_by_user
    client.force_login(alice)
    response = client.post(reverse("entry_detail", args=[entry.pk]),
                           {"protest_status": "denied", "importer_is_corporate": "true"})
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.protest_status == "denied" and entry.protest_set_by_user

    second = ingest(write_es003(_report("Open", "270426100123"), name="week2.csv"), organization=importer_org, user=alice)
    assert second.status == Upload.Status.DONE, second.error_message
    entry.refresh_from_db()
    assert entry.protest_status == "denied"  # the person's value, not the report's "Open"
    assert entry.protest_number == ""  # nor the report's number: the person's protest facts stand together
    assert entry.classification.path == Entry.objects.get(pk=entry.pk).classification.path


def test_without_a_user_value_the_report_sets_the_status(way, write_es003, importer_org, alice, ingest) -> None:  # type: ignore[no-untyped-def]
    ingest(write_es003(_report(""), name="week1.csv"), organization=importer_org, user=alice)
    ingest(write_es003(_report("Open", "270426100123"), name="week2.csv"), organization=importer_org, user=alice)
    entry = Entry.objects.get(entry_number=NUMBER)
    assert (entry.protest_status, entry.protest_number, entry.protest_set_by_user) == ("open", "270426100123", False)


def test_a_status_from_a_facts_file_survives_a_later_report(way, write_es003, importer_org, alice, ingest, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cape.facts import entry_facts_import

    ingest(write_es003(_report("Open", "270426100123"), name="week1.csv"), organization=importer_org, user=alice)
    facts = tmp_path / "facts.csv"
    facts.write_text("Entry Number,Protest Status\n002-6110316-2,Denied\n")
    entry_facts_import(organization=importer_org, user=alice, path=facts)
    ingest(write_es003(_report("Open", "270426100123"), name="week2.csv"), organization=importer_org, user=alice)
    entry = Entry.objects.get(entry_number=NUMBER)
    assert (entry.protest_status, entry.protest_set_by_user) == ("denied", True)
