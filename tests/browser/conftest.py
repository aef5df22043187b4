"""Browser-test fixtures (the Chromium page and the personas live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    """An empty cache before and after: the cached dashboard and portfolio summaries must not carry over
    between tests that share the live server."""
    cache.clear()
    yield
    cache.clear()
