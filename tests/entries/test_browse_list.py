"""The entries list's importer filter: the organisation's importers only, labelled as Importer.__str__
(SSN-form numbers masked), an importer outside the organisation refused beside the field."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Importer
from tests.factories import GrantFactory, ImporterFactory

pytestmark = pytest.mark.django_db


def test_the_importer_choices_are_the_visible_importers_labelled_as_everywhere_else(client, bob, broker_org, charlie) -> None:  # type: ignore[no-untyped-def]
    person = ImporterFactory(name="", ir_number="123-45-6789", owner=None)  # an SSN-form IR number
    GrantFactory(importer=person, organization=broker_org)
    client.force_login(bob)
    form = client.get(reverse("entry_list")).context["form"]
    choices = [(str(v), label) for v, label in form.fields["importer"].choices]
    visible = Importer.objects.filter(grants__organization=broker_org).order_by("name", "ir_number")
    assert choices == [("", "All importers")] + [(str(i.pk), str(i)) for i in visible]
    assert (str(person.pk), "Unnamed importer (***-**-6789)") in choices
    outsider = Importer.objects.get(owner__slug="outsider")
    assert str(outsider.pk) not in dict(choices)


def test_an_importer_of_another_organisation_is_refused_beside_the_field(client, bob, broker_org, charlie) -> None:  # type: ignore[no-untyped-def]
    outsider = Importer.objects.get(owner__slug="outsider")
    client.force_login(bob)
    r = client.get(reverse("entry_list"), {"importer": str(outsider.pk)})
    assert r.status_code == 200
    assert "Select a valid choice. That choice is not one of the available choices." in r.content.decode()
    assert r.context["filters"].importer_id is None  # the invalid field is ignored, the list unfiltered
