"""Scoring normalisation, the same on both sides: numbers, full-width forms, punctuation, case, script."""

from __future__ import annotations

import pytest

from speech.evaluation import normalize_chinese, normalize_english, score


@pytest.mark.parametrize(
    ("reference", "hypothesis"),
    [
        ("一二线城市", "12线城市"),  # the model writes digits where the reference reads them out
        ("十二个月", "12个月"),
        ("一百零五元", "105元"),
        ("两千块", "2000块"),
        ("三万五千", "35000"),
        ("二〇二六年", "2026年"),
        ("１２３ＡＢＣ，", "123abc"),  # full-width digits, letters and comma
        ("甚至  出现  交易", "甚至出現交易。"),  # spaces, punctuation, traditional characters
        ("ATM机取款", "atm机取款"),
    ],
)
def test_chinese_forms_that_mean_the_same_score_as_no_error(reference: str, hypothesis: str) -> None:
    assert normalize_chinese(reference) == normalize_chinese(hypothesis)
    assert score(reference, hypothesis, "zh")[0] == 0


def test_chinese_words_that_only_look_numeric_stay_words() -> None:
    assert normalize_chinese("两个人") == "两个人"  # "two of": not a digit
    assert normalize_chinese("万一出错") == "万1出错"  # a leading unit stays; both sides change alike
    assert normalize_chinese("千万") == "千万"
    assert score("交易停滞", "交易停制", "zh") == (1, 4)  # a real error is still one error


@pytest.mark.parametrize(
    ("reference", "hypothesis"),
    [
        ("Mr. Quilter is the apostle", "mister quilter is the apostle"),
        ("one two three", "1, 2, 3."),
        ("ＯＮＥ ＴＷＯ ＴＨＲＥＥ！", "one two three"),  # full-width letters from an IME
        ("I paid 15 dollars", "i paid fifteen dollars"),
    ],
)
def test_english_forms_that_mean_the_same_score_as_no_error(reference: str, hypothesis: str) -> None:
    assert normalize_english(reference) == normalize_english(hypothesis)
