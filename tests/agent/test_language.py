from __future__ import annotations

import pytest

from agent.language import detect_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("How do I reset my password?", "en"),
        ("我的卡丢了", "zh"),
        ("我的IBAN号码在哪里看", "zh"),
        ("What does 转账 mean on my statement", "en"),
        ("12345 !!!", "en"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_default_when_no_letters() -> None:
    assert detect_language("???", default="zh") == "zh"
