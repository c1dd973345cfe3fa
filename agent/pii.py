"""PII redaction: run on every text before it is stored, logged or sent to a remote model server.

Numbers are redacted only when their checksum holds (python-stdnum: Luhn for cards, mod-97 for
IBANs, ISO 7064 plus date and region for Chinese resident IDs), so order numbers, amounts and error
codes survive. Card numbers may be grouped with spaces, dashes, dots, slashes, underscores or a line
break. Phone numbers are found by Google's libphonenumber (the `phonenumbers` package): international
ones in any format, national ones when they are valid in one of PHONE_REGIONS. Full-width digits and
separators (common in Chinese input: "４１１１ １１１１ ...") are read as their ASCII forms. Short secrets
(CVV, one-time codes, PINs) have no checksum: they are redacted only next to a word that names them
("my CVV is 123", "OTP 482913", "验证码是 482913").

`keep` spares values the bank itself published (the FAQ passages a reply quoted: its hotline), so only
what the customer wrote is redacted.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from phonenumbers import Leniency, PhoneNumberMatcher
from stdnum import iban, luhn
from stdnum.cn import ric

TOKENS = {
    "EMAIL": "[EMAIL]",
    "IBAN": "[IBAN]",
    "CN_ID": "[CN_ID]",
    "CARD": "[CARD]",
    "PHONE": "[PHONE]",
    "CVV": "[CVV]",
    "OTP": "[OTP]",
    "PIN": "[PIN]",
}


@dataclass(frozen=True)
class PiiMatch:
    kind: str  # a key of TOKENS
    span: tuple[int, int]  # [start, end) in the original text


@dataclass(frozen=True)
class Redaction:
    text: str  # the input with every match replaced by its token
    found: tuple[PiiMatch, ...]  # in order of position

    @property
    def kinds(self) -> set[str]:
        return {match.kind for match in self.found}


_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b", re.IGNORECASE)
_CN_ID = re.compile(r"(?<![\w])\d{6}[ ]?\d{8}[ ]?\d{3}[\dXx](?![\w])")
# 13-19 digits, maybe grouped by one separator each (space, dash, dot, slash, underscore, line break); not part
# of a longer number or a +CC phone.
_CARD = re.compile(r"(?<![\w+.,-])\d(?:(?:[ ._/-]|\r?\n)?\d){12,18}(?![\w-]|[.,]\d)")
# Anything written as +CC and 8-15 digits is a phone number, valid in libphonenumber's tables or not (fictional
# and reserved ranges, such as the UK's 07700 900xxx, are still someone's way of writing a number).
_PHONE_INTL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?![\w-])")
# Where customers' national numbers (no +CC) are looked for: China and the places our customers call from.
PHONE_REGIONS = ("CN", "HK", "TW", "SG", "US", "GB", "DE", "FR")
_MIN_PHONE_DIGITS = 6  # fewer digits than this cannot be a phone number: skip the (slower) matcher

_NO_DIGITS = r"[^\d\n]{0,20}?"  # "is", "is: ", " code was ", "是"... between the word and the number
_CVV = re.compile(
    r"(?i)(?:\b(?:cvv2?|cvc2?|csc|cid|security code|card verification (?:code|value))\b|安全码|校验码)"
    + _NO_DIGITS
    + r"(?<!\d)(\d{3,4})(?!\d)"
)
_OTP = re.compile(
    r"(?i)(?:\b(?:otp|one[- ]time (?:pass ?code|password|code|pin)|verification code|auth(?:entication)? code|"
    r"2fa code|sms code|passcode|tac)\b|验证码|动态码|动态密码|短信码)" + _NO_DIGITS + r"(?<!\d)(\d{4,8})(?!\d)"
)
_PIN = re.compile(r"(?i)(?:\bpin(?: code| number)?\b|密码)" + _NO_DIGITS + r"(?<!\d)(\d{4,6})(?!\d)")


def redact(text: str, *, keep: Iterable[str] = ()) -> Redaction:
    """Replace every piece of PII in `text` by its token ("[CARD]", "[IBAN]", ...).

    A match whose value also appears in one of the `keep` texts (the bank's own published FAQ answers) is
    left as it is: the hotline quoted from the FAQ is not the customer's number.
    """
    folded = _fold(text)
    published = set().union(*(_published(t) for t in keep))
    chosen = [
        PiiMatch(kind, (start, end))
        for kind, start, end in _matches(folded)
        if _value(kind, folded[start:end]) not in published
    ]
    pieces, last = [], 0
    for match in chosen:
        pieces += [text[last : match.span[0]], TOKENS[match.kind]]
        last = match.span[1]
    pieces.append(text[last:])
    return Redaction(text="".join(pieces), found=tuple(chosen))


@functools.lru_cache(maxsize=4096)  # the same FAQ passages are quoted again and again
def _published(text: str) -> frozenset[str]:
    folded = _fold(text)
    return frozenset(_value(kind, folded[start:end]) for kind, start, end in _matches(folded))


def _matches(text: str) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every piece of PII, in order of position; earlier kinds win overlaps."""
    chosen: list[tuple[str, int, int]] = []
    for kind, finder in _FINDERS:  # an IBAN's digits are not also a card
        for start, end in finder(text):
            if not any(start < b and a < end for _, a, b in chosen):
                chosen.append((kind, start, end))
    return sorted(chosen, key=lambda m: m[1])


def _fold(text: str) -> str:
    """Full-width and other compatibility forms of single characters as ASCII ("４" -> "4", "　" -> " "), one
    character for one, so positions in the folded text are positions in the original."""
    return "".join(f if len(f := unicodedata.normalize("NFKC", c)) == 1 else c for c in text)


def _value(kind: str, found: str) -> str:
    """What makes two matches the same value: the digits of a number, the lower-cased rest."""
    digits = re.sub(r"\D", "", found)
    return f"{kind}:{digits if digits and kind != 'EMAIL' else found.lower()}"


def _emails(text: str) -> Iterator[tuple[int, int]]:
    for m in _EMAIL.finditer(text):
        yield m.span()


def _ibans(text: str) -> Iterator[tuple[int, int]]:
    for m in _IBAN.finditer(text):
        # The pattern may swallow a following word ("... 7654 32 OK"): drop trailing groups until valid.
        candidate = m.group()
        while candidate:
            if iban.is_valid(candidate.upper()):
                yield m.start(), m.start() + len(candidate)
                break
            candidate = candidate.rpartition(" ")[0] if " " in candidate else ""


def _cn_ids(text: str) -> Iterator[tuple[int, int]]:
    for m in _CN_ID.finditer(text):
        if ric.is_valid(m.group().replace(" ", "").upper()):
            yield m.span()


def _cards(text: str) -> Iterator[tuple[int, int]]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        # Every issuer's card numbers start with 2-6 (Mastercard 2/5, Amex 3, Visa 4, UnionPay/Discover 6);
        # requiring it, beside Luhn, keeps one in ten random 16-digit order numbers from being redacted.
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn.is_valid(digits):
            yield m.span()


def _phones(text: str) -> Iterator[tuple[int, int]]:
    if sum(c.isdigit() for c in text) < _MIN_PHONE_DIGITS:
        return
    seen: set[tuple[int, int]] = set()
    for m in _PHONE_INTL.finditer(text):
        if 8 <= sum(c.isdigit() for c in m.group()) <= 15:  # E.164 allows at most 15 digits
            seen.add(m.span())
            yield m.span()
    for region in PHONE_REGIONS:  # numbers with +CC are found under every region; national ones under theirs
        for match in PhoneNumberMatcher(text, region, leniency=Leniency.VALID):
            if (match.start, match.end) not in seen:
                seen.add((match.start, match.end))
                yield match.start, match.end


def _in_context(pattern: re.Pattern[str]) -> Callable[[str], Iterator[tuple[int, int]]]:
    def find(text: str) -> Iterator[tuple[int, int]]:
        for m in pattern.finditer(text):
            yield m.span(1)  # only the number: "my CVV is [CVV]" keeps the sentence readable

    return find


_FINDERS: tuple[tuple[str, Callable[[str], Iterator[tuple[int, int]]]], ...] = (
    ("EMAIL", _emails),
    ("IBAN", _ibans),
    ("CN_ID", _cn_ids),
    ("CARD", _cards),
    ("PHONE", _phones),
    ("CVV", _in_context(_CVV)),
    ("OTP", _in_context(_OTP)),
    ("PIN", _in_context(_PIN)),
)
