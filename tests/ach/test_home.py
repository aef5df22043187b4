"""The broker ACH table: what each row says about who receives the refund."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from ach.models import AchEnrollment
from tests.ach.factories import AchEnrollmentFactory
from tests.factories import GrantFactory, ImporterFactory

pytestmark = pytest.mark.django_db


class _Table(HTMLParser):
    """Rows of the ACH table as lists of cell texts (whitespace collapsed)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
        elif tag == "td" and self._in_body:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _recipient_cells(html: str) -> dict[str, str]:
    table = _Table()
    table.feed(html)
    # column 0 is "name | IR number", column 3 "Who receives the refund"
    return {row[0].split(" | ")[0]: row[3] for row in table.rows}


def test_each_ach_status_shows_its_own_recipient_text(client, bob, broker_org) -> None:  # type: ignore[no-untyped-def]
    for name, status in [("Entered Co", AchEnrollment.Status.ENTERED), ("Active Co", AchEnrollment.Status.ACTIVE),
                         ("Not Started Co", AchEnrollment.Status.NOT_STARTED)]:
        imp = ImporterFactory(name=name)
        GrantFactory(importer=imp, organization=broker_org)
        AchEnrollmentFactory(importer=imp, status=status)
    client.force_login(bob)
    cells = _recipient_cells(client.get(reverse("ach_home")).content.decode())
    assert cells["Entered Co"] == "Importer of record: Entered Co | Entered, not yet seen active in ACE"
    assert cells["Active Co"] == "Importer of record: Active Co"
    assert cells["Not Started Co"] == "Importer of record: Not Started Co | Refund would bounce: no ACH account to pay"
