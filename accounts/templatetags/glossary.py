"""``{% term "HTS" %}``: a CBP term with its plain words (accounts/data/glossary.json).

Renders ``<abbr class="term-abbr" title="plain words">HTS</abbr>``; ``{% term "IOR" "importer of
record" %}`` shows other text for the same term. An unknown term is a template error, so every term a
page names has its plain words."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from django import template
from django.utils.html import format_html

register = template.Library()
GLOSSARY_FILE = Path(__file__).resolve().parent.parent / "data" / "glossary.json"


@lru_cache(maxsize=1)
def glossary() -> dict[str, dict[str, Any]]:
    """Term → {plain, match, source}."""
    data = json.loads(GLOSSARY_FILE.read_text(encoding="utf-8"))["terms"]
    return {k: v | {"patterns": [re.compile(p) for p in v["match"]]} for k, v in data.items()}


@register.simple_tag
def term(key: str, text: str = "") -> str:
    entry = glossary().get(key)
    if entry is None:
        raise template.TemplateSyntaxError(f"{{% term %}}: {key!r} is not in accounts/data/glossary.json")
    return format_html('<abbr class="term-abbr" title="{}" data-term="{}">{}</abbr>', entry["plain"], key, text or key)


@register.inclusion_tag("partials/terms.html")
def terms(*keys: str) -> dict[str, Any]:
    """A page's "CBP terms in plain words" list: each term with its plain words beside it."""
    known = glossary()
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise template.TemplateSyntaxError(f"{{% terms %}}: {unknown} not in accounts/data/glossary.json")
    return {"terms": [(k, known[k]["plain"]) for k in keys]}
