"""Classification services. TEMPORARY: the classification capability (issue 4) replaces this module."""

from __future__ import annotations


def classify_upload_entries(*, upload_id: int) -> None:
    return None
