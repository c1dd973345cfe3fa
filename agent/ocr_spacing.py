"""Putting back the spaces rapidocr drops between English words: "Youputabook" -> "You put a book".

PP-OCR's recogniser often emits no space between words of small Latin text. We split long runs of
letters with wordsegment (unigram + bigram counts from a large English corpus; it beat wordninja on
our screenshots because bigrams fix "goto" -> "go to" and "havent"), and add the missing space after
sentence punctuation. URLs, e-mail addresses, domain names, CamelCase and mixed letter/digit tokens
(error codes such as E1001) are never touched, and Chinese is left alone (it has no spaces).
"""

from __future__ import annotations

import re
import threading
from typing import Any

from agent.errors import OcrError

MIN_RUN_LETTERS = 5  # shorter runs ("isa", "ofa") are too ambiguous to split without context
# Spans left exactly as read: URLs, e-mail addresses, bare domains and paths such as pypi.org/project/x.
_PROTECTED = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)*"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,6}\b(?:/\S*)?"
)
# Letters with inner apostrophes (Aren'tthe...), not glued to digits or underscores (E1001, Invalid_one).
_RUN = re.compile(r"(?<![\w'])[A-Za-z]+(?:'[A-Za-z]+)*(?![\w'])")
_SEGMENTABLE = re.compile(r"[A-Z]?[a-z']+|[A-Z']+")  # lowercase, Capitalised or ALL CAPS; not CamelCase
_AFTER_PUNCTUATION = re.compile(r"(?<=[A-Za-z)\"'])([,;!?])(?=[A-Za-z(\"])|(?<=[a-z])([.:])(?=[A-Z])")
_AROUND_PARENS = re.compile(r"(?<=[A-Za-z])(\()|(\))(?=[A-Za-z])")

# An error code glued to the word before it: "ErrorE1001" -> "Error E1001".
_GLUED_CODE = re.compile(r"(?<=[a-z])(?=[A-Z]{1,4}[0-9lIO]*\d{2})")
# Letters that OCR confuses with digits inside a code's digit part: "El001" -> "E1001", "E1O02" -> "E1002".
_CODE = re.compile(r"\b([A-Z]{1,4})([0-9lIO]*\d[0-9lIO]*)\b")
_DIGIT_LOOKALIKES = str.maketrans({"l": "1", "I": "1", "O": "0"})

_segmenter: Any = None
_segmenter_lock = threading.Lock()


def restore_spacing(text: str) -> str:
    """Insert the word spaces OCR lost in `text`, leaving protected spans and Chinese unchanged."""
    pieces: list[str] = []
    last = 0
    for match in _PROTECTED.finditer(text):
        pieces.append(_restore_plain(text[last : match.start()]))
        pieces.append(match.group())
        last = match.end()
    pieces.append(_restore_plain(text[last:]))
    return "".join(pieces)


def warm_up() -> None:
    """Load the word statistics now (about 1 s) instead of on the first screenshot."""
    _get_segmenter()


def _restore_plain(text: str) -> str:
    if not text:
        return text
    text = _AFTER_PUNCTUATION.sub(lambda m: (m.group(1) or m.group(2)) + " ", text)
    text = _AROUND_PARENS.sub(lambda m: " (" if m.group(1) else ") ", text)
    text = _GLUED_CODE.sub(" ", text)
    text = _CODE.sub(_fix_code, text)
    return _RUN.sub(lambda m: _split_run(m.group()), text)


def _fix_code(match: re.Match[str]) -> str:
    prefix, number = match.groups()
    if sum(c.isdigit() for c in number) < 2:
        return match.group()  # "EOL1"? too little evidence that this is a code at all
    return prefix + number.translate(_DIGIT_LOOKALIKES)


def _split_run(run: str) -> str:
    letters = run.replace("'", "")
    if len(letters) < MIN_RUN_LETTERS or not _SEGMENTABLE.fullmatch(run):
        return run
    segmenter = _get_segmenter()
    # No "is it already a word?" shortcut: web counts know glued junk such as "isthe"; the
    # segmenter's bigram score already keeps real words ("documentation") whole.
    words = segmenter.segment(letters.lower())
    if len(words) < 2 or not all(_plausible(word, segmenter) for word in words):
        return run
    return _insert_spaces(run, [len(word) for word in words])


def _plausible(word: str, segmenter: Any) -> bool:
    # Lone letters other than "a" and "i" are how the segmenter gives up on an unknown name ("lm dia g").
    return word in segmenter.unigrams and (len(word) > 1 or word in ("a", "i"))


def _insert_spaces(run: str, lengths: list[int]) -> str:
    """Re-apply word lengths (counted without apostrophes) to the original run, keeping its case."""
    out: list[str] = []
    boundaries = set()
    position = 0
    for length in lengths[:-1]:
        position += length
        boundaries.add(position)
    letters_seen = 0
    for char in run:
        if char != "'" and letters_seen in boundaries and out:
            out.append(" ")
            boundaries.discard(letters_seen)
        out.append(char)
        if char != "'":
            letters_seen += 1
    return "".join(out)


def _get_segmenter() -> Any:
    global _segmenter
    with _segmenter_lock:
        if _segmenter is None:
            try:
                from wordsegment import Segmenter
            except ImportError as e:
                raise OcrError("Word spacing for OCR needs wordsegment: run 'pip install wordsegment'.") from e
            segmenter = Segmenter()
            segmenter.load()
            _segmenter = segmenter
        return _segmenter
