"""Company-name normalisation (the 5106 name check) and the EIN suffix rule of the IR number."""

from __future__ import annotations

import pytest

from accounts.irnumber import InvalidIRNumber, canonical_ir_number
from accounts.names import company_names_match, normalize_company_name


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Blue Heron Housewares Inc", "BLUE HERON HOUSEWARES, INC."),
        ("Cedar Lane Imports LLC", "Cedar Lane Imports, L.L.C."),
        ("Acme Trading Co., Ltd.", "acme trading"),
        ("Acme Corp", "Acme Corporation"),
        ("The Smith & Jones Company", "Smith and Jones"),
        ("Café Olé Incorporated", "cafe ole"),
        ("O'Brien Imports, Inc", "OBrien Imports"),
        ("Grupo Norte S.A. de C.V.", "Grupo Norte"),
        ("Harbor-Side  Goods   Ltd", "Harbor Side Goods"),
    ],
)
def test_it_matches_names_that_differ_only_in_case_punctuation_and_suffixes(a: str, b: str) -> None:
    assert company_names_match(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Blue Heron Housewares Inc", "Blue Heron Kitchenwares Inc"),
        ("Blue Heron Co Housewares", "Blue Heron Housewares"),  # a suffix word inside the name stays
        ("Acme Trading", "Acme"),
        ("", ""),
    ],
)
def test_it_keeps_names_that_really_differ_apart(a: str, b: str) -> None:
    assert not company_names_match(a, b)


def test_a_name_made_only_of_a_suffix_word_is_not_emptied() -> None:
    assert normalize_company_name("Company") == "company"
    assert normalize_company_name("The Company Inc") == "company"


@pytest.mark.parametrize("suffix", ["O0", "0O", "I1", "1I", "Z9", "9Z", "OI", "ZZ"])
def test_an_ein_suffix_never_uses_o_i_or_z(suffix: str) -> None:
    with pytest.raises(InvalidIRNumber) as exc:
        canonical_ir_number(f"12-3456789{suffix}")
    assert "never" in str(exc.value) and "NN-NNNNNNNXX" in str(exc.value)


@pytest.mark.parametrize("suffix", ["00", "01", "A1", "AB", "9Y"])
def test_an_ein_suffix_may_use_other_letters_and_digits(suffix: str) -> None:
    assert canonical_ir_number(f"12-3456789{suffix.lower()}") == f"12-3456789{suffix}"
