import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.lib.phones import InvalidPhone, format_phone, parse_phone
from patron.lib.text import fold


@pytest.mark.parametrize(
    "typed",
    ["0980.000.000", "0980 000 000", "+84 980 000 000", "84980000000", "(+84) 980-000-000"],
)
def test_vietnamese_number_in_any_format_is_the_same_e164(typed: str) -> None:
    assert parse_phone(typed, "VN") == "+84980000000"


def test_us_number_parses_with_the_merchants_country() -> None:
    assert parse_phone("(201) 555-0123", "US") == "+12015550123"


@pytest.mark.parametrize("typed", ["", "abc", "12", "0000000000000000000", "+84 1"])
def test_what_is_not_a_phone_is_refused_with_a_code(typed: str) -> None:
    with pytest.raises(InvalidPhone) as error:
        parse_phone(typed, "VN")
    assert error.value.code == "invalid_phone"


MOBILE_PREFIXES = ["090", "091", "093", "096", "097", "098", "086", "088", "032", "070"]


@given(st.sampled_from(MOBILE_PREFIXES), st.integers(min_value=0, max_value=9_999_999))
def test_national_and_international_forms_agree(prefix: str, rest: int) -> None:
    e164 = parse_phone(f"{prefix}{rest:07d}", "VN")
    assert parse_phone(e164, "VN") == e164
    assert parse_phone(format_phone(e164, "VN"), "VN") == e164


def test_fold_strips_vietnamese_accents_and_d_stroke() -> None:
    assert fold("Nguyễn  Văn ĐỨC") == "nguyen van duc"
