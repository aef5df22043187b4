"""Company-name normalisation for the 5106 name check of the account application.

CBP's automated application checks that "the IR# and company name match an existing 5106 importer
record" (seed 001) without saying how strictly. We compare names after normalising what people
type differently for the same company: case, accents, punctuation, "&" versus "and", a leading
"The" and the legal-form suffixes (Inc, LLC, Corp, Co, Ltd...). Words inside the name are kept:
"Blue Heron Co Housewares" and "Blue Heron Housewares" do not match.
"""

from __future__ import annotations

import re
import unicodedata

# Legal-form words removed from the END of a name, repeatedly ("Acme Trading Co., Ltd." -> "acme trading").
# Written after punctuation removal: "L.L.C." becomes "llc", "S.A. de C.V." becomes "sa de cv".
LEGAL_SUFFIXES: tuple[tuple[str, ...], ...] = tuple(
    tuple(s.split())
    for s in (
        "incorporated",
        "inc",
        "corporation",
        "corp",
        "company",
        "co",
        "limited",
        "ltd",
        "llc",
        "l l c",
        "lc",
        "llp",
        "lllp",
        "lp",
        "pllc",
        "plc",
        "pc",
        "pa",
        "gmbh",
        "ag",
        "kg",
        "sa de cv",
        "sa",
        "srl",
        "sarl",
        "sas",
        "spa",
        "bv",
        "nv",
        "oy",
        "ab",
        "as",
        "aps",
        "kk",
        "pty",
        "pte",
        "pvt",
        "sdn bhd",
        "bhd",
        "ulc",
    )
)
# Longest first so that "sa de cv" is removed before "cv" could be considered.
LEGAL_SUFFIXES = tuple(sorted(LEGAL_SUFFIXES, key=len, reverse=True))

_DROP = re.compile(r"[.'\u2019`]")  # removed without a space: "L.L.C." -> "LLC", "Macy's" -> "Macys"
_SPACE = re.compile(r"[^0-9a-z]+")


def normalize_company_name(name: str) -> str:
    """The comparable form of a company name: lower case, ASCII letters and digits, single spaces,
    no leading "the", no trailing legal-form suffixes. Never empty for a non-blank name."""
    text = unicodedata.normalize("NFKD", name or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace("&", " and ").replace("+", " and ")
    text = _DROP.sub("", text)
    words = _SPACE.sub(" ", text).split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    stripped = True
    while stripped:
        stripped = False
        for suffix in LEGAL_SUFFIXES:
            n = len(suffix)
            if len(words) > n and tuple(words[-n:]) == suffix:
                words = words[:-n]
                stripped = True
                break
    return " ".join(words)


def company_names_match(a: str, b: str) -> bool:
    na, nb = normalize_company_name(a), normalize_company_name(b)
    return bool(na) and na == nb
