"""Which language a customer writes in: FinDesk serves Chinese and English."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def count_cjk(text: str) -> int:
    """How many Chinese (CJK ideograph) characters `text` holds."""
    return len(_CJK.findall(text))


def detect_language(text: str, default: str = "en") -> str:
    """ "zh" when Chinese characters make up a fair share of the letters, else "en".

    A character count is enough here: the two languages share no script, and customers mixing in an
    English word ("我的IBAN是多少") still write Chinese. Each CJK character counts as a word's worth of
    Latin letters (about 3).
    """
    cjk = count_cjk(text)
    latin = len(_LATIN.findall(text))
    if cjk == 0 and latin == 0:
        return default
    return "zh" if cjk * 3 >= latin else "en"
