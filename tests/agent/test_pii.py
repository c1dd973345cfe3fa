"""PII redaction on real-looking cases, and on near-misses that must be left alone."""

from __future__ import annotations

import pytest

from agent.pii import redact


def _cn_id(body17: str) -> str:
    """A Chinese resident ID with its ISO 7064 MOD 11-2 check character, computed here independently."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    total = sum(int(d) * w for d, w in zip(body17, weights, strict=True))
    return body17 + "10X98765432"[total % 11]


VALID_CN_ID = _cn_id("11010519491231002")  # Beijing Chaoyang, born 1949-12-31
WRONG_CHECK_CN_ID = VALID_CN_ID[:-1] + ("1" if VALID_CN_ID[-1] != "1" else "2")


def test_computed_cn_id_matches_the_published_example() -> None:
    assert VALID_CN_ID == "11010519491231002X"  # the example printed on the GB 11643 standard's cards


@pytest.mark.parametrize(
    ("text", "expected", "kinds"),
    [
        ("My card is 4111 1111 1111 1111, it expires 12/27", "My card is [CARD], it expires 12/27", ["CARD"]),
        ("card no 5555-5555-5555-4444 was declined", "card no [CARD] was declined", ["CARD"]),
        ("Amex 378282246310005 please", "Amex [CARD] please", ["CARD"]),
        ("UnionPay 6212345678901232 卡被冻结了", "UnionPay [CARD] 卡被冻结了", ["CARD"]),
        ("IBAN GB82 WEST 1234 5698 7654 32 OK?", "IBAN [IBAN] OK?", ["IBAN"]),
        ("send to DE89370400440532013000.", "send to [IBAN].", ["IBAN"]),
        ("my iban is gb82west12345698765432", "my iban is [IBAN]", ["IBAN"]),
        (f"身份证号 {VALID_CN_ID} 请核实", "身份证号 [CN_ID] 请核实", ["CN_ID"]),
        (f"ID {VALID_CN_ID.lower()}", "ID [CN_ID]", ["CN_ID"]),
        ("call me on +44 20 7946 0958", "call me on [PHONE]", ["PHONE"]),
        ("+86 138 0013 8000 或 13800138000", "[PHONE] 或 [PHONE]", ["PHONE", "PHONE"]),
        ("US: (415) 555-0132, 415.555.0132 or 1-800-555-0199", "US: [PHONE], [PHONE] or [PHONE]", ["PHONE"] * 3),
        ("mail jane.doe+bank@example.co.uk now", "mail [EMAIL] now", ["EMAIL"]),
        ("my CVV is 123", "my CVV is [CVV]", ["CVV"]),
        ("CVC2: 4821", "CVC2: [CVV]", ["CVV"]),
        ("卡背面安全码 837", "卡背面安全码 [CVV]", ["CVV"]),
        ("OTP 482913", "OTP [OTP]", ["OTP"]),
        ("the one-time password was 5521", "the one-time password was [OTP]", ["OTP"]),
        ("验证码是 482913", "验证码是 [OTP]", ["OTP"]),
        ("my PIN is 4321", "my PIN is [PIN]", ["PIN"]),
    ],
)
def test_pii_is_redacted(text: str, expected: str, kinds: list[str]) -> None:
    result = redact(text)
    assert result.text == expected
    assert [m.kind for m in result.found] == kinds
    for match in result.found:  # spans point into the original text
        start, end = match.span
        assert text[start:end].strip() and any(c.isalnum() for c in text[start:end])


def test_several_kinds_in_one_message() -> None:
    text = f"I am {VALID_CN_ID}, card 4111111111111111, CVV 123, mail a@b.cn, OTP 654321"
    result = redact(text)
    assert result.text == "I am [CN_ID], card [CARD], CVV [CVV], mail [EMAIL], OTP [OTP]"
    assert result.kinds == {"CN_ID", "CARD", "CVV", "EMAIL", "OTP"}


@pytest.mark.parametrize(
    "text",
    [
        "order 4111111111111112 failed",  # 16 digits, Luhn fails
        "tracking 1234567812345678",  # 16 digits, Luhn fails
        "ref 9999999999999995",  # Luhn holds but no card network starts with 9
        "I paid 1,234.56 CNY on 2024-05-01 at 13:45",
        "balance 12,345,678.90",
        "error E1001 on screen, code 0x80070005",
        "IBAN GB82 WEST 1234 5698 7654 33",  # one digit off: mod-97 fails
        "GB82 is a label, not an IBAN",
        f"ID {WRONG_CHECK_CN_ID}",  # checksum wrong
        "ID 110105194913310028",  # month 13
        "order number 1234567890",  # 10 digits without separators: not a phone
        "room 1234, floor 12, 3 cards",
        "ref 482913",  # a six-digit number with no OTP word around it
        "code 123",  # a short number without context
        "version 1.2.3 released 2023",
        "transfer 50000 to account ending 4242",
    ],
)
def test_near_misses_are_left_alone(text: str) -> None:
    result = redact(text)
    assert result.text == text, result.found
    assert result.found == ()


# --- issue #9 item 6: more ways of writing the same numbers ------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "card 4111.1111.1111.1111 declined",
        "card 4111/1111/1111/1111 declined",
        "card 4111_1111_1111_1111 declined",
        "card 4111 1111\n1111 1111 declined",  # a line break in the middle (pasted from a statement)
        "card 4111 1111\r\n1111 1111 declined",
        "card ４１１１ １１１１ １１１１ １１１１ declined",  # full-width digits, ordinary in Chinese input
        "card ４１１１　１１１１　１１１１　１１１１ declined",  # ... with ideographic spaces
        "card ４１１１－１１１１－１１１１－１１１１ declined",
    ],
)
def test_card_numbers_with_other_separators_and_full_width_digits(text: str) -> None:
    result = redact(text)
    assert result.text == "card [CARD] declined", result.text
    assert result.kinds == {"CARD"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call me on 030 1234 5678 tomorrow", "call me on [PHONE] tomorrow"),  # Berlin, national format
        ("my mobile is 07700 900123", "my mobile is [PHONE]"),  # UK mobile, national format
        ("ring 01 42 68 53 00", "ring [PHONE]"),  # Paris
        ("手机 １３８ ００１３ ８０００ 联系我", "手机 [PHONE] 联系我"),  # full-width Chinese mobile
        ("+49 30 12345678 or +33 1 42 68 53 00", "[PHONE] or [PHONE]"),
        ("+44 7700 900123", "[PHONE]"),  # a reserved (drama) range: not "valid", still a number
    ],
)
def test_phone_numbers_in_other_national_formats(text: str, expected: str) -> None:
    assert redact(text).text == expected


@pytest.mark.parametrize(
    "text",
    ["paid on 2024.05.01 and 2024/05/02", "version 4.1.1.1 of the app", "amount 1.111,11 EUR", "IP 192.168.100.200"],
)
def test_dotted_and_slashed_non_cards_are_left_alone(text: str) -> None:
    assert redact(text).text == text


def test_the_banks_published_numbers_are_kept_when_quoting_them() -> None:
    faq = "Call our 24-hour line on +1-800-555-0100 or 400-555-0100; mail help@bank.example."
    reply = "Freeze the card, then call +1-800-555-0100 (中国: 400-555-0100) or mail help@bank.example."
    assert redact(reply, keep=[faq]).text == reply
    assert redact(reply).text.count("[PHONE]") == 2  # without the FAQ they look like anyone's number
    customer = "call me on (415) 555-0132, not +1-800-555-0100"
    assert redact(customer, keep=[faq]).text == "call me on [PHONE], not +1-800-555-0100"
