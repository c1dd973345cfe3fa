"""BM25 over FAQ entries (bm25s): one document per entry, made of all its phrasings' tokens.

Tokens: lowercase English words (stop words dropped, a light plural/suffix fold so "cards" meets "card")
and jieba's search-mode words for Chinese runs. Tokens are cached per entry, so an edit re-tokenises
one entry and the bm25s matrix is rebuilt from the cache on the next search (~0.1 s at 10,000 entries,
measured by benchmarks/retrieval_speed.py): edits are searchable well within a second.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence

import numpy as np

_CJK_RUN = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")
_WORD = re.compile(r"[a-z0-9]+")
_ZH_STOP = frozenset(
    [
        "的",
        "了",
        "吗",
        "呢",
        "吧",
        "啊",
        "我",
        "你",
        "是",
        "在",
        "有",
        "和",
        "与",
        "及",
        "或",
        "怎么",
        "怎样",
        "如何",
        "什么",
        "为什么",
        "可以",
        "能",
        "要",
        "会",
        "这",
        "那",
        "一个",
        "请问",
        "请",
    ]
)
_jieba_lock = threading.Lock()
_jieba = None


def _load_jieba():  # jieba builds its prefix dictionary (~1 s) on first use; do it once, lazily
    global _jieba
    with _jieba_lock:
        if _jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba = jieba
    return _jieba


def _en_stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    # "not"/"no" change what a banking question means ("card not working") so they stay searchable.
    return frozenset(STOPWORDS_EN) - {"not", "no"}


_EN_STOP: frozenset[str] | None = None


def _fold(word: str) -> str:
    """A deliberately tiny stemmer for the endings FAQ wording varies most: charges/charged/charging -> charg."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    global _EN_STOP
    if _EN_STOP is None:
        _EN_STOP = _en_stopwords()
    tokens: list[str] = []
    for n, chunk in enumerate(_CJK_RUN.split(text.lower())):
        if n % 2:  # odd chunks are the CJK runs captured by the split
            tokens += [w for w in _load_jieba().lcut_for_search(chunk) if w not in _ZH_STOP]
        else:
            tokens += [_fold(w) for w in _WORD.findall(chunk) if w not in _EN_STOP]
    return tokens


class LexicalIndex:
    def __init__(self, *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._tokens: dict[str, list[str]] = {}  # entry id -> tokens of all its phrasings
        self._order: list[str] = []  # bm25s document number -> entry id, valid when not dirty
        self._bm25 = None
        self._dirty = True

    def __len__(self) -> int:
        return len(self._tokens)

    @staticmethod
    def tokens_for(phrasings: Sequence[str]) -> list[str]:
        return [token for text in phrasings for token in tokenize(text)]

    def set(self, entry_id: str, phrasings: Sequence[str]) -> None:
        self.set_tokens(entry_id, self.tokens_for(phrasings))

    def set_tokens(self, entry_id: str, tokens: list[str]) -> None:
        self._tokens[entry_id] = tokens
        self._dirty = True

    def remove(self, entry_id: str) -> None:
        if self._tokens.pop(entry_id, None) is not None:
            self._dirty = True

    def _refresh(self) -> None:
        import bm25s

        self._order = list(self._tokens)
        # An entry whose words are all stop words still needs a document; "" is bm25s's empty token.
        corpus = [self._tokens[entry_id] or [""] for entry_id in self._order]
        self._bm25 = bm25s.BM25(k1=self.k1, b=self.b) if corpus else None
        if self._bm25 is not None:
            self._bm25.index(corpus, show_progress=False)
        self._dirty = False

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """Up to k (entry id, BM25 score) pairs with a positive score, best first."""
        if self._dirty:
            self._refresh()
        tokens = tokenize(query)
        if self._bm25 is None or not tokens:
            return []
        ids = self._bm25.get_tokens_ids(tokens)
        if not ids:
            return []
        scores = self._bm25.get_scores_from_ids(ids)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self._order[i], float(scores[i])) for i in top.tolist() if scores[i] > 0]
