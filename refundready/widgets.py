"""Form widgets that render without the template engine where Django's own rendering is the cost."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe


def _attrs(attrs: dict[str, Any]) -> SafeString:
    """django/forms/widgets/attrs.html: in the given order (flatatt sorts), True bare, False left out."""
    return format_html_join(
        "", "{}", ((format_html(" {}", k) if v is True else format_html(' {}="{}"', k, v),) for k, v in attrs.items()
                   if v is not False)
    )


class QuickSelect(forms.Select):
    """A ``<select>`` whose options are joined in Python, byte for byte what ``forms.Select`` renders.

    Django renders every ``<option>`` through a template include (about 40 µs each): the entries
    list's importer filter, one option per client importer, cost a broker with 200 importers more
    than all of the page's queries. Grouped choices fall back to the template rendering."""

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        wanted = set(self.format_value(value))
        selected_one = False
        parts: list[str] = [format_html('<select name="{}"{}>', name, _attrs(self.build_attrs(self.attrs, attrs)))]
        label: Any  # a str or lazy string once a group (a list or tuple) has returned
        # one pass, no len(): ModelChoiceIterator's len() is a COUNT query
        for option_value, label in self.choices:
            if isinstance(label, (list, tuple)):
                return super().render(name, value, attrs, renderer)  # optgroups: keep Django's rendering
            text = "" if option_value is None else str(option_value)
            selected = not selected_one and text in wanted
            selected_one = selected_one or selected
            # the option template ends with a newline: "\n  <option ...>label</option>\n"
            parts.append(
                f'\n  <option value="{conditional_escape(text)}"{" selected" if selected else ""}>'
                f"{conditional_escape(label)}</option>\n"
            )
        parts.append("\n</select>")
        return mark_safe("".join(parts))  # every piece escaped above
