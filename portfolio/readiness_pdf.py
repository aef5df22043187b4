"""The refund readiness PDF of one importer (/cape/exports/importers/<pk>/readiness.pdf): its paths and
figures, deadlines, the checks to settle before filing and the readiness checklist (portfolio.readiness).
It reads every app, so it lives in the top layer (it was cape.exports')."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Q, Sum
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Importer, Organization
from ach.models import NotifyParty
from ach.selectors import refund_recipient
from cape.declarations import declarations_for, rejected_entries_waiting
from cape.exports import ZERO
from cape.models import CAPE_PATHS, Classification, DeclarationEntry, Path
from cape.refunds import expected_dates, refund_summary
from cape.rules import CAPE_WINDOW_WORDS
from entries.models import Entry
from portfolio.readiness import importer_readiness


@dataclass
class ChecklistItem:
    label: str
    ok: bool
    detail: str


def readiness_context(organization: Organization, importer: Importer, as_of: date | None = None) -> dict[str, Any]:
    as_of = as_of or timezone.localdate()
    cls = Classification.objects.filter(importer=importer)
    by_path: dict[str, Any] = {r["path"]: r for r in cls.values("path").annotate(n=Count("pk"), duty=Sum("ieepa_duty"), interest=Sum("estimated_interest"))}
    labels = dict(Path.choices)
    path_rows = [{"label": labels[p.value], "path": p.value, "entries": by_path.get(p.value, {}).get("n", 0),
                  "duty": by_path.get(p.value, {}).get("duty") or ZERO, "interest": by_path.get(p.value, {}).get("interest") or ZERO}
                 for p in Path]
    entries = Entry.objects.filter(importer=importer)
    unclassified = entries.filter(classification__isnull=True).count()
    deadlines = list(
        cls.filter(deadline__isnull=False, deadline__gte=as_of - timedelta(days=30)).select_related("entry").order_by("deadline")[:40]
    )
    recipient = refund_recipient(importer)
    notify = NotifyParty.objects.filter(importer=importer).first()
    cape_count = sum(r["entries"] for r in path_rows if r["path"] in CAPE_PATHS)
    on_decl = DeclarationEntry.objects.filter(entry__importer=importer,
                                              declaration__status__in=("draft", "exported", "submitted", "accepted", "accepted_with_errors")).exclude(outcome="rejected")
    not_declared = cls.filter(path__in=CAPE_PATHS).exclude(entry_id__in=on_decl.values("entry_id")).count()
    psc_waiting = [i for i in rejected_entries_waiting(organization) if i.entry.importer_id == importer.pk]
    open_protests = entries.filter(protest_status__in=("open", "suspended"), classification__path__in=CAPE_PATHS).count()
    checklist = [
        ChecklistItem("ES-003 data loaded with liquidation columns", entries.exists() and not entries.filter(has_liquidation_columns=False).exists(),
                      f"{entries.count():,} entries; {entries.filter(has_liquidation_columns=False).count():,} without Liquidation Status/Date columns"),
        ChecklistItem("Every entry classified", unclassified == 0, f"{unclassified:,} not classified yet"),
        ChecklistItem("ACH refund route active (ACE ACH Refund Authorization)", recipient.can_be_paid,
                      "refunds go to " + (recipient.name if recipient.can_be_paid else "nobody: enroll for ACH refunds in ACE") ),
        ChecklistItem("4811 notify party settled before filing", notify is None or notify.receives_refund,
                      "none recorded (refund goes to the importer)" if notify is None else
                      (f"{notify.name} receives the refund" if notify.receives_refund else f"{notify.name} is recorded but not fully set (ACE profile, box 28, ACH)")),
        ChecklistItem("Post-summary corrections filed before re-declaring", not psc_waiting, f"{len(psc_waiting):,} rejected entries wait for a PSC"),
        ChecklistItem("No open protest on CAPE entries", open_protests == 0, f"{open_protests:,} CAPE-path entries with an open protest"),
        ChecklistItem("Every CAPE-eligible entry on a declaration", not_declared == 0, f"{not_declared:,} of {cape_count:,} eligible entries not yet declared"),
    ]
    # The readiness checklist is the dashboard's and the readiness page's (portfolio.readiness): one list of
    # steps and one count of steps done, wherever it is shown. The entry checks above are what to settle
    # before filing, listed apart and not counted as checklist steps.
    steps = importer_readiness(importer, organization=organization)
    summary = refund_summary(organization, importer)
    decls = declarations_for(organization).filter(Q(importer=importer) | Q(items__entry__importer=importer)).distinct().order_by("-created_at")[:30]
    return {
        "organization": organization, "importer": importer, "as_of": as_of, "generated": timezone.localtime(),
        "path_rows": path_rows, "total_entries": sum(r["entries"] for r in path_rows) + unclassified,
        "total_duty": sum((r["duty"] for r in path_rows), ZERO), "cape_duty": sum((r["duty"] for r in path_rows if r["path"] in CAPE_PATHS), ZERO),
        "deadlines": deadlines, "entry_checks": checklist, "steps": steps,
        "ready_count": sum(1 for st in steps if st.is_ready), "step_count": len(steps),
        "recipient": recipient, "summary": summary, "cape_window_words": CAPE_WINDOW_WORDS,
        "declarations": [(d, expected_dates(d.accepted_on)) for d in decls],
    }


def readiness_pdf(organization: Organization, importer: Importer) -> bytes:
    from weasyprint import HTML

    html = render_to_string("pdf/readiness.html", readiness_context(organization, importer))
    return HTML(string=html).write_pdf()
