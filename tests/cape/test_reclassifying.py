"""One classification per entry, always current (issue 18): a change that can move many entries records a
queued run at once, which every organisation that sees the importer is shown as "reclassifying…" (with a progress
bar) instead of the old paths presented as current; when it is done the poll reloads the page. And a CAPE outcome
reclassifies every entry of the declaration, not only the rows CBP's file listed (the declaration's own status
is an input of R3 for the others)."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse
from django.utils import timezone

from cape.classify import classify_entries, reclassify_later, today_eastern
from cape.declarations import (
    declaration_build,
    declaration_export,
    declaration_import_claim_details,
    declaration_record_submission,
)
from cape.models import Classification, ClassificationRun, Declaration
from cape.selectors import reclassifying
from tests.cape.factories import eligible_entry
from tests.factories import EntryFactory, ImporterFactory

pytestmark = pytest.mark.django_db


def test_a_queued_run_is_shown_to_every_organisation_that_sees_the_importer_until_it_is_done(
        client, alice, bob, charlie, importer_org, broker_org, own_importer, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    entries = [EntryFactory(importer=own_importer) for _ in range(3)]
    classify_entries(importer_ids=[own_importer.pk], as_of=today_eastern())
    with django_capture_on_commit_callbacks(execute=False):
        run = reclassify_later(organization=importer_org, importer_ids=[own_importer.pk])
    assert run is not None and run.status == ClassificationRun.Status.PENDING and run.total == len(entries)
    for user in (alice, bob):
        client.force_login(user)
        for url in (reverse("entry_list"), reverse("entry_detail", args=[entries[0].pk]), reverse("dashboard")):
            html = client.get(url).content.decode()
            assert "Reclassifying 3 entries" in html and 'aria-label="Entries reclassified"' in html, (user, url)
        poll = client.get(reverse("entry_reclassifying"), HTTP_HX_REQUEST="true")
        assert "Reclassifying 3 entries" in poll.content.decode() and "HX-Refresh" not in poll
    # Another organisation's pages say nothing of it.
    client.force_login(charlie)
    assert "Reclassifying" not in client.get(reverse("entry_list")).content.decode()
    assert not reclassifying(ImporterFactory().owner)
    # The run, done: the poll asks the page to reload with the new paths.
    from cape.classify import run_queued

    assert run_queued(run.pk) == 3
    assert ClassificationRun.objects.get(pk=run.pk).status == ClassificationRun.Status.DONE
    client.force_login(bob)
    poll = client.get(reverse("entry_reclassifying"), HTTP_HX_REQUEST="true")
    assert poll["HX-Refresh"] == "true" and "Reclassifying" not in poll.content.decode()
    assert "Reclassifying" not in client.get(reverse("entry_list")).content.decode()


def test_claim_details_reclassify_every_entry_of_the_declaration(importer_org, own_importer, alice) -> None:  # type: ignore[no-untyped-def]
    listed, accepted, unlisted = (eligible_entry(own_importer) for _ in range(3))
    classify_entries(importer_ids=[own_importer.pk], as_of=today_eastern())
    d = declaration_build(organization=importer_org, user=alice).declarations[0]
    declaration_export(declaration=d, user=alice)
    declaration_record_submission(declaration=d, submitted_on=timezone.localdate(), claim_number="100000241223", user=alice)
    # CBP's file lists one rejected and one accepted entry; the declaration is accepted with errors, so the one it
    # does not list is on an accepted declaration, not rejected there (rules.md R3): its stored path must say so at
    # once, not after some unrelated change.
    data = (f'ENTRY_NUMBER,CLAIM_NUMBER,STATUS,ERROR_DESCRIPTION\r\n="{listed.entry_number}",="100000241223",Failed,'
            f'HTS RELATIONSHIP MISMATCH\r\n="{accepted.entry_number}",="100000241223",Entry Summary Updated,\r\n').encode()
    declaration_import_claim_details(declaration=Declaration.objects.get(pk=d.pk), data=data, filename="c.csv",
                                     accepted_on=date(2026, 5, 1), user=alice)
    assert Declaration.objects.get(pk=d.pk).status == Declaration.Status.ACCEPTED_WITH_ERRORS
    paths = dict(Classification.objects.filter(entry__in=[listed, accepted, unlisted]).values_list("entry_id", "path"))
    assert paths == {listed.pk: "cape_phase1", accepted.pk: "filed", unlisted.pk: "filed"}
