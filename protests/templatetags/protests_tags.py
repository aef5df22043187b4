"""The dashboard's protest card: entries under a pending protest, protests drafted and filed, entries ready."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.db.models import Count, Q, Sum

from cape.models import Path
from cape.selectors import classifications_for
from protests.models import Protest
from protests.selectors import protests_for

register = template.Library()


@register.inclusion_tag("protests/_dashboard_card.html", takes_context=True)
def protests_card(context: Any, importer: Any = None) -> dict[str, Any]:
    org = getattr(context.get("request"), "organization", None)
    cls = classifications_for(org).filter(path=Path.PROTEST)
    protests = protests_for(org)
    if importer is not None:
        cls, protests = cls.filter(importer=importer), protests.filter(importer=importer)
    pending = Q(reasons_text__contains="|protest_pending|")
    figures = cls.aggregate(pending=Count("pk", filter=pending), pending_duty=Sum("ieepa_duty", filter=pending),
                            ready=Count("pk", filter=~pending), ready_duty=Sum("ieepa_duty", filter=~pending))
    by_status = dict(protests.values_list("status").annotate(n=Count("pk")).order_by())
    return {
        "importer": importer, "pending": figures["pending"], "pending_duty": figures["pending_duty"] or Decimal("0.00"),
        "ready": figures["ready"], "ready_duty": figures["ready_duty"] or Decimal("0.00"),
        "drafts": by_status.get(Protest.Status.DRAFT, 0) + by_status.get(Protest.Status.EXPORTED, 0),
        "filed": by_status.get(Protest.Status.FILED, 0), "decided": by_status.get(Protest.Status.DECIDED, 0),
    }
