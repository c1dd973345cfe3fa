"""Customers' English typos, corrected before the FAQ's words are matched: "recieved", "adress", "paymet".

BM25 (retrieval/lexical_index.py) cannot match a misspelt word at all, and the word signals
(retrieval/signals.py) read it as a rare word that no entry uses, which pushes the decision towards "no
answer". `Spelling.correct` rewrites only a word that neither this FAQ nor symspellpy's English frequency
dictionary (82,765 words) knows, and only to a word of this FAQ one edit away (an insertion, deletion,
substitution or transposition: most real typos); a missing apostrophe ("dont", "isnt") becomes the
dictionary's contraction. Correcting towards English words the FAQ does not use would change nothing
BM25 or the signals read, and guesses them wrong too often ("topup" -> popup, "crypto" -> crypt).

Never changed: words the FAQ uses (bank terms and product names: SEPA, chargeback, FinDesk), words in
capitals (GBP, IBAN), plurals of known words ("mins"), capitalised words inside a sentence (names:
Notting Hill; they only get a missing apostrophe), words shorter than 4 letters, and any
whitespace-separated chunk that is not plain ASCII or holds a digit, "@", "://" or "www.": numbers,
amounts, codes (E2001), e-mail addresses, URLs and Chinese text pass through untouched. The dense query is
left as the customer wrote it (measured no better corrected: benchmarks/retrieval.md, "Customer typos").

Owner: retrieval. The knowledge base keeps one `Spelling` in step with its entries, like its BM25 index,
and hands the corrected query to BM25 and the signals.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
import threading
from collections import Counter
from collections.abc import Iterable

from retrieval.types import FaqEntry

MIN_LENGTH = 4  # shorter words have too many one-edit neighbours to guess from ("im", "eu", "gbp")
MAX_EDIT = 1
_CHUNK = re.compile(r"\S+")
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
# A whitespace-separated chunk with a digit, "@", "://" or "www." is a number, amount, code, e-mail or URL.
_VERBATIM = re.compile(r"\d|@|://|^www\.", re.IGNORECASE)

_english_lock = threading.Lock()
_english: tuple[dict[str, int], dict[str, str]] | None = None  # word -> frequency; "dont" -> "don't"


def english() -> tuple[dict[str, int], dict[str, str]]:
    """symspellpy's English word frequencies and its contractions keyed without the apostrophe (loaded once
    per process, ~0.2 s and ~12 MB)."""
    global _english
    with _english_lock:
        if _english is None:
            path = importlib.resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
            counts: dict[str, int] = {}
            with path.open(encoding="utf-8") as lines:
                for line in lines:
                    word, count = line.split()
                    counts[word] = int(count)
            _english = counts, {w.replace("'", ""): w for w in counts if "'" in w}
    return _english


def ascii_words(texts: Iterable[str]) -> set[str]:
    """The lowercased ASCII words of some texts."""
    return {w.lower() for text in texts for w in _WORD.findall(text)}


class Spelling:
    """Corrects customers' English words towards one FAQ's words.

    The knowledge base calls `set` / `remove` as entries change and `correct` per search, under its own lock.
    """

    def __init__(self) -> None:
        from symspellpy import SymSpell

        self._faq = SymSpell(max_dictionary_edit_distance=MAX_EDIT)  # this FAQ's words, to look typos up in
        self._count: Counter[str] = Counter()  # word -> entries using it
        self._words: dict[str, frozenset[str]] = {}  # entry id -> its words

    def set(self, entry_id: str, texts: Iterable[str]) -> None:
        """Know the words of one entry's phrasings and answer (replacing what it had before)."""
        self.remove(entry_id)
        words = frozenset(ascii_words(texts))
        self._words[entry_id] = words
        for word in words:
            self._count[word] += 1
            if self._count[word] == 1 and len(word) >= MIN_LENGTH:
                self._faq.create_dictionary_entry(word, 1)

    def set_entry(self, entry: FaqEntry) -> None:
        """Know the words of one FAQ entry: its phrasings and its answer."""
        self.set(entry.id, (*entry.phrasings, entry.answer))

    def remove(self, entry_id: str) -> None:
        for word in self._words.pop(entry_id, ()):
            self._count[word] -= 1
            if self._count[word] == 0:
                del self._count[word]
                if len(word) >= MIN_LENGTH:
                    self._faq.delete_dictionary_entry(word)

    def knows(self, word: str) -> bool:
        """Whether some entry uses this lowercased word."""
        return word in self._count

    def correct(self, text: str) -> str:
        """The text with its unknown English words corrected; everything else exactly as it was."""
        parts, end, sentence_start = [], 0, True
        for chunk in _CHUNK.finditer(text):
            parts.append(text[end : chunk.start()])
            word = chunk.group()
            if _VERBATIM.search(word) or not word.isascii():
                parts.append(word)
            else:
                parts.append(_WORD.sub(functools.partial(self._word, sentence_start), word))
            sentence_start, end = word.endswith((".", "!", "?")), chunk.end()
        parts.append(text[end:])
        return "".join(parts)

    def _word(self, sentence_start: bool, match: re.Match[str]) -> str:
        word = match.group()
        if word.isupper() and len(word) > 1:  # SEPA, IBAN, GBP: written in capitals on purpose
            return word
        # A capitalised word inside a sentence is a name (Notting Hill, Revolut): only an apostrophe is added.
        name = word[0].isupper() and not sentence_start
        fixed = self.correct_word(word.lower(), guess=not name)
        if fixed is None:
            return word
        return fixed.capitalize() if word[0].isupper() else fixed

    def correct_word(self, word: str, *, guess: bool = True) -> str | None:
        """The correction of one lowercased word, or None to keep it (guess=False: contractions only)."""
        if word in self._count:
            return None
        frequency, contractions = english()
        if word in frequency:
            return None
        if word in contractions:
            return contractions[word]
        if not guess or len(word) < MIN_LENGTH or "'" in word:
            return None
        if word.endswith("s") and (word[:-1] in frequency or word[:-1] in self._count):
            return None  # the plural of a known word the dictionary lacks ("mins", "ebooks"), not a typo
        from symspellpy import Verbosity

        # Of the FAQ's words one edit away, the more common English word ("usign" -> using, not sign).
        found = self._faq.lookup(word, Verbosity.CLOSEST, max_edit_distance=MAX_EDIT)
        best = min(found, key=lambda item: (-frequency.get(item.term, 0), item.term), default=None)
        return best.term if best is not None else None
