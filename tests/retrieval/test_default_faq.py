"""Content checks on the default FAQ that ships as package data (retrieval/data/default_faq.jsonl).

These check the *content* operators and customers rely on: both languages complete and paired, every
app error code findable by its exact code and screen title, answers that never ask for secrets, and the
no-investment-advice stance. They load the packaged file through importlib.resources, as the app does.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from retrieval.types import FaqEntry

QUERIES_PATH = Path(__file__).parent / "data" / "default_faq_queries.jsonl"
FIELDS = {"id", "question", "alternates", "answer", "category", "language", "tags"}
REQUIRED_CATEGORIES = {
    "cards", "transfers", "login", "fees", "statements", "accounts", "loans", "disputes", "fraud",
    "app_errors", "insurance", "investments", "cash", "currency", "contact",
}  # fmt: skip
MIN_PER_LANGUAGE = 80
MIN_PER_CATEGORY = 3  # per language: a category with one entry is not "covered"
HOTLINE = {"en": "+1-800-555-0100", "zh": "400-555-0100"}
CJK = re.compile(r"[\u4e00-\u9fff]")

# A request for a secret: a verb aimed at the customer followed closely by the secret. Entering a PIN
# at a till or a code into our own app is fine, so "enter"/"type" are deliberately not request verbs.
_EN_SECRET = (
    r"(?:PIN|passwords?|one-time (?:pass)?codes?|OTP|verification codes?|security codes?|CVV|CVC"
    r"|(?:full )?card numbers?)"
)
_EN_REQUEST = re.compile(
    r"\b(?:give|send|tell|provide|share|confirm|read out|reveal|disclose|email|ask(?:s|ed)? (?:you )?for)\b"
    rf"(?:\W+\w+){{0,4}}?\W+{_EN_SECRET}\b",
    re.IGNORECASE,
)
_EN_NEGATION = re.compile(r"\b(?:never|not|no one|nobody|don't|won't|fraudster|scam)\b|n't\b", re.IGNORECASE)
_ZH_SECRET = r"(?:密码|验证码|完整卡号|安全码|CVV)"
_ZH_VERB = r"(?:提供|告诉|告知|发送给|发给|报给|念给|报出|说出|透露|索要)"  # not bare 发送: "a code sent to your phone"
_ZH_REQUEST = re.compile(rf"{_ZH_VERB}[^。！？]{{0,8}}{_ZH_SECRET}|{_ZH_SECRET}[^。！？]{{0,8}}{_ZH_VERB}")
_ZH_NEGATION = re.compile(r"不要|切勿|绝不|不会|请勿|别|骗子|诈骗")

_NO_ADVICE = {
    "en": re.compile(
        r"\b(?:cannot|can't|do not|don't) (?:give|provide|offer) (?:any |personal )?investment advice", re.I
    ),
    "zh": re.compile(r"(?:不提供|无法提供|不能提供)投资建议"),
}


def _load_faq() -> list[dict]:
    text = resources.files("retrieval").joinpath("data/default_faq.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def faq() -> list[dict]:
    return _load_faq()


@pytest.fixture(scope="module")
def by_id(faq: list[dict]) -> dict[str, dict]:
    return {entry["id"]: entry for entry in faq}


def _phrasings(entry: dict) -> list[str]:
    return [entry["question"], *entry["alternates"]]


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def asks_for_secret(answer: str, language: str) -> bool:
    """True when a sentence of `answer` asks the customer for a secret without a negation around it."""
    request, negation = (_EN_REQUEST, _EN_NEGATION) if language == "en" else (_ZH_REQUEST, _ZH_NEGATION)
    sentences = re.split(r"(?<=[.!?。！？])\s*", answer)
    return any(request.search(s) and not negation.search(s) for s in sentences)


def test_every_line_is_a_complete_entry(faq: list[dict]) -> None:
    for entry in faq:
        assert set(entry) == FIELDS, entry.get("id")
        for key in ("id", "question", "answer", "category", "language"):
            assert isinstance(entry[key], str) and entry[key].strip(), (entry["id"], key)
        assert entry["language"] in {"en", "zh"}, entry["id"]
        assert 3 <= len(entry["alternates"]) <= 6, entry["id"]
        assert all(isinstance(a, str) and a.strip() for a in entry["alternates"]), entry["id"]
        assert len({_normalise(p) for p in _phrasings(entry)}) == len(_phrasings(entry)), (
            f"repeated phrasing in {entry['id']}"
        )
        assert entry["tags"] and all(isinstance(t, str) and t for t in entry["tags"]), entry["id"]
        # the store's contract type must accept every entry as it stands
        FaqEntry(**{**entry, "alternates": tuple(entry["alternates"]), "tags": tuple(entry["tags"])})


def test_ids_are_unique_and_slugs(faq: list[dict]) -> None:
    ids = [entry["id"] for entry in faq]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    assert all(re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", i) for i in ids)


def test_enough_entries_per_language(faq: list[dict]) -> None:
    counts = Counter(entry["language"] for entry in faq)
    assert counts["en"] >= MIN_PER_LANGUAGE, counts
    assert counts["zh"] >= MIN_PER_LANGUAGE, counts


def test_languages_are_what_they_claim(faq: list[dict]) -> None:
    for entry in faq:
        has_cjk = bool(CJK.search(entry["question"])) and bool(CJK.search(entry["answer"]))
        no_cjk = not CJK.search(entry["question"] + entry["answer"] + "".join(entry["alternates"]))
        assert has_cjk if entry["language"] == "zh" else no_cjk, entry["id"]


def test_every_entry_has_its_pair(by_id: dict[str, dict]) -> None:
    for entry_id, entry in by_id.items():
        base = entry_id.removesuffix("-zh")
        partner = by_id.get(base if entry["language"] == "zh" else f"{base}-zh")
        assert partner is not None, f"{entry_id} has no {'en' if entry['language'] == 'zh' else 'zh'} pair"
        assert {entry["language"], partner["language"]} == {"en", "zh"}, entry_id
        assert entry["category"] == partner["category"], entry_id
        assert f"pair:{base}" in entry["tags"], entry_id


def test_required_categories_are_covered(faq: list[dict]) -> None:
    counts = Counter((entry["category"], entry["language"]) for entry in faq)
    thin = {(c, lang): counts[(c, lang)] for c in REQUIRED_CATEGORIES for lang in ("en", "zh")}
    assert {k: n for k, n in thin.items() if n < MIN_PER_CATEGORY} == {}


def _error_table() -> list[dict[str, str]]:
    text = resources.files("retrieval").joinpath("data/app_error_codes.md").read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if re.fullmatch(r"E\d{4}", cells[0]):
            entry_id = re.search(r"`([a-z0-9-]+)`", cells[5])
            assert entry_id, line
            rows.append(dict(zip(("code", "message", "screen", "message_zh", "screen_zh"), cells[:5], strict=True)))
            rows[-1]["id"] = entry_id.group(1)
    return rows


def test_error_code_table_is_sane() -> None:
    rows = _error_table()
    assert len(rows) >= 10
    assert len({r["code"] for r in rows}) == len(rows)


def test_every_error_code_is_findable_by_code_and_screen(by_id: dict[str, dict]) -> None:
    # OCR of a screenshot gives the screen title, the code and the message: all three must be phrasings
    for row in _error_table():
        en, zh = by_id.get(row["id"]), by_id.get(row["id"] + "-zh")
        assert en is not None and zh is not None, row["code"]
        en_text = " ".join(_phrasings(en)).casefold()
        zh_text = " ".join(_phrasings(zh)).casefold()
        for needle in (row["code"], row["message"], row["screen"]):
            assert needle.casefold() in en_text, (row["code"], needle)
        for needle in (row["code"], row["message_zh"], row["screen_zh"]):
            assert needle.casefold() in zh_text, (row["code"], needle)
        assert en["category"] == "app_errors"


def test_no_error_code_in_the_faq_is_missing_from_the_table(faq: list[dict]) -> None:
    documented = {r["code"] for r in _error_table()}
    used = {code for entry in faq for code in re.findall(r"\bE\d{4}\b", " ".join(_phrasings(entry)))}
    assert used - documented == set()
    assert documented - used == set()


@pytest.mark.parametrize(
    ("text", "language", "flagged"),
    [
        ("To verify you, please tell us your PIN.", "en", True),
        ("Send us the one-time code you received.", "en", True),
        ("Provide your full card number in the chat.", "en", True),
        ("Never share your PIN with anyone.", "en", False),
        ("We will never ask you to confirm your password.", "en", False),
        ("Insert the card and enter the PIN at the till.", "en", False),
        ("请提供您的验证码以便核实。", "zh", True),
        ("请把卡密码告诉客服。", "zh", True),
        ("请勿把卡密码告诉任何人。", "zh", False),
    ],
)
def test_secret_request_detector(text: str, language: str, flagged: bool) -> None:
    # the detector below guards the real answers, so it must itself catch a request and allow a warning
    assert asks_for_secret(text, language) is flagged


def test_no_answer_asks_for_a_secret(faq: list[dict]) -> None:
    offenders = [entry["id"] for entry in faq if asks_for_secret(entry["answer"], entry["language"])]
    assert offenders == []


def test_only_placeholder_phone_numbers(faq: list[dict]) -> None:
    allowed = set(HOTLINE.values()) | {"110"}
    for entry in faq:
        numbers = re.findall(r"\+?\d{1,4}(?:-\d{2,4}){2,}", entry["answer"])
        assert set(numbers) <= allowed, (entry["id"], numbers)


def test_fraud_answers_say_freeze_and_call_the_247_line(faq: list[dict]) -> None:
    freeze = {"en": re.compile(r"\bfreeze\b", re.I), "zh": re.compile("冻结")}
    always_open = {"en": "24/7", "zh": "24 小时"}
    for entry in (e for e in faq if e["category"] == "fraud"):
        lang = entry["language"]
        assert freeze[lang].search(entry["answer"]), entry["id"]
        assert HOTLINE[lang] in entry["answer"] and always_open[lang] in entry["answer"], entry["id"]


def test_investment_answers_carry_the_no_advice_stance(faq: list[dict]) -> None:
    investment = [e for e in faq if e["category"] == "investments"]
    assert {e["language"] for e in investment} == {"en", "zh"}
    for entry in investment:
        assert _NO_ADVICE[entry["language"]].search(entry["answer"]), entry["id"]


def _load_queries() -> list[dict]:
    return [json.loads(line) for line in QUERIES_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_eval_queries_point_at_real_entries(by_id: dict[str, dict]) -> None:
    queries = _load_queries()
    assert all(set(q) == {"query", "expected_id"} and q["query"].strip() for q in queries)
    missing = [q["expected_id"] for q in queries if q["expected_id"] is not None and q["expected_id"] not in by_id]
    assert missing == []
    for q in queries:
        if q["expected_id"] is not None:
            # a Chinese query must target the Chinese entry and vice versa
            assert bool(CJK.search(q["query"])) == (by_id[q["expected_id"]]["language"] == "zh"), q["query"]


def test_eval_queries_cover_both_languages_and_no_answer_cases() -> None:
    queries = _load_queries()
    kinds = Counter(
        ("zh" if CJK.search(q["query"]) else "en", "none" if q["expected_id"] is None else "answer") for q in queries
    )
    assert kinds[("en", "answer")] >= 25 and kinds[("zh", "answer")] >= 25, kinds
    assert kinds[("en", "none")] >= 8 and kinds[("zh", "none")] >= 8, kinds


def test_eval_queries_are_paraphrases_not_copies(faq: list[dict]) -> None:
    # a query copied from the FAQ measures nothing: retrieval would find it by exact match
    phrasings = {_normalise(p) for entry in faq for p in _phrasings(entry)}
    copies = [q["query"] for q in _load_queries() if _normalise(q["query"]) in phrasings]
    assert copies == []
