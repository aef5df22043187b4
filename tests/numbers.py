"""The one money format and the one count format (issue #20 item 6), as a check over what people read.

Money is "$1,234.56" everywhere: a dollar amount without cents or without thousands separators is a fault.
A count is "12,007": a bare number of four or more digits is a fault where a count stands: in a figure cell
(``td.num``, a dashboard figure, a chart's value) or in a phrase that counts ("24000 entries", "of 12007").
Identifiers (entry numbers, IR numbers, HTS numbers, dates, CFR and U.S.C. sections) are left alone: they are
not counts and are written the way CBP writes them.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

MONEY_TOKEN = re.compile(r"\$\s?-?[\d,]*\d(?:\.\d+)?")
MONEY_OK = re.compile(r"\$-?\d{1,3}(?:,\d{3})*\.\d{2}")
NUMBER_TOKEN = re.compile(r"(?<![\w,.$/:-])\d[\d,]*(?:\.\d+)?(?![\w/:-])")
COUNT_OK = re.compile(r"\d{1,3}(?:,\d{3})*(?:\.\d+)?")
COUNT_NOUNS = (r"entr(?:y|ies)|lines?|importers?|declarations?|rows?|steps?|warnings?|findings?|refunds?|clients?"
               r"|files?|changes?|records?|candidates?|rejections?|urgent")
BARE_COUNT = re.compile(rf"(?<![\w$.,/:#-])\d{{4,}}(?![\w.,/:-])(?=\s*(?:{COUNT_NOUNS})\b)|\bof (\d{{4,}})(?![\w.,/:-])", re.I)
# CBP form numbers name a form ("5106 records", "7501 entry summaries"): they are not counts.
FORM_NUMBERS = {"3461", "4811", "5106", "7501", "7552"}
FIGURE_CLASSES = {"num", "stat-value", "bar-value", "n", "total"}


class _Text(HTMLParser):
    """The text a person reads (script and style left out) and the text of each figure cell."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.figures: list[str] = []
        self._skip = 0
        self._stack: list[tuple[str, bool]] = []
        self._figure_depth = 0
        self._figure_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        if tag in ("br", "img", "input", "meta", "link", "hr", "col", "wbr"):
            return
        classes = set((dict(attrs).get("class") or "").split())
        figure = bool(classes & FIGURE_CLASSES) and tag != "th"
        if figure and not self._figure_depth:
            self._figure_text = []
        self._figure_depth += figure
        self._stack.append((tag, figure))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        while self._stack:
            open_tag, figure = self._stack.pop()
            if figure:
                self._figure_depth -= 1
                if not self._figure_depth:
                    self.figures.append(" ".join("".join(self._figure_text).split()))
            if open_tag == tag:
                break
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.parts.append(data)
        if self._figure_depth:
            self._figure_text.append(data)


def read_html(html: str) -> tuple[str, list[str]]:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return " ".join("".join(parser.parts).split()), parser.figures


def text_problems(text: str) -> list[str]:
    """Money without cents or separators, and bare counts, in running text."""
    problems = [f"money {m.group(0)!r} is not $1,234.56" for m in MONEY_TOKEN.finditer(text)
                if not MONEY_OK.fullmatch(m.group(0).replace(" ", ""))]
    for m in BARE_COUNT.finditer(text):
        if (m.group(1) or m.group(0)) in FORM_NUMBERS:
            continue
        start = max(0, m.start() - 30)
        problems.append(f"count without thousands separators: …{text[start:m.end() + 20]}…")
    return problems


def figure_problems(figure: str) -> list[str]:
    """A figure cell: its money as money, every other number a count with separators."""
    problems = text_problems(figure)
    rest = MONEY_TOKEN.sub(" ", figure)
    for m in NUMBER_TOKEN.finditer(rest):
        if not COUNT_OK.fullmatch(m.group(0).rstrip(",")):
            problems.append(f"figure {figure!r}: {m.group(0)!r} is not 12,007")
    return problems


def html_problems(html: str) -> list[str]:
    text, figures = read_html(html)
    problems = text_problems(text)
    for figure in figures:
        problems += [p for p in figure_problems(figure) if p not in problems]
    return problems
