"""One truth (issue 18): an entry is one record, the importer of record's, shared by every organisation that
serves it. After any sequence of actions by the importer and its broker (uploads of ES-003 reports, facts set by
hand, CAPE declarations with CBP's Claim Details, a refund route won or lost, the broker's grant revoked and
given again), every stored classification equals a fresh classification of the same facts, and both
organisations see the same path, reasons and deadlines for every shared entry; after a revocation, the broker
sees nothing. Hypothesis drives the sequences (stateful testing); runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from accounts.models import ImporterGrant
from accounts.services import ServiceError, grant_create, grant_revoke
from cape.classify import classify_entries, entry_facts_update, today_eastern
from cape.declarations import (
    declaration_build,
    declaration_export,
    declaration_import_claim_details,
    declaration_record_submission,
)
from cape.facts import importer_facts_update
from cape.models import Classification, Declaration
from cape.selectors import classifications_for, entries_for
from entries.models import Entry
from entries.samplegen import Text, write_csv
from tests.entries.conftest import entry_rows
from tests.factories import (
    BrokerFactory,
    ImporterFactory,
    MembershipFactory,
    OrganizationFactory,
    entry_number_with_check_digit,
)

pytestmark = pytest.mark.django_db

_examples = itertools.count(1)
COMPARED = ("entry__entry_number", "path", "reasons", "deadline", "urgent", "deadline_passed", "cape_window_closes",
            "protest_deadline", "cit_deadline", "estimated_interest")


def _snapshot(qs: Any) -> dict[str, tuple[Any, ...]]:
    return {row[0]: row[1:] for row in qs.order_by("entry__entry_number").values_list(*COMPARED)}


def _fresh(entry_ids: list[int]) -> dict[str, tuple[Any, ...]]:
    """What the ruleset says about the entries' current facts: classify them again inside a savepoint, read the
    results, and roll back so the stored ones stay as the actions left them."""
    sid = transaction.savepoint()
    try:
        classify_entries(entry_ids=entry_ids, as_of=today_eastern())
        return _snapshot(Classification.objects.filter(entry_id__in=entry_ids))
    finally:
        transaction.savepoint_rollback(sid)


def test_every_stored_result_is_current_and_both_organisations_see_the_same(tmp_path: Path,
                                                                               django_capture_on_commit_callbacks: Any) -> None:
    from entries.ingest.intake import upload_create
    from entries.ingest.service import upload_process

    class OneTruth(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            n = next(_examples)
            self.n = n
            self.home = OrganizationFactory(name=f"Importer {n}", slug=f"truth-importer-{n}")
            self.broker = BrokerFactory(name=f"Broker {n}", slug=f"truth-broker-{n}")
            self.importer = ImporterFactory(ir_number=f"{20 + n % 70:02d}-{3000000 + n:07d}00", name=f"Heron {n} Inc",
                                            owner=self.home)
            grant_create(importer=self.importer, organization=self.broker)
            self.staff = {
                "importer": MembershipFactory(organization=self.home, user__username=f"t{n}-alice").user,
                "broker": MembershipFactory(organization=self.broker, user__username=f"t{n}-bob", role="staff").user,
            }
            self.numbers = [entry_number_with_check_digit(f"Q{n % 100:02d}{n:03d}{k:04d}"[:10]) for k in range(5)]
            self.uploads = itertools.count(1)
            self.claims = itertools.count(100000241000 + 100 * n)

        def org(self, side: str) -> Any:
            return self.home if side == "importer" else self.broker

        def may_act(self, side: str) -> bool:
            return side == "importer" or ImporterGrant.objects.filter(
                importer=self.importer, organization=self.broker, revoked_at__isnull=True).exists()

        def run(self, fn: Any) -> Any:
            with django_capture_on_commit_callbacks(execute=True):
                return fn()

        # ---------------------------------------------------------------- actions
        @rule(side=st.sampled_from(["importer", "broker"]), picks=st.sets(st.integers(0, 4), min_size=1, max_size=5),
              status=st.sampled_from(["unliquidated", "liquidated_recent", "liquidated_protest", "suspended"]),
              duty=st.sampled_from(["100.00", "250.00"]))
        def upload(self, side: str, picks: set[int], status: str, duty: str) -> None:
            if not self.may_act(side):
                return
            today = today_eastern()
            overrides: dict[str, Any] = {"Importer Number": Text(self.importer.ir_number), "Importer Name": self.importer.name}
            if status == "liquidated_recent":
                overrides |= {"Liquidation Status": "Liquidated", "Liquidation Date": today - timedelta(days=20)}
            elif status == "liquidated_protest":
                overrides |= {"Liquidation Status": "Liquidated", "Liquidation Date": today - timedelta(days=120)}
            elif status == "suspended":
                overrides |= {"Liquidation Status": "Suspended"}
            rows = [r for k in sorted(picks) for r in entry_rows(self.numbers[k], ieepa_duty=duty, **overrides)]
            path = write_csv(tmp_path / f"t{self.n}-{next(self.uploads)}.csv", rows)
            from django.core.files.uploadedfile import SimpleUploadedFile

            with django_capture_on_commit_callbacks(execute=False):
                upload = upload_create(organization=self.org(side), user=self.staff[side],
                                       file=SimpleUploadedFile(path.name, path.read_bytes()))
            done = self.run(lambda: upload_process(upload_id=upload.pk))
            assert done.status == "done", done.error_message

        @rule(side=st.sampled_from(["importer", "broker"]), k=st.integers(0, 4),
              fact=st.sampled_from(["drawback", "type09_filed", "protest_status"]), on=st.booleans())
        def set_fact(self, side: str, k: int, fact: str, on: bool) -> None:
            entry = Entry.objects.filter(entry_number=self.numbers[k]).first()
            if entry is None or not self.may_act(side):
                return
            value: Any = ("open" if on else "none") if fact == "protest_status" else on
            self.run(lambda: entry_facts_update(entry=entry, user=self.staff[side], organization=self.org(side),
                                                **{fact: value}))

        @rule(side=st.sampled_from(["importer", "broker"]), accept=st.sets(st.integers(0, 4)))
        def file_in_cape(self, side: str, accept: set[int]) -> None:
            if not self.may_act(side):
                return
            org, user = self.org(side), self.staff[side]
            built = self.run(lambda: declaration_build(organization=org, user=user, importer_ids=[self.importer.pk]))
            if not built.declarations:
                return
            d = built.declarations[0]
            claim = str(next(self.claims))
            self.run(lambda: declaration_export(declaration=d, user=user))
            self.run(lambda: declaration_record_submission(declaration=d, submitted_on=timezone.localdate(),
                                                           claim_number=claim, user=user))
            numbers = list(d.items.values_list("entry__entry_number", flat=True))
            lines = ["ENTRY_NUMBER,CLAIM_NUMBER,STATUS,ERROR_DESCRIPTION"]
            for number in numbers:
                ok = self.numbers.index(number) in accept
                lines.append(f'="{number}",="{claim}",' + ("Entry Summary Updated," if ok else "Failed,HTS RELATIONSHIP MISMATCH"))
            data = ("\r\n".join(lines) + "\r\n").encode()
            self.run(lambda: declaration_import_claim_details(declaration=Declaration.objects.get(pk=d.pk), data=data,
                                                              filename="claims.csv", user=user))

        @rule(granted=st.booleans())
        def refund_route(self, granted: bool) -> None:
            try:
                self.run(lambda: importer_facts_update(
                    importer=self.importer, organization=self.home, user=self.staff["importer"],
                    paper_check_waiver_granted=granted, paper_check_waiver_date=timezone.localdate() if granted else None))
            except ServiceError:
                pass
            self.importer.refresh_from_db()

        @rule()
        def revoke_or_grant(self) -> None:
            grant = ImporterGrant.objects.filter(importer=self.importer, organization=self.broker, revoked_at__isnull=True).first()
            if grant is not None:
                self.run(lambda: grant_revoke(grant=grant, user=self.staff["importer"]))
            else:
                self.run(lambda: grant_create(importer=self.importer, organization=self.broker, user=self.staff["importer"]))

        # ---------------------------------------------------------------- what must always hold
        @invariant()
        def stored_results_are_current(self) -> None:
            ids = list(Entry.objects.filter(importer=self.importer).values_list("pk", flat=True))
            stored = _snapshot(Classification.objects.filter(entry_id__in=ids))
            assert set(stored) == set(Entry.objects.filter(pk__in=ids).values_list("entry_number", flat=True)), \
                "an entry has no stored classification"
            assert stored == _fresh(ids)

        @invariant()
        def both_organisations_see_one_truth(self) -> None:
            mine = _snapshot(classifications_for(self.home).filter(importer=self.importer))
            theirs = _snapshot(classifications_for(self.broker).filter(importer=self.importer))
            if self.may_act("broker"):
                assert theirs == mine
                assert set(entries_for(self.broker).filter(importer=self.importer)) == set(
                    entries_for(self.home).filter(importer=self.importer))
            else:
                assert theirs == {} and not entries_for(self.broker).filter(importer=self.importer).exists()
            assert Entry.objects.filter(entry_number__in=self.numbers).count() == len(set(
                Entry.objects.filter(entry_number__in=self.numbers).values_list("entry_number", flat=True)))

    run_state_machine_as_test(OneTruth, settings=settings(
        max_examples=12, stateful_step_count=8, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
