"""Factories for CAPE tests: Classification rows made directly (never through the engine)."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone

from cape.models import Classification, Declaration, DeclarationEntry, Path
from tests.factories import EntryFactory


class ClassificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Classification

    entry = factory.SubFactory(EntryFactory)
    importer = factory.LazyAttribute(lambda c: c.entry.importer)
    ieepa_duty = factory.LazyAttribute(lambda c: c.entry.ieepa_duty)
    path = Path.CAPE_PHASE1
    reasons = factory.LazyAttribute(lambda c: ["unliquidated"])
    reasons_text = "|unliquidated|"
    ruleset = "test"
    as_of = factory.LazyFunction(timezone.localdate)


def eligible_entry(importer, organization=None, path: str = Path.CAPE_PHASE1, **entry_kwargs):  # type: ignore[no-untyped-def]
    """An entry of ``importer`` that ``organization`` sees (default: its owner), classified on ``path`` today."""
    org = organization or importer.owner
    entry = EntryFactory(organization=org, importer=importer, **entry_kwargs)
    ClassificationFactory(entry=entry, path=path)
    return entry


class DeclarationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Declaration

    name = factory.Sequence(lambda n: f"Declaration {n}")
    ieepa_duty = Decimal("0.00")


class DeclarationEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeclarationEntry

    declaration = factory.SubFactory(DeclarationFactory)
    position = factory.Sequence(lambda n: n + 1)
