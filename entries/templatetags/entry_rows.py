"""``{% entry_rows page.rows %}``: the entries list's table rows, joined in Python.

A page of 50 entries through the template engine (about a thousand variable, filter, ``{% url %}``
and ``{% if %}`` nodes) was the largest cost of the entries list after its queries. The markup is
exactly what the loop in templates/entries/browse_list.html used to render (tests/entries/
test_entry_rows.py keeps that loop as the reference and compares)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from accounts.templatetags.money import usd

register = template.Library()
URGENT_REASONS = ("urgent", "deadline_passed")
# The columns entry_rows reads: the entries list asks cape.selectors.entry_page for these only.
FIELDS = (
    "entry_id", "importer_id", "path", "reasons", "deadline", "urgent", "deadline_passed", "ieepa_duty",
    "entry__entry_number", "entry__entry_type", "importer__name", "importer__ir_number",
)


def _detail_urls() -> Any:
    """entry id -> its detail URL, reversing once per page (the pattern is "<prefix><pk>/")."""
    probe = reverse("entry_detail", args=[0])
    if probe.endswith("/0/"):
        prefix = probe[:-2]
        return lambda pk: f"{prefix}{pk}/"
    return lambda pk: reverse("entry_detail", args=[pk])


@register.simple_tag
def entry_rows(rows: Iterable[Any]) -> SafeString:
    """One ``<tr>`` per classification (with its entry and importer selected)."""
    detail_url = _detail_urls()
    out = []
    for c in rows:
        entry, importer = c.entry, c.importer
        state = "passed" if c.deadline_passed else ("urgent" if c.urgent else "")
        reasons = "".join(
            f'<span class="badge{" urgent" if r in URGENT_REASONS else ""}">{escape(r)}</span> ' for r in c.reasons
        )
        if c.deadline:
            flag = (' <span class="badge bad">passed</span>' if c.deadline_passed
                    else ' <span class="badge urgent">urgent</span>' if c.urgent else "")
            deadline = f"{c.deadline.isoformat()}{flag}"
        else:
            deadline = "–"
        out.append(
            f'\n    <tr class="{state}">'
            f'\n      <td class="mono"><a href="{escape(detail_url(c.entry_id))}">{escape(entry.entry_number_display)}</a></td>'
            f"\n      <td>{escape(importer.name or importer.ir_display)}</td>"
            f"\n      <td>{escape(entry.entry_type)}</td>"
            f'\n      <td><span class="path path-{escape(c.path)}">{escape(c.get_path_display())}</span></td>'
            f'\n      <td class="reasons">{reasons}</td>'
            f"\n      <td>{deadline}</td>"
            f'\n      <td class="num">${usd(c.ieepa_duty)}</td>'
            "\n    </tr>\n  "
        )
    return mark_safe("".join(out))  # every value escaped above
