"""Settings for mypy's Django plugin only (pyproject.toml [tool.django-stubs]), never for running the app.

The plugin imports the settings to learn the installed apps and their models. The real settings refuse to load
without SECRET_KEY and FIELD_ENCRYPTION_KEY unless DEBUG is on, so `mypy` on a fresh clone or in CI (where
neither is set) would fail before it checked anything. DEBUG is forced on here, in mypy's own process, and the
data directory (which the settings create) is one of its own, so a type check never touches a running app's.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ["DEBUG"] = "true"
os.environ["DATA_DIR"] = str(Path(__file__).resolve().parent.parent / "data" / "typecheck")

from refundready.settings import *  # noqa: E402, F403
