"""Process-level memory helpers shared by the bulk jobs (ES-003 ingest, classification)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block.

    A bulk job keeps a few hundred thousand live objects (parsed entries, seen keys, fetched rows) and
    makes millions of short-lived ones; every automatic collection walks the live ones again, which
    cost a quarter of a large ingest's time. These jobs make no reference cycles worth collecting:
    reference counting frees their rows as they go, and collection resumes when the block ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
