"""Browser-test fixtures: the Chromium page, the personas and fresh_cache live in tests/conftest.py."""
