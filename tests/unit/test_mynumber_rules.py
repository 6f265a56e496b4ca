"""番号法施行規則5条: the 個人番号 check digit."""

import random

import pytest

from rules.mynumber import check_digit, is_valid_my_number, mask, my_number_problem


@pytest.mark.parametrize(
    "number", ["123456789018", "987654321093", "314159265352", "000000000019", "111111111118", "012345678903"]
)
def test_rule5_valid_numbers_pass(number: str) -> None:
    assert is_valid_my_number(number)
    assert my_number_problem(number) is None


def test_rule5_every_wrong_check_digit_fails() -> None:
    for last in "0123456789":
        candidate = "12345678901" + last
        assert is_valid_my_number(candidate) == (last == "8")


def test_rule5_matches_the_regulation_formula_read_from_the_right() -> None:
    # The regulation's own wording: P_n is the n-th digit from the right, Q_n = n+1 (n ≤ 6) else n−5.
    def by_the_letter(first_eleven: str) -> int:
        total = 0
        for n in range(1, 12):
            p = int(first_eleven[-n])
            q = n + 1 if n <= 6 else n - 5
            total += p * q
        r = total % 11
        return 0 if r <= 1 else 11 - r

    rng = random.Random(5)
    for _ in range(2000):
        body = "".join(rng.choice("0123456789") for _ in range(11))
        assert check_digit(body) == by_the_letter(body)


@pytest.mark.parametrize(
    "bad", ["１２３４５６７８９０１８", "12345678901", "1234567890180", "12345678901a", " 123456789018"]
)
def test_rule5_refuses_full_width_short_long_and_letters(bad: str) -> None:
    assert not is_valid_my_number(bad)
    assert my_number_problem(bad) == "個人番号は半角数字12桁で入力してください"


def test_check_digit_error_has_its_own_message() -> None:
    assert (
        my_number_problem("123456789019")
        == "個人番号のチェックデジットが一致しません。入力内容を確認してください"
    )


def test_mask_shows_only_the_last_four() -> None:
    assert mask("123456789018") == "********9018"
