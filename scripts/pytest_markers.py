"""pytest plugin for CI (`-p scripts.pytest_markers`): writes each test's markers into the JUnit report as a
`markers` property, so that scripts/check_no_skipped_browser_tests.py can tell which skipped tests matter."""

from __future__ import annotations

import pytest

WATCHED = ("browser", "postgres", "worker")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = sorted({m.name for m in item.iter_markers() if m.name in WATCHED})
        item.user_properties.append(("markers", ",".join(names)))
