"""factory_boy factories shared by every app's tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from accounts.models import Importer, ImporterGrant, Membership, Organization
from entries.models import Entry, TariffLine

PASSWORD = "correct-horse-battery-9"


def entry_number_with_check_digit(first10: str) -> str:
    from entries.entrynumber import check_digit

    return first10 + str(check_digit(first10))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organisation {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")
    kind = Organization.Kind.IMPORTER


class BrokerFactory(OrganizationFactory):
    kind = Organization.Kind.BROKER
    name = factory.Sequence(lambda n: f"Broker {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Membership.Role.OWNER


class ImporterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Importer

    ir_number = factory.Sequence(lambda n: f"{10 + n % 89:02d}-{1000000 + n:07d}00")
    name = factory.Sequence(lambda n: f"Importer {n} Inc")
    status = Importer.Status.ACTIVE


class GrantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImporterGrant

    importer = factory.SubFactory(ImporterFactory)
    organization = factory.SubFactory(BrokerFactory)


def ensure_sees(organization: Organization | None, importer: Importer) -> None:
    """Make ``organization`` one that sees ``importer`` (accounts.selectors.importers_for), as the product does
    for an organisation that loads an importer's entries: an importer organisation owns an importer that has no
    owner yet; any other organisation (a broker) gets a grant."""
    from accounts.selectors import importers_for

    if organization is None or importers_for(organization).filter(pk=importer.pk).exists():
        return
    if ImporterGrant.objects.filter(importer=importer, organization=organization).exists():
        return  # a grant the test revoked: the organisation lost the importer on purpose
    if importer.owner_id is None and organization.kind == Organization.Kind.IMPORTER:
        importer.owner = organization
        importer.save(update_fields=["owner"])
    else:
        ImporterGrant.objects.get_or_create(importer=importer, organization=organization, revoked_at=None)


class EntryFactory(factory.django.DjangoModelFactory):
    """An entry (one per entry number, the importer's). ``organization``: an organisation that must see it
    (given an ownership or a grant when it does not yet); entries have no organisation of their own."""

    class Meta:
        model = Entry
        skip_postgeneration_save = True

    importer = factory.SubFactory(ImporterFactory)
    entry_number = factory.Sequence(lambda n: entry_number_with_check_digit(f"ABC{n:07d}"))
    entry_type = "01"
    entry_date = date(2026, 1, 20)
    entry_summary_date = date(2026, 1, 28)
    liquidation_status = Entry.LiquidationStatus.UNLIQUIDATED
    ieepa_duty = Decimal("1200.00")
    total_duty = Decimal("1200.00")
    has_liquidation_columns = True

    @factory.post_generation
    def organization(obj, create, extracted, **kwargs):  # noqa: N805
        if create and extracted is not None:
            ensure_sees(extracted, obj.importer)


class TariffLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TariffLine

    entry = factory.SubFactory(EntryFactory)
    line_number = 1
    ordinal = factory.Sequence(lambda n: n + 1)
    hts = "9903012500"
    duty = Decimal("100.00")
    is_ieepa = True


def api_key_for(user, *, expires_at=None) -> str:  # type: ignore[no-untyped-def]
    """A new API token for the user (replacing any it had): its key, known only at this moment (the database
    holds its hash)."""
    from accounts.api_tokens import api_token_create

    return api_token_create(user=user, expires_at=expires_at)[1]
