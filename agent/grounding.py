"""Verify a model's reply sentence by sentence before the customer sees any of it.

A model's sentence is shown only when
  1. the reply has cited (by this sentence or an earlier one) at least one passage the model was given, and
  2. every claim in it (agent.claims: numbers, amounts, percentages, phone numbers, URLs, e-mails, app error
     codes) appears in the passages cited so far; numbers, percentages and error codes may also come from the
     customer's own message or screenshot ("you sent 500 yuan"), contacts may not: a phone number or a link
     the bank did not write is exactly what a phishing screenshot would plant, and
  3. it is written in the customer's language (small models drift into other languages), and
  4. it does not repeat the model's instructions (Gemma 3 270M echoes its rules, whose example "[1]" would
     otherwise count as a citation).
A sentence that fails is removed, and the reason recorded. Nothing shown means the reply failed: the
pipeline then answers with the extractive FAQ answer instead (agent/pipeline.py).

A sentence failing 3 or 4 is removed as soon as it ends and its citation marks do not count.

Streaming: `ReplyVerifier.feed()` takes the model's deltas and returns only verified text, a whole sentence at
a time. Sentences written before the first citation are held until one arrives (then checked against it), so
an uncited reply shows nothing at all. The customer waits for each sentence to end instead of seeing tokens,
and never sees a claim that is then taken back. `verify_reply()` runs the same check on a finished text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.claims import Claim, extract_claims, normalise
from agent.language import count_cjk, detect_language
from retrieval.types import Hit

# A citation group ([1], [1][2], [1，2], 【1】): the one agent.citations accepts.
_CITATION = re.compile(r"[\[［【]\s*(?P<numbers>[0-9０-９]+(?:\s*[,，、;；]?\s*[0-9０-９]+)*)\s*[\]］】]")
_PARTIAL_CITATION = re.compile(r"^[ \t]*(?:[\[［【][0-9０-９,，、;；\s]*)?$")
# Where a sentence may end: Chinese full stops anywhere, English ones only before a space (not 1.5, bank.com).
_END = re.compile(r"[。！？]+|[.!?]+(?=\s|$)|\n")
_AFTER_END = re.compile(r"(?:[ \t]*[\[［【][0-9０-９,，、;；\s]+[\]］】]|[\"'”’）)」』])*")
_ABBREVIATIONS = re.compile(r"(?:\b(?:e\.g|i\.e|etc|approx|vs|no|mr|mrs|ms|dr|st)|^\s*\d{1,2})$", re.IGNORECASE)
_SPACE = re.compile(r"\s*")


def split_sentences(text: str, *, final: bool) -> tuple[list[str], str]:
    """Complete sentences (each with its citation marks and trailing space) and the unfinished rest.

    "Freeze it. [1] Then call us." splits after "[1] ": a mark right after a full stop belongs to the sentence
    before it, so a sentence is only complete once the next real character (or the end, `final`) is seen.
    """
    sentences: list[str] = []
    start = position = 0
    while match := _END.search(text, position):
        position = match.end()
        if match.group()[0] == "." and _ABBREVIATIONS.search(text[start : match.start()]):
            continue  # "e.g. ", or the "1. " of a numbered step
        end = position if match.group() == "\n" else _AFTER_END.match(text, position).end()  # type: ignore[union-attr]
        after = text[end:]
        if not final and match.group() != "\n" and _PARTIAL_CITATION.match(after):
            break  # a citation mark may still be on its way
        end = _SPACE.match(text, end).end()  # type: ignore[union-attr]
        sentences.append(text[start:end])
        start = position = end
    if final and text[start:]:
        sentences.append(text[start:])
        start = len(text)
    return sentences, text[start:]


def cited_numbers(text: str, passage_count: int) -> set[int]:
    """The valid passage numbers (1..passage_count) that `text` cites."""
    numbers = {int(n) for group in _CITATION.finditer(normalise_digits(text)) for n in re.findall(r"\d+", group[0])}
    return {n for n in numbers if 1 <= n <= passage_count}


def normalise_digits(text: str) -> str:
    return text.translate(str.maketrans("０１２３４５６７８９", "0123456789"))


@dataclass(frozen=True)
class Removal:
    """A sentence the customer did not see, and why."""

    sentence: str
    reason: str


@dataclass
class _Facts:
    """Claim keys by kind, from a set of texts."""

    keys: dict[str, set[str]] = field(default_factory=dict)

    def add(self, claims: Sequence[Claim], kinds: Sequence[str] | None = None) -> None:
        for claim in claims:
            if kinds is None or claim.kind in kinds:
                self.keys.setdefault(claim.kind, set()).add(claim.key)

    def get(self, kind: str) -> set[str]:
        return self.keys.get(kind, set())


_FROM_CUSTOMER = ("number", "percent", "code")  # contacts only ever come from the bank's passages


class ReplyVerifier:
    """Feed it a model's reply; it gives back only the sentences that pass (see the module docstring)."""

    def __init__(self, passages: Sequence[Hit], language: str, customer_text: str = "", instructions: str = "") -> None:
        self.language = language
        self._instructions = _plain(instructions)
        self._instruction_grams = _grams(self._instructions)
        self._passage_claims = [extract_claims(f"{hit.question}\n{hit.answer}") for hit in passages]
        self._customer = _Facts()
        self._customer.add(extract_claims(customer_text), _FROM_CUSTOMER)
        self._cited: set[int] = set()
        self._allowed = _Facts()
        self._buffer = ""
        self._held: list[str] = []  # complete sentences waiting for the reply's first citation
        self._gap = ""  # space after the last shown sentence: shown only if another sentence follows
        self.shown = ""  # everything released so far
        self.removed: list[Removal] = []

    def feed(self, delta: str) -> str:
        """The verified text that `delta` completes (often "": the sentence is not finished yet)."""
        sentences, self._buffer = split_sentences(self._buffer + delta, final=False)
        return self._judge(sentences)

    def finish(self) -> str:
        """The end of the reply: judge the last sentence; anything still uncited is removed."""
        sentences, self._buffer = split_sentences(self._buffer, final=True)
        released = self._judge(sentences)
        for sentence in self._held:
            self.removed.append(Removal(sentence.strip(), "the reply cites none of the FAQ passages it was given"))
        self._held = []
        return released

    def _judge(self, sentences: list[str]) -> str:
        released = ""
        for sentence in sentences:
            if not sentence.strip():
                self._gap += sentence
                continue
            if reason := self._misplaced(sentence):
                self.removed.append(Removal(sentence.strip(), reason))
                continue
            for n in cited_numbers(sentence, len(self._passage_claims)) - self._cited:
                self._cited.add(n)
                self._allowed.add(self._passage_claims[n - 1])
            self._held.append(sentence)
            if not self._cited:
                continue
            for held in self._held:
                reason = self._fails(held)
                if reason:
                    self.removed.append(Removal(held.strip(), reason))
                    continue
                text = held.rstrip()
                released += self._gap + text if self.shown or released else text
                self._gap = held[len(text) :]
            self._held = []
        self.shown += released
        return released

    def _misplaced(self, sentence: str) -> str | None:
        """Why the sentence is no answer whatever it cites: another language, or the instructions echoed."""
        plain = _plain(sentence)
        if len(plain) >= 5 and plain in self._instructions:  # also a fragment cut off by max_tokens
            return "repeats the assistant's instructions"
        grams = _grams(plain)
        if len(grams) >= 3 and len(grams & self._instruction_grams) >= 0.5 * len(grams):  # a near copy
            return "repeats the assistant's instructions"
        if _SCAFFOLDING.search(sentence):
            return "repeats the prompt's passage format"
        return wrong_language(sentence, self.language)

    def _fails(self, sentence: str) -> str | None:
        """Why the sentence may not be shown, or None."""
        for claim in extract_claims(sentence):
            if not self._supported(claim):
                source = "the cited passages" + (" or the customer's message" if claim.kind in _FROM_CUSTOMER else "")
                return f"{claim.kind} {claim.text!r} is not in {source}"
        return None

    def _supported(self, claim: Claim) -> bool:
        allowed, customer = self._allowed, self._customer
        if claim.kind == "number":
            known = allowed.get("number") | allowed.get("percent") | customer.get("number") | customer.get("percent")
            return claim.key in known or claim.key in allowed.get("phone")
        if claim.kind in ("percent", "code"):
            return claim.key in allowed.get(claim.kind) | customer.get(claim.kind)
        if claim.kind == "phone":
            # "+86 400-820-8888" may cite "400-820-8888": one number ends with the other (7+ digits shared).
            candidates = allowed.get("phone") | allowed.get("number")
            return any(_same_phone(claim.key, known) for known in candidates)
        if claim.kind == "url":
            return any(known == claim.key or known.startswith(claim.key + "/") for known in allowed.get("url"))
        return claim.key in allowed.get(claim.kind)


