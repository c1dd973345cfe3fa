"""Customer-service cues, found by rules in English and Chinese, and how they push a reading negative.

Cues are what a human agent wants to know at a glance ("wants a person", "threatens to leave"), so they
are always reported, whatever the label. Rules, not a model: each cue is a short list of phrasings a
reviewer can read and extend, and a false positive is easy to explain.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from math import sqrt

import numpy as np

from agent.language import count_cjk

ASKS_FOR_HUMAN = "asks_for_human"
THREATENS_TO_LEAVE = "threatens_to_leave"  # leaving, or complaining to someone outside (regulator, lawyer, press)
REPEATED_QUESTION = "repeated_question"
PROFANITY = "profanity"
SHOUTING = "shouting"
CUES = (ASKS_FOR_HUMAN, THREATENS_TO_LEAVE, REPEATED_QUESTION, PROFANITY, SHOUTING)

_I = re.IGNORECASE
_PATTERNS: dict[str, tuple[re.Pattern[str], ...]] = {
    ASKS_FOR_HUMAN: (
        re.compile(
            r"\b(talk|speak|chat)(ing)?\s+(to|with)\s+(a\s+|an\s+|the\s+|your\s+)?(real\s+|actual\s+|live\s+)?"
            r"(person|human|people|agent|representative|rep|manager|supervisor|operator|someone|somebody|staff)\b",
            _I,
        ),
        re.compile(r"\b(real|actual|live)\s+(person|human|agent|people)\b", _I),
        re.compile(r"\bhuman\s+(agent|being|support|operator)\b", _I),
        re.compile(r"\b(transfer|connect|put)\s+me\s+(through|to)\b", _I),
        re.compile(r"\b(need|want|get\s+me)\s+(an?\s+|your\s+)?(agent|human|representative|operator|supervisor)\b", _I),
        re.compile(r"\bi\s+(need|want)\s+(a|the|your)\s+manager\b", _I),
        re.compile(r"转人工|人工客服|人工服务|找人工|人工坐席|真人|客服人员|接线员|找(你们)?经理|叫(你们)?经理"),
    ),
    THREATENS_TO_LEAVE: (
        re.compile(
            r"\b(close|closing|cancel|cancelling|canceling|shut)\s+(down\s+)?(my|our|the)\s+(\w+\s+)?(account|card)s?\b",
            _I,
        ),
        re.compile(r"\bswitch(ing)?\s+(banks|providers|airlines|to\s+(another|a\s+different))\b", _I),
        re.compile(
            r"\b(move|moving|take|taking)\s+(all\s+)?my\s+(money|savings|business|accounts?)\s+(elsewhere|to)\b", _I
        ),
        re.compile(r"\b(leave|leaving|quit|quitting)\s+(this|your)\s+(bank|company|airline|service)\b", _I),
        re.compile(r"\bnever\s+(fly|flying|bank|banking|use|using|buy|buying|book|booking)\b.*\bagain\b", _I),
        re.compile(r"\b(report|reporting)\s+(you|your\s+bank|this\s+to\s+the)\b", _I),
        re.compile(r"\b(file|filing|lodge|make)\s+a\s+(formal\s+)?complaint\b", _I),
        re.compile(r"\b(lawyer|attorney|sue|lawsuit|ombudsman|regulator|cfpb|bbb|consumer\s+protection)\b", _I),
        re.compile(r"\bdone\s+with\s+(you|this\s+bank|your)\b", _I),
        re.compile(
            r"投诉|举报|曝光|起诉|律师|销户|注销|换(一家|家|个)?银行|别的银行|银保监|金融监管|消协|消费者协会|12315|12378|再也不"
        ),
    ),
    REPEATED_QUESTION: (
        re.compile(r"\b(i\s+)?(already|have)\s+(asked|told\s+you|explained)\b", _I),
        re.compile(r"\bfor\s+the\s+(second|third|fourth|fifth|nth|\d+(st|nd|rd|th))\s+time\b", _I),
        re.compile(r"\bhow\s+many\s+times\b", _I),
        re.compile(r"\b(asking|ask)\s+(this\s+)?again\b|\bsame\s+(question|problem|issue)\b|\brepeat\s+myself\b", _I),
        re.compile(
            r"问过|再问一(次|遍)|又问|重复|说了(好几|多少|两|三)?遍|第[二三四五六七八九十几]次(问|说|打|发|联系|来电)"
        ),
    ),
    PROFANITY: (
        re.compile(
            r"\b(fuck\w*|f\*+k\w*|shit\w*|bullshit|crap|crappy|damn\w*|wtf|ffs|asshole\w*|bastard\w*|bitch\w*|"
            r"piss(ed)?|screw\s+(you|this|it)|bloody\s+hell|the\s+hell)\b",
            _I,
        ),
        re.compile(r"他妈|妈的|傻逼|傻B|煞笔|操你|我操(?![作心练控])|卧槽|尼玛|混蛋|王八蛋|狗屎|去死|坑爹"),
    ),
}

# How strongly each cue moves a reading towards negative: the share of the neutral and positive
# probability mass handed to negative. Asking for a person is often polite, so it pushes least;
# a threat to leave or swearing is rarely anything but unhappy. Shouting only amplifies a reading that
# already leans negative ("THANK YOU!!!" is shouting too).
_PUSH = {ASKS_FOR_HUMAN: 0.25, THREATENS_TO_LEAVE: 0.35, REPEATED_QUESTION: 0.35, PROFANITY: 0.45, SHOUTING: 0.3}

_LATIN_LETTER = re.compile(r"[A-Za-z]")
_UPPER_WORD = re.compile(r"\b[A-Z]{2,}\b")
_EXCLAIM = re.compile(r"[!！]{3,}|[!！?？]{2,}[!！][?？]|[?？][!！]{2,}|[!！]{2,}[?？]")
_NOT_WORD = re.compile(r"[\W_]+")
_SIMILAR = 0.6  # cosine of character n-gram counts: rewordings of the same question land around 0.6-0.9


def _is_shouting(text: str) -> bool:
    if _EXCLAIM.search(text):
        return True
    letters = _LATIN_LETTER.findall(text)
    upper = sum(ch.isupper() for ch in letters)
    # Two or more capitalised words and mostly capitals: "WHERE IS MY MONEY", not "ATM PIN".
    return len(letters) >= 8 and upper / len(letters) >= 0.7 and len(_UPPER_WORD.findall(text)) >= 2


def _ngrams(text: str) -> Counter[str]:
    squashed = _NOT_WORD.sub("", text.lower())
    n = 2 if count_cjk(squashed) * 2 >= len(squashed) else 3
    return Counter(squashed[i : i + n] for i in range(max(len(squashed) - n + 1, 0)))


def _long_enough(text: str) -> bool:
    squashed = _NOT_WORD.sub("", text)
    cjk = count_cjk(squashed)
    # "ok" twice is not a repeated question; a real question has some substance.
    return cjk >= 5 or len(squashed) - cjk >= 12


def similarity(a: str, b: str) -> float:
    """Cosine similarity of character n-gram counts (bigrams for Chinese, trigrams otherwise)."""
    grams_a, grams_b = _ngrams(a), _ngrams(b)
    dot = sum(count * grams_b[gram] for gram, count in grams_a.items())
    norm = sqrt(sum(c * c for c in grams_a.values())) * sqrt(sum(c * c for c in grams_b.values()))
    return dot / norm if norm else 0.0


def _repeats_history(text: str, history: Sequence[str]) -> bool:
    if not _long_enough(text):
        return False
    return any(_long_enough(earlier) and similarity(text, earlier) >= _SIMILAR for earlier in history)


def detect_cues(text: str, history: Sequence[str] = ()) -> tuple[str, ...]:
    """The cues found in `text` (raw, not lower-cased: shouting needs the case), in CUES order.

    `history` holds the customer's earlier messages in this conversation, for the repeated question.
    """
    found = {cue for cue, patterns in _PATTERNS.items() if any(p.search(text) for p in patterns)}
    if _repeats_history(text, history):
        found.add(REPEATED_QUESTION)
    if _is_shouting(text):
        found.add(SHOUTING)
    return tuple(cue for cue in CUES if cue in found)


def push_for_cues(probabilities: np.ndarray, cues: Sequence[str]) -> np.ndarray:
    """Move probability mass (order: negative, neutral, positive) towards negative for each cue found."""
    negative, neutral, positive = (float(p) for p in probabilities)
    keep = 1.0
    for cue in cues:
        if cue == SHOUTING and negative <= positive:
            continue
        keep *= 1.0 - _PUSH.get(cue, 0.0)
    moved = (neutral + positive) * (1.0 - keep)
    return np.array([negative + moved, neutral * keep, positive * keep], dtype=np.float64)
