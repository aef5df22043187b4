"""Server-rendered SVG charts (no JavaScript, no CDN): they work offline, print, and read in a screen reader.

Each chart is an <svg role="img"> with a <title> and <desc>, text labels beside every bar, and the
page shows the same figures in a table (the accessible fallback).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from accounts.templatetags.money import format_money

PALETTE = ["#1f5fa8", "#3a86d1", "#b54708", "#7a2e0e", "#6b7280", "#1a7f37", "#9ca3af", "#9a6700"]


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal
    note: str = ""  # shown after the value, e.g. "12 entries"
    color: str = ""


# The widest a character of the chart's text is (13px system-ui, static/css/dashboard.css): digits are ~7.2 px,
# capitals up to ~9 px. The room beside the bars is measured from the longest value text with this, so that
# "$43,097,491.00 · 7,693 entries" is never cut at the chart's edge.
CHAR_PX = 8
MIN_PLOT = 160


def text_px(text: str) -> int:
    return len(text) * CHAR_PX


def money(value: Decimal) -> str:
    """The pages' one money format (accounts.templatetags.money): dollars and cents, "$43,097,491.00"."""
    return format_money(value)


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    desc: str = "",
    width: int = 640,
    bar_height: int = 22,
    label_width: int = 250,
    chart_id: str = "chart",
) -> SafeString:
    """A horizontal bar chart: label on the left, bar, value as text on the right of the bar; with, for a phone's
    width, the same chart with each label above its bar (static/css/dashboard.css shows one of the two: the wide
    drawing scaled into a phone's width made its text about 6 px tall)."""
    return mark_safe(  # noqa: S308 - both drawings escape every interpolated text
        _wide_chart(bars, title=title, desc=desc, width=width, bar_height=bar_height, label_width=label_width,
                    chart_id=chart_id)
        + _narrow_chart(bars, title=title, desc=desc, chart_id=f"{chart_id}-narrow")
    )


NARROW_WIDTH = 340


def _narrow_chart(bars: Sequence[Bar], *, title: str, desc: str, chart_id: str, bar_height: int = 14) -> str:
    """Label on its own line, then the bar with its value after it; drawn 340 wide, about the width it is shown at."""
    texts = [money(b.value) + (f" · {b.note}" if b.note else "") for b in bars]
    value_room = max([120, *(text_px(t) + 10 for t in texts)])
    width = max(NARROW_WIDTH, value_room + 80, *(text_px(b.label) for b in bars))
    plot = width - value_room
    step = 18 + bar_height + 10
    height = max(1, len(bars)) * step + 4
    top = max((b.value for b in bars), default=Decimal(0))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-narrow" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" aria-labelledby="{chart_id}-title {chart_id}-desc" id="{chart_id}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc or title)}</desc>',
    ]
    for i, (b, text) in enumerate(zip(bars, texts, strict=True)):
        y = 4 + i * step
        w = 0 if not top else int(plot * float(b.value / top))
        if b.value and w < 2:
            w = 2
        color = b.color or PALETTE[i % len(PALETTE)]
        bar_y = y + 18
        parts.append(
            f'<g class="bar" data-label="{escape(b.label)}" data-value="{b.value:.2f}">'
            f'<text x="0" y="{y + 9}" dominant-baseline="middle" class="bar-label">{escape(b.label)}</text>'
            f'<rect x="0" y="{bar_y}" width="{w}" height="{bar_height}" rx="3" fill="{color}"><title>{escape(b.label)}: {escape(text)}</title></rect>'
            f'<text x="{w + 6}" y="{bar_y + bar_height / 2}" dominant-baseline="middle" class="bar-value">{escape(text)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _wide_chart(bars: Sequence[Bar], *, title: str, desc: str, width: int, bar_height: int, label_width: int,
                chart_id: str) -> str:
    gap = 10
    texts = [money(b.value) + (f" · {b.note}" if b.note else "") for b in bars]
    value_room = max([170, *(text_px(t) + 12 for t in texts)])
    label_width = max([label_width, *(text_px(b.label) + 12 for b in bars)])
    # Long labels or values widen the drawing rather than squeeze the bars: the SVG scales to its box.
    width = max(width, label_width + MIN_PLOT + value_room)
    height = max(1, len(bars)) * (bar_height + gap) + gap
    top = max((b.value for b in bars), default=Decimal(0))
    plot = width - label_width - value_room
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-wide" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" aria-labelledby="{chart_id}-title {chart_id}-desc" id="{chart_id}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc or title)}</desc>',
    ]
    for i, (b, text) in enumerate(zip(bars, texts, strict=True)):
        y = gap + i * (bar_height + gap)
        w = 0 if not top else int(plot * float(b.value / top))
        if b.value and w < 2:
            w = 2
        color = b.color or PALETTE[i % len(PALETTE)]
        mid = y + bar_height / 2
        parts.append(
            f'<g class="bar" data-label="{escape(b.label)}" data-value="{b.value:.2f}">'
            f'<text x="{label_width - 8}" y="{mid}" text-anchor="end" dominant-baseline="middle" class="bar-label">{escape(b.label)}</text>'
            f'<rect x="{label_width}" y="{y}" width="{w}" height="{bar_height}" rx="3" fill="{color}"><title>{escape(b.label)}: {escape(text)}</title></rect>'
            f'<text x="{label_width + w + 6}" y="{mid}" dominant-baseline="middle" class="bar-value">{escape(text)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
