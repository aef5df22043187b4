"""Factories for the onboarding models (issue 6)."""

from __future__ import annotations

import factory

from accounts.models import Form5106Record, ReadinessState
from tests.factories import ImporterFactory


class Form5106RecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Form5106Record

    importer = factory.SubFactory(ImporterFactory, owner=None)
    company_name = factory.LazyAttribute(lambda r: r.importer.name)
    poc_email = factory.Sequence(lambda n: f"poc{n}@importer{n}.example")
    address = "1 Harbor Way\nNewark, NJ 07102"


class ReadinessStateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReadinessState

    importer = factory.SubFactory(ImporterFactory)
