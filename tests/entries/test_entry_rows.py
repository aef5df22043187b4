"""cape.templatetags.entry_rows renders the entries list's rows exactly as the template loop it
replaced (kept below as the reference), for urgent, passed and undated entries, unnamed importers
(masked SSN-form numbers) and names that need escaping."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.template import engines

from cape import rules
from cape.models import Classification, Path
from cape.selectors import EntryFilters, entry_page, reason_label
from cape.templatetags.entry_rows import entry_rows
from tests.cape.factories import ClassificationFactory
from tests.factories import EntryFactory, ImporterFactory

pytestmark = pytest.mark.django_db

REFERENCE = """{% load money %}{% for c in rows %}
    <tr class="{% if c.deadline_passed %}passed{% elif c.urgent %}urgent{% endif %}">
      <td class="mono"><a href="{% url 'entry_detail' c.entry_id %}">{{ c.entry.entry_number_display }}</a></td>
      <td>{{ c.importer.name|default:c.importer.ir_display }}</td>
      <td>{{ c.entry.entry_type }}</td>
      <td><span class="path path-{{ c.path }}">{{ c.get_path_display }}</span></td>
      <td class="reasons">{% for r in c.explained %}<span class="reason"><button type="button" class="badge{% if r.code == 'urgent' or r.code == 'deadline_passed' %} urgent{% endif %}" aria-describedby="reason-{{ c.entry_id }}-{{ forloop.counter0 }}" data-code="{{ r.code }}">{{ r.label }}</button><span class="reason-tip" role="tooltip" id="reason-{{ c.entry_id }}-{{ forloop.counter0 }}">{{ r.tip }}</span></span> {% endfor %}</td>
      <td>{% if c.deadline %}<span class="deadline-kind">{{ c.kind }}</span> <time datetime="{{ c.deadline|date:"Y-m-d" }}">{{ c.deadline|date:"Y-m-d" }}</time>{% if c.deadline_passed %} <span class="badge bad">passed</span>{% elif c.urgent %} <span class="badge urgent">urgent</span>{% endif %}{% else %}–{% endif %}</td>
      <td class="num">${{ c.ieepa_duty|floatformat:"2g" }}</td>
    </tr>
  {% endfor %}"""
KINDS = {Path.CAPE_PHASE1: "CAPE window closes", Path.PROTEST: "Protest deadline", Path.CIT: "CIT deadline"}


def _explained(code: str) -> dict[str, str]:
    rule, source, _text = rules.explain(code)
    where = f"; Rule {rule}" if rule not in ("?", rules.EXTRA) else ""
    return {"code": code, "label": reason_label(code),
            "tip": f"Code: {code}{where}" + (f"; Source: {source}" if source else "")}


def test_the_rows_are_what_the_template_loop_rendered(importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    odd = ImporterFactory(owner=importer_org, name='Smith & "Sons" <Ltd>', ir_number="27-418830200")
    person = ImporterFactory(owner=importer_org, name="", ir_number="123-45-6789")
    today = date(2026, 11, 22)
    specs = [
        (own_importer, Path.CAPE_PHASE1, today + timedelta(days=5), True, False, ["within_80_days", "urgent"], "1234567.89"),
        (odd, Path.PROTEST, today - timedelta(days=3), False, True, ["deadline_passed", "R12"], "0.50"),
        (person, Path.WAIT, None, False, False, [], "0.00"),
        (own_importer, Path.CIT, today + timedelta(days=300), False, False, ["<script>"], "90.00"),
    ]
    for importer, path, deadline, urgent, passed, reasons, duty in specs:
        entry = EntryFactory(organization=importer_org, importer=importer, ieepa_duty=Decimal(duty), entry_type="11")
        ClassificationFactory(entry=entry, path=path, deadline=deadline, urgent=urgent, deadline_passed=passed,
                              reasons=reasons, ieepa_duty=Decimal(duty))
    rows = entry_page(importer_org, EntryFilters()).rows
    assert len(rows) == 4 and Classification.objects.count() == 4
    for c in rows:
        c.explained = [_explained(code) for code in c.reasons]
        c.kind = KINDS.get(c.path, "")
    expected = engines["django"].from_string(REFERENCE).render({"rows": rows})
    assert str(entry_rows(rows)) == expected
    assert "Smith &amp; &quot;Sons&quot; &lt;Ltd&gt;" in expected and "***-**-6789" in expected and "&lt;script&gt;" in expected
    assert ">Liquidated fewer than 80 days ago</button>" in expected and "Code: within_80_days; Rule R12" in expected


def test_no_rows_render_nothing() -> None:
    assert str(entry_rows([])) == ""


def test_the_list_reads_only_what_the_rows_show_and_no_column_per_row(client, alice, importer_org, own_importer) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    def queries() -> list[str]:
        client.get(reverse("entry_list"))  # totals cached
        with CaptureQueriesContext(connection) as q:
            assert client.get(reverse("entry_list")).status_code == 200
        return [x["sql"] for x in q.captured_queries]

    client.force_login(alice)
    entry = EntryFactory(organization=importer_org, importer=own_importer)
    ClassificationFactory(entry=entry, path=Path.WAIT)
    one = queries()
    for _ in range(30):
        ClassificationFactory(entry=EntryFactory(organization=importer_org, importer=own_importer), path=Path.PROTEST,
                              deadline=date(2026, 12, 1))
    many = queries()
    assert len(many) == len(one)  # a deferred column read per row would add 30
    page_sql = next(s for s in many if 'FROM "cape_classification"' in s)
    assert '"entries_entry"."liquidation_date"' not in page_sql and '"entries_entry"."entry_number"' in page_sql
