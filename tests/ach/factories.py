"""Factories for ACH tests."""

from __future__ import annotations

import factory

from ach.models import AchEnrollment, NotifyParty
from tests.factories import ImporterFactory


class AchEnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AchEnrollment

    importer = factory.SubFactory(ImporterFactory)
    status = AchEnrollment.Status.NOT_STARTED


class NotifyPartyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NotifyParty

    importer = factory.SubFactory(ImporterFactory)
    name = "Harbor Customs Brokerage"
    ir_number = "12-345678900"
