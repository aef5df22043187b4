"""refundready.widgets.QuickSelect renders exactly what Django's Select renders, without templates."""

from __future__ import annotations

import pytest
from django import forms

from refundready.widgets import QuickSelect

CHOICES = [("", "All importers"), (7, 'Smith & "Sons" <Trading>'), (12, "Blue Heron"), ("x", "Other")]


def _pair(**field_kwargs):  # type: ignore[no-untyped-def]
    class Plain(forms.Form):
        importer = forms.TypedChoiceField(choices=CHOICES, required=False, coerce=str, help_text="Pick one", **field_kwargs)

    class Quick(forms.Form):
        importer = forms.TypedChoiceField(choices=CHOICES, required=False, coerce=str, help_text="Pick one",
                                          widget=QuickSelect, **field_kwargs)

    return Plain, Quick


@pytest.mark.parametrize("data", [None, {}, {"importer": "12"}, {"importer": "7"}, {"importer": "nope"}, {"importer": ""}])
def test_it_renders_the_same_html_as_djangos_select(data) -> None:  # type: ignore[no-untyped-def]
    plain, quick = _pair()
    a, b = plain(data), quick(data)
    if data is not None:
        a.is_valid(), b.is_valid()
    assert str(b["importer"]) == str(a["importer"])


def test_it_escapes_labels_and_marks_an_invalid_choice_for_assistive_technology() -> None:
    _plain, quick = _pair()
    form = quick({"importer": "nope"})
    assert not form.is_valid()
    html = str(form["importer"])
    assert "Smith &amp; &quot;Sons&quot; &lt;Trading&gt;" in html
    assert 'aria-invalid="true"' in html and 'aria-describedby="id_importer_helptext id_importer_error"' in html
    assert html.count(" selected") == 0


def test_it_selects_only_the_chosen_option() -> None:
    _plain, quick = _pair()
    html = str(quick({"importer": "12"})["importer"])
    assert '<option value="12" selected>Blue Heron</option>' in html and html.count(" selected") == 1


def test_grouped_choices_fall_back_to_djangos_rendering() -> None:
    grouped = [("", "Any"), ("Ports", [("2704", "Los Angeles"), ("1001", "New York")])]
    plain = forms.Select(choices=grouped).render("port", "1001", {"id": "id_port"})
    quick = QuickSelect(choices=grouped).render("port", "1001", {"id": "id_port"})
    assert quick == plain and "<optgroup" in quick
