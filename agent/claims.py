"""The facts in a text that a customer could act on, normalised so the same fact matches however it is written.

A claim is a number, an amount, a percentage, a phone number, a URL, an e-mail address or an app error code.
Grounding (agent/grounding.py) checks that every claim of a model's sentence also appears in the passages it
cites, so the forms must compare equal across writing styles and languages:

    "50,000", "5万", "５万元", "RMB 50000", "50 thousand"  -> number 50000
    "3%", "３％", "3 percent", "百分之三"                   -> percent 3
    "+86 400-820-8888", "400 820 8888"                    -> phone ...4008208888 (compared on their digits)
    "https://www.Bank.com/help/", "bank.com/help"         -> url bank.com/help
    "e2001", "E-2001"                                     -> code E2001

Chinese numerals count only with a unit that makes them a quantity (三千元, 两个工作日, 百分之三): alone they
are everyday words (十分 "very", 千万 "by all means", 一下 "a moment"). Currencies are not compared: "$500"
matches "500元". English number words ("three days") are not read: a model that spells out a number it
invented is not caught (see benchmarks/generators.md for how often the small models did).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

ClaimKind = Literal["number", "percent", "phone", "url", "email", "code"]

# Citation marks are references, not claims; agent.citations owns their full syntax.
_CITATION = re.compile(r"[\[［【]\s*[0-9０-９]+(?:\s*[,，、;；]?\s*[0-9０-９]+)*\s*[\]］】]")
# A list marker opening a line ("1. ", "2) ", "3、", "(4)") numbers the reply's own steps.
_LIST_MARKER = re.compile(r"^\s*(?:\d{1,2}[.)](?=\s)|\d{1,2}、|[(（]\d{1,2}[)）])\s*", re.MULTILINE)

_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_TLDS = "com|cn|net|org|bank|io|co|uk|hk|sg|gov|edu|info|app|biz|me|us|eu|de|fr|jp"
_URL = re.compile(
    r"(?:https?://|www\.)[A-Za-z0-9\-._~:/?#@!$&'*+,;=%]+"
    rf"|(?<![A-Za-z0-9@.-])(?:[A-Za-z0-9-]+\.)+(?:{_TLDS})(?![A-Za-z0-9-])(?:/[A-Za-z0-9\-._~/?#&=%+]*)?",
    re.IGNORECASE,
)
_CODE = re.compile(r"(?<![A-Za-z0-9])[A-Z]{1,5}[-_]?\d{2,6}(?![A-Za-z0-9])")
# 7 to 15 digits in groups, optionally with a country code: +86 400-820-8888, (020) 1234 5678, 4008208888.
_PHONE = re.compile(r"(?<![\w.,/:])\+?(?:\(\d{1,4}\)[ -]?)?\d(?:[ -]?\d){3,14}\d\d(?![\w])")
_DATE = re.compile(r"(?<!\d)(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})(?!\d)日?")
_MULTIPLIER = r"(?:\s*(?:thousand|million|billion)\b|[kK](?![A-Za-z])|[十百千万亿]+)"
_NUMBER = re.compile(
    rf"(?<![A-Za-z0-9.,])(?P<value>\d{{1,3}}(?:,\d{{3}})+|\d+)(?P<fraction>\.\d+)?(?P<mult>{_MULTIPLIER})?"
    r"(?P<percent>\s*(?:%|percent\b|per\s+cent\b))?",
    re.IGNORECASE,
)
_CN_NUMERAL = "零〇一二两三四五六七八九十百千万亿点"
_CN_PERCENT = re.compile(rf"百分之(?P<value>[{_CN_NUMERAL}]+|\d+(?:\.\d+)?)|(?P<numeral>[{_CN_NUMERAL}]+)%")
# A unit that makes a Chinese numeral a quantity. Not 次/个/位/笔/张: "一次", "一个问题" are articles, not facts.
_CN_QUANTITY = re.compile(
    rf"(?P<value>[{_CN_NUMERAL}]+)(?=个?(?:工作日|小时|月)|天|日|周|年|元|块|美元|港元|人民币|分钟|倍|岁)"
)

_WORD_MULTIPLIERS = {"thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000, "k": 1000}
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7}
_CN_DIGITS |= {"八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"万": 10_000, "亿": 100_000_000}


@dataclass(frozen=True)
class Claim:
    kind: ClaimKind
    text: str  # as written, for the log and the removal reason
    key: str  # normalised: equal keys are the same fact


def normalise(text: str) -> str:
    """Full-width digits, letters and signs to ASCII (５００ -> 500, ％ -> %), citation marks removed."""
    return _CITATION.sub(" ", unicodedata.normalize("NFKC", text))


def extract_claims(text: str) -> list[Claim]:
    """Every claim in `text`. Contacts and codes are read first and cut out, so their digits are not numbers too."""
    rest = _LIST_MARKER.sub(" ", normalise(text))
    claims: list[Claim] = []
    for pattern, read in _READERS:

        def collect(match: re.Match[str], read: Callable[[re.Match[str]], Claim | None] = read) -> str:
            claim = read(match)
            if claim is None:
                return match.group()
            claims.append(claim)
            return " "

        rest = pattern.sub(collect, rest)
    return claims


def _email(match: re.Match[str]) -> Claim:
    return Claim("email", match.group(), match.group().lower())


def _url(match: re.Match[str]) -> Claim:
    url = match.group().rstrip(".,;:!?'")
    return Claim("url", url, re.sub(r"^(?:https?://)?(?:www\.)?", "", url.lower()).rstrip("/"))


def _code(match: re.Match[str]) -> Claim:
    return Claim("code", match.group(), re.sub(r"[-_]", "", match.group()).upper())


def _date(match: re.Match[str]) -> Claim:
    return Claim("number", match.group(), f"{match['y']}-{int(match['m']):02d}-{int(match['d']):02d}")


def _phone(match: re.Match[str]) -> Claim | None:
    written = match.group().strip()
    digits = re.sub(r"\D", "", written)
    if len(digits) < 7 or len(digits) > 15 or re.search(r"[ -]\d{1,2}$", written):
        return None  # too short or long, or "95588 24": a number followed by another number
    if not re.search(r"[ ()+-]", written):
        return None  # 7+ digits in one run: an amount or an account number, read as a number
    return Claim("phone", written, digits)


def _number(match: re.Match[str]) -> Claim:
    value = Decimal(match.group("value").replace(",", "") + (match.group("fraction") or ""))
    value *= _multiplier(match.group("mult") or "")
    return Claim("percent" if match.group("percent") else "number", match.group().strip(), _decimal_key(value))


def _chinese_percent(match: re.Match[str]) -> Claim | None:
    value = chinese_number(match.group("value") or match.group("numeral"))
    return None if value is None else Claim("percent", match.group(), _decimal_key(value))


def _chinese_quantity(match: re.Match[str]) -> Claim | None:
    value = chinese_number(match.group("value"))
    return None if value is None else Claim("number", match.group(), _decimal_key(value))


_READERS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], Claim | None]], ...] = (
    (_EMAIL, _email),
    (_URL, _url),
    (_CODE, _code),
    (_DATE, _date),
    (_PHONE, _phone),
    (_CN_PERCENT, _chinese_percent),
    (_NUMBER, _number),
    (_CN_QUANTITY, _chinese_quantity),
)


def _multiplier(written: str) -> Decimal:
    written = written.strip().lower()
    if not written:
        return Decimal(1)
    if written in _WORD_MULTIPLIERS:
        return Decimal(_WORD_MULTIPLIERS[written])
    product = Decimal(1)
    for ch in written:  # 5万 = 5 x 10^4; 5百万 = 5 x 100 x 10^4; 5千万 = 5 x 1000 x 10^4
        product *= _CN_UNITS.get(ch) or _CN_BIG[ch]
    return product


def chinese_number(text: str) -> Decimal | None:
    """三千 -> 3000, 两万五千 -> 25000, 一亿五千万 -> 150000000, 三点五 -> 3.5, 12 -> 12; None if unreadable."""
    integer, _, fraction = text.partition("点")
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return Decimal(text)
    total = section = digit = 0
    for ch in integer:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            section += (digit or 1) * _CN_UNITS[ch]  # 十五: a leading 十 means 10
            digit = 0
        elif ch == "万":
            total += (section + digit) * _CN_BIG[ch]
            section = digit = 0
        elif ch == "亿":
            total = (total + section + digit) * _CN_BIG[ch]
            section = digit = 0
        else:
            return None
    value = Decimal(total + section + digit)
    if fraction:
        if any(ch not in _CN_DIGITS for ch in fraction):
            return None
        value += Decimal("0." + "".join(str(_CN_DIGITS[ch]) for ch in fraction))
    return value


def _decimal_key(value: Decimal) -> str:
    # 500, 500.0 and 5E+2 are one amount: print without exponent or trailing zeros.
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
