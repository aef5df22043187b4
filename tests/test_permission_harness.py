"""Every URL pattern and API route, requested by outsiders, returns none of a tenant's data.

The routes are enumerated from the URLconf, so a new route is covered without anyone listing it.
Integer URL arguments are filled with the primary keys of the tenant's own objects, so a route that
fetches by id without scoping to the acting organisation leaks and fails here.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.factories import EntryFactory, TariffLineFactory

MARKERS = ["Blue Heron", "93-417726100", "417726100", "BHX0000001"]


def _walk(patterns: list[Any], namespace: str | None = None) -> list[tuple[str, list[str], dict[str, Any]]]:
    found = []
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = p.namespace if p.namespace else namespace
            full = f"{namespace}:{ns}" if namespace and p.namespace and namespace != p.namespace else ns
            found += _walk(p.url_patterns, full)
        elif isinstance(p, URLPattern) and p.name:
            regex = p.pattern.regex
            converters = getattr(p.pattern, "converters", {})
            found.append((f"{namespace}:{p.name}" if namespace else p.name, list(regex.groupindex), converters))
    return found


def _tenant_pks() -> list[int]:
    """Primary keys of every tenant-owned row (all of which belong to the victim tenant here)."""
    pks: set[int] = set()
    for model in apps.get_models():
        if model._meta.app_label in {"accounts", "entries", "cape", "ach"}:
            pks.update(model.objects.values_list("pk", flat=True)[:20])
    return sorted(pks) or [1]


def _urls(victim_slug: str) -> list[str]:
    urls = set()
    pks = _tenant_pks()
    for name, args, converters in _walk(get_resolver().url_patterns):
        if not args:
            try:
                urls.add(reverse(name))
            except Exception:
                pass
            continue
        choices = []
        for arg in args:
            conv = converters.get(arg)
            conv_name = type(conv).__name__ if conv else ""
            if arg == "format":
                choices.append(["json"])
            elif "Int" in conv_name or arg in {"pk", "id"} or arg.endswith("_id") or arg.endswith("_pk"):
                choices.append([str(pk) for pk in pks])
            elif "UUID" in conv_name:
                choices.append(["00000000-0000-0000-0000-000000000001"])
            else:
                choices.append([victim_slug, "1"])
        for combo in itertools.product(*choices):
            try:
                urls.add(reverse(name, kwargs=dict(zip(args, combo))))
            except Exception:
                continue
    return sorted(urls)


@pytest.fixture
def victim(alice, broker_org):  # type: ignore[no-untyped-def]
    from accounts.models import Importer

    importer = Importer.objects.get(ir_number="93-417726100")
    entry = EntryFactory(organization=importer.owner, importer=importer, entry_number="BHX0000001" + "0")
    TariffLineFactory(entry=entry)
    return importer


def _assert_no_tenant_data(client: Client, url: str, method: str) -> None:
    response = getattr(client, method)(url, follow=False)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode("utf-8", errors="replace")
    for marker in MARKERS:
        assert marker not in text, f"{method.upper()} {url} -> {response.status_code} leaked {marker!r}"
    assert response.status_code < 500, f"{method.upper()} {url} -> {response.status_code}"


@pytest.mark.django_db
def test_every_route_reveals_nothing_when_logged_out(victim, client) -> None:  # type: ignore[no-untyped-def]
    urls = _urls("blue-heron")
    assert len(urls) > 10
    for url in urls:
        _assert_no_tenant_data(client, url, "get")
        _assert_no_tenant_data(client, url, "post")


@pytest.mark.django_db
def test_every_route_reveals_nothing_to_another_organisation(victim, charlie, client) -> None:  # type: ignore[no-untyped-def]
    client.force_login(charlie)
    urls = _urls("blue-heron")
    for url in urls:
        _assert_no_tenant_data(client, url, "get")
        _assert_no_tenant_data(client, url, "post")


@pytest.mark.django_db
def test_the_harness_would_catch_a_leak(victim, alice, client) -> None:  # type: ignore[no-untyped-def]
    """The same routes as the owner do show the data: the markers are real."""
    client.force_login(alice)
    seen = "".join(client.get(url).content.decode(errors="replace") for url in _urls("blue-heron") if "admin" not in url)
    assert "Blue Heron" in seen