def _plain(text: str) -> str:
    """Lower case, no citation marks or list numbers, single spaces: for comparing text with the instructions."""
    text = _CITATION.sub(" ", normalise(text).lower())
    text = re.sub(r"^\s*\d{1,2}[.)]\s", " ", text, flags=re.MULTILINE)
    return " ".join(text.split())


# How the prompt lays out a passage ("[1] (entry cards-lost)", "Q: ...", "A: ..."): never part of an answer.
_SCAFFOLDING = re.compile(r"\(entry [^)]*\)|^\s*[QA]\s*[:：]", re.MULTILINE)


def _grams(plain: str) -> set[str]:
    """Word 4-grams (character 6-grams for Chinese): near copies share most of them."""
    words = plain.split()
    if count_cjk(plain) * 2 > len(plain.replace(" ", "")):
        text = plain.replace(" ", "")
        return {text[i : i + 6] for i in range(len(text) - 5)}
    return {" ".join(words[i : i + 4]) for i in range(len(words) - 3)}


def _same_phone(a: str, b: str) -> bool:
    short, long = sorted((a, b), key=len)
    return len(short) >= 7 and long.endswith(short)


def wrong_language(sentence: str, language: str) -> str | None:
    """Why the sentence is not in the customer's language, or None. Mixed text (请打开 App) is fine."""
    text = _CITATION.sub(" ", normalise(sentence))
    cjk = count_cjk(text)
    latin = len(re.findall(r"[A-Za-z]", text))
    other = sum(1 for ch in text if ch.isalpha() and not ch.isascii()) - cjk
    if other > max(cjk, latin):
        return "written in a language other than the customer's"
    if language == "zh" and cjk == 0 and latin >= 4:
        return "written in English, the customer writes Chinese"
    if language == "en" and cjk and detect_language(text) == "zh":
        return "written in Chinese, the customer writes English"
    return None


def verify_reply(
    text: str, passages: Sequence[Hit], language: str, customer_text: str = "", instructions: str = ""
) -> ReplyVerifier:
    """Check a finished reply; `.shown` is what may be shown ("" when it failed), `.removed` what was cut."""
    verifier = ReplyVerifier(passages, language, customer_text, instructions)
    verifier.feed(text)
    verifier.finish()
    return verifier


def verification_note(verifier: ReplyVerifier) -> str:
    """What verification did, for the turn's reason (shown to agents and operators); "" when it cut nothing."""
    if not verifier.removed:
        return ""
    reasons = "; ".join(dict.fromkeys(removal.reason for removal in verifier.removed))
    if not verifier.shown:
        return f"the model's reply failed verification ({reasons}), so the FAQ's own answer was shown"
    return f"verification removed {len(verifier.removed)} sentence(s) of the model's reply ({reasons})"
