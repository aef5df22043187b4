"""schemathesis against our own OpenAPI schema: no server error, no response that breaks the schema."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from refundready.wsgi import application

# Loaded at collection (generating the schema touches no database); schemathesis' lazy from_fixture
# loader reads a private pytest attribute that pytest 9.2 removed. Cases are sent to the WSGI app.
schema = schemathesis.openapi.from_dict(Client().get("/api/schema/", {"format": "json"}).json())
schema.app = application  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _keep_test_connection_open():  # type: ignore[no-untyped-def]
    """Like django.test.Client: the WSGI calls must not close the test transaction's connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_token(alice, broker_org, charlie) -> str:  # type: ignore[no-untyped-def]
    return Token.objects.create(user=alice).key


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_api_conforms_to_its_schema(case, api_token) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(
        headers={"Authorization": f"Token {api_token}"},
        checks=[not_a_server_error, response_schema_conformance],
    )


def test_the_schema_is_valid_and_documented(tmp_path, db) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/importers/" in out.read_text()


def test_the_interactive_docs_serve_their_assets_locally(client, db) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in html and "cdn" not in html.lower()
    assert "/static/drf_spectacular_sidecar/" in html
