"""``{% entry_rows page.rows %}``: the entries list's table rows, joined in Python.

A page of 50 entries through the template engine (about a thousand variable, filter, ``{% url %}``
and ``{% if %}`` nodes) was the largest cost of the entries list after its queries. The markup is
exactly what the loop in tests/entries/test_entry_rows.py renders (kept there as the reference)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from accounts.templatetags.money import usd
from cape import rules
from cape.selectors import reason_label

register = template.Library()
URGENT_REASONS = ("urgent", "deadline_passed")
# The columns entry_rows reads: the entries list asks cape.selectors for these only.
FIELDS = (
    "entry_id", "importer_id", "path", "reasons", "deadline", "urgent", "deadline_passed", "ieepa_duty",
    "liquidated", "projected_liquidation_date", "protest_deadline", "protest_deadline_projected",
    "entry__entry_number", "entry__entry_type", "importer__name", "importer__ir_number",
)
# Which deadline a path's own deadline is (cape/rules.py sets Classification.deadline from these).
DEADLINE_KINDS = {
    rules.Path.CAPE_PHASE1: "CAPE window closes",  # liquidation + 79 days (CBP CAPE guidance, CSMS #67923154)
    rules.Path.CAPE_PHASE2: "CAPE window closes",
    rules.Path.PROTEST: "Protest deadline",  # 19 U.S.C. 1514(c)(3): 180 days after liquidation
    rules.Path.CIT: "CIT deadline",  # 28 U.S.C. 2636(i): two years after the claim accrues
}


def _detail_urls() -> Any:
    """entry id -> its detail URL, reversing once per page (the pattern is "<prefix><pk>/")."""
    probe = reverse("entry_detail", args=[0])
    if probe.endswith("/0/"):
        prefix = probe[:-2]
        return lambda pk: f"{prefix}{pk}/"
    return lambda pk: reverse("entry_detail", args=[pk])


def _dated(kind: str, when: date, *, projected: bool = False) -> str:
    mark = ' <span class="badge projected">projected</span>' if projected else ""
    return (f'<span class="deadline-kind">{escape(kind)}</span> '
            f'<time datetime="{when.isoformat()}">{when.isoformat()}</time>{mark}')


def deadline_cell(c: Any) -> str:
    """The path's deadline named for what it is; for an entry not liquidated yet, the deadlines its
    projected liquidation gives, marked projected."""
    kind = DEADLINE_KINDS.get(c.path)
    if c.deadline and kind:
        projected = c.path == rules.Path.PROTEST and c.protest_deadline_projected
        flag = (' <span class="badge bad">passed</span>' if c.deadline_passed
                else ' <span class="badge urgent">urgent</span>' if c.urgent else "")
        return _dated(kind, c.deadline, projected=projected) + flag
    if c.liquidated or c.path in (rules.Path.NOT_ELIGIBLE, rules.Path.FILED):
        return "–"
    parts = []
    if c.path in rules.CAPE_PATHS and c.projected_liquidation_date:
        # CAPE takes an entry fewer than 80 days after liquidation (CBP CAPE guidance, CSMS #67923154), so
        # once the entry liquidates as projected (entry date + 314 days, 19 U.S.C. 1504) the window closes then.
        closes = c.projected_liquidation_date + timedelta(days=rules.CAPE_WINDOW_DAYS - 1)
        parts.append(_dated("CAPE window closes", closes, projected=True))
    if c.protest_deadline and c.protest_deadline_projected:
        parts.append(_dated("Protest deadline", c.protest_deadline, projected=True))
    return "<br>".join(parts) or "–"


def _reason_badges(c: Any, explained: dict[str, tuple[str, str, str]]) -> str:
    out = []
    for i, code in enumerate(c.reasons):
        if code not in explained:
            rule, source, _text = rules.explain(code)
            explained[code] = (reason_label(code), rule, source)
        label, rule, source = explained[code]
        tip_id = f"reason-{c.entry_id}-{i}"
        where = f"Rule {rule}" if rule not in ("?", rules.EXTRA) else ""
        tip = "; ".join(x for x in (f"Code: {code}", where, f"Source: {source}" if source else "") if x)
        urgent = " urgent" if code in URGENT_REASONS else ""
        out.append(
            f'<span class="reason"><button type="button" class="badge{urgent}" aria-describedby="{tip_id}" '
            f'data-code="{escape(code)}">{escape(label)}</button>'
            f'<span class="reason-tip" role="tooltip" id="{tip_id}">{escape(tip)}</span></span> '
        )
    return "".join(out)


@register.simple_tag
def entry_rows(rows: Iterable[Any]) -> SafeString:
    """One ``<tr>`` per classification (with its entry and importer selected)."""
    detail_url = _detail_urls()
    explained: dict[str, tuple[str, str, str]] = {}
    out = []
    for c in rows:
        entry, importer = c.entry, c.importer
        state = "passed" if c.deadline_passed else ("urgent" if c.urgent else "")
        out.append(
            f'\n    <tr class="{state}">'
            f'\n      <td class="mono"><a href="{escape(detail_url(c.entry_id))}">{escape(entry.entry_number_display)}</a></td>'
            f"\n      <td>{escape(importer.name or importer.ir_display)}</td>"
            f"\n      <td>{escape(entry.entry_type)}</td>"
            f'\n      <td><span class="path path-{escape(c.path)}">{escape(c.get_path_display())}</span></td>'
            f'\n      <td class="reasons">{_reason_badges(c, explained)}</td>'
            f"\n      <td>{deadline_cell(c)}</td>"
            f'\n      <td class="num">${usd(c.ieepa_duty)}</td>'
            "\n    </tr>\n  "
        )
    return mark_safe("".join(out))  # every value escaped above
