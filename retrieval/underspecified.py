"""Queries too short to pick a topic ("密码", "transfer", "PIN") are asked back, whatever P(answer) says.

A one-word message names a subject, not a question: the default FAQ has seven topics whose phrasings say
密码 (login password reset, card PIN, a hijacked account...), and a customer who types it must choose.
The probability cannot see this: it is fitted on held-out phrasings, which are whole questions, and a word
shared by several topics still lands on one of them with a high cosine ("密码" P 0.38-0.67 over held-out
draws of the default FAQ, "PIN" 0.98, "转账" 0.64: answered confidently at a cut-off near 0.5).

The rule: when the query's words all appear together in a phrasing of at least `SHARED_TOPICS` topics,
nothing in it singles one out, so the search offers choices ("did you mean") instead of answering or
refusing. Three is what "did you mean" offers (retrieval.evaluation.CLARIFY_CHOICES). Two topics are not
enough: an entry and its app error-code twin share whole questions ("新卡怎么激活啊" is in the phrasings
of both card activation and E3002), and there the ranking and the probability do tell them apart.

Real questions almost never meet the rule: none of our 3,309 English and Chinese DEV/TEST questions does
(the most any shares with phrasings is one topic), so it changes no measured figure; it frees the Chinese
cut-off from having to stay above the one-word queries' probabilities (benchmarks/retrieval.md,
"Underspecified queries").
"""

from __future__ import annotations

from collections.abc import Iterable

from retrieval.calibration_fit import topic_of
from retrieval.lexical_index import tokenize
from retrieval.signals import text_tokens
from retrieval.types import FaqEntry

SHARED_TOPICS = 3


class PhrasingWords:
    """Which phrasings use each word, and each phrasing's topic (an entry and its `pair:` translation are one)."""

    def __init__(self, entries: Iterable[FaqEntry]) -> None:
        self._topic_of: list[str] = []
        self._phrasings_with: dict[str, set[int]] = {}
        for entry in entries:
            topic = topic_of(entry)
            for phrasing in entry.phrasings:
                number = len(self._topic_of)
                self._topic_of.append(topic)
                for token in text_tokens(phrasing.lower()):
                    self._phrasings_with.setdefault(token, set()).add(number)

    def topics_sharing(self, query: str) -> int:
        """How many topics have a phrasing that holds every word of the query (0 for a query of stop words)."""
        tokens = set(tokenize(query))
        if not tokens:
            return 0
        postings = sorted((self._phrasings_with.get(t, set()) for t in tokens), key=len)
        holding = set(postings[0]).intersection(*postings[1:])
        return len({self._topic_of[n] for n in holding})

    def underspecified(self, query: str) -> int:
        """The number of topics sharing the query's words when that makes it too vague to answer, else 0."""
        shared = self.topics_sharing(query)
        return shared if shared >= SHARED_TOPICS else 0
