"""{% reclassifying_notice %}: the "reclassifying…" notice with its progress bar, on every page that shows
paths (cape.selectors.reclassifying), for the acting organisation."""

from __future__ import annotations

from typing import Any

from django import template

from cape.selectors import reclassifying

register = template.Library()


@register.inclusion_tag("entries/reclassifying.html", takes_context=True)
def reclassifying_notice(context: Any) -> dict[str, Any]:
    request = context.get("request")
    return {"reclassifying": reclassifying(getattr(request, "organization", None))}
