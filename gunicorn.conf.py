"""gunicorn settings read from the working directory (the Docker image's /app, bench/web.py's repo root):
only a hook; workers, bind and timeout stay on the command line."""

from __future__ import annotations

import gc
from typing import Any


def post_worker_init(worker: Any) -> None:
    """Load every view now and move what is loaded out of the cyclic garbage collector's sight.

    A worker holds ~130,000 long-lived objects (Django, the app, its URLconf and templates). Every
    few dozen requests Python's oldest-generation collection walked them all: 90-150 ms added to
    one request on a loaded 2-core machine (bench/web.py). Frozen, they are never walked again;
    what requests allocate is collected as before."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (imports every view module before the freeze)
    gc.collect()
    gc.freeze()
