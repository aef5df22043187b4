"""One way for a page to submit a form to a service (issue #21 item 5).

The pages repeat one step: bind the form; when it is valid, call the service with its cleaned data; a refusal
(``ServiceError``) goes beside the field it names, and the page is rendered again with the form; otherwise the
page says so and redirects. ``submit_form`` is that step up to the service's answer; the page keeps its message,
its redirect and its re-render, which differ from page to page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from django import forms

from refundready.errors import ServiceError

T = TypeVar("T")


class _NamedField:
    """The default ``error_field``: the field the error names (``ServiceError.field``) when the form has it, else
    the top of the form."""


NAMED_FIELD: Final = _NamedField()


@dataclass(frozen=True)
class Submitted(Generic[T]):
    """The form was valid and the service went through; ``result`` is what it returned."""

    result: T


def submit_form(
    form: forms.BaseForm, call: Callable[[dict[str, Any]], T], *, error_field: str | None | _NamedField = NAMED_FIELD
) -> Submitted[T] | None:
    """Validate the bound ``form`` and call ``call(form.cleaned_data)``. None when the form is invalid (its errors
    are on it) or the service refused (the message is added beside ``error_field``: by default the field the error
    names if the form has it, else the top of the form; a field name, or None for the top, puts it there)."""
    if not form.is_valid():
        return None
    try:
        result = call(form.cleaned_data)
    except ServiceError as exc:
        if isinstance(error_field, _NamedField):
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            form.add_error(error_field, exc.message)
        return None
    return Submitted(result)
