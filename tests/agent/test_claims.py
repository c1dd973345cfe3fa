"""Reading the facts a reply claims: the same fact must give the same key however it is written."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agent.claims import chinese_number, extract_claims


def keys(text: str) -> list[tuple[str, str]]:
    return [(claim.kind, claim.key) for claim in extract_claims(text)]


@pytest.mark.parametrize(
    "text",
    ["50,000", "5万", "５万元", "RMB 50000", "50 thousand", "50k", "五万元", "50000.00"],
)
def test_an_amount_reads_the_same_in_every_form(text: str) -> None:
    assert keys(text) == [("number", "50000")]


@pytest.mark.parametrize("text", ["3%", "３％", "3 percent", "3 per cent", "百分之三", "三%"])
def test_a_percentage_reads_the_same_in_every_form(text: str) -> None:
    assert keys(text) == [("percent", "3")]


def test_chinese_numerals_with_units() -> None:
    assert keys("两个工作日内到账，手续费三千元，年利率百分之三点五") == [
        ("percent", "3.5"),
        ("number", "2"),
        ("number", "3000"),
    ]
    assert keys("单笔限额５００元") == [("number", "500")]
    assert keys("1.5亿") == [("number", "150000000")]


def test_chinese_numerals_in_everyday_words_are_not_claims() -> None:
    # 千万 "by all means", 十分 "very", 一下 "a moment", 一次 "once more", 一个 "a".
    assert keys("千万不要把验证码告诉任何人，十分抱歉，请稍等一下再试一次，这是一个常见问题。") == []


@pytest.mark.parametrize(
    ("text", "kind", "key"),
    [
        ("Call +86 400-820-8888.", "phone", "864008208888"),
        ("Call (020) 1234 5678", "phone", "02012345678"),
        ("call 1-800-555-0199 now", "phone", "18005550199"),
        ("Mail Help@Bank.com.", "email", "help@bank.com"),
        ("See https://www.Bank.com/help/.", "url", "bank.com/help"),
        ("See bank.com/help", "url", "bank.com/help"),
        ("错误E2001表示余额不足", "code", "E2001"),
        ("error e-2001", "number", "2001"),  # lower-case letters are not an app code; the digits still count
        ("ERR_503 again", "code", "ERR503"),
        ("on 2024-03-15", "number", "2024-03-15"),
        ("于2024年3月15日", "number", "2024-03-15"),
    ],
)
def test_contacts_codes_and_dates(text: str, kind: str, key: str) -> None:
    assert (kind, key) in keys(text)


def test_a_phone_numbers_digits_are_not_also_numbers() -> None:
    assert keys("Call 400-820-8888 or 95588.") == [("phone", "4008208888"), ("number", "95588")]


def test_citation_marks_and_step_numbers_are_not_claims() -> None:
    assert keys("1. Open the app [1].\n2) Tap Cards【2】.\n（3）完成［3］") == []


def test_chinese_number_parser() -> None:
    assert chinese_number("十五") == 15
    assert chinese_number("两万五千") == 25000
    assert chinese_number("一亿五千万") == 150_000_000
    assert chinese_number("三点五") == Decimal("3.5")
    assert chinese_number("点") == 0
    assert chinese_number("三x") is None
