"""The data that crosses retrieval's boundary: FAQ entries in, typed hits out."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FaqEntry:
    """One FAQ entry as operators keep it. `id` is stable across edits; `version` counts edits."""

    id: str
    question: str
    answer: str
    alternates: tuple[str, ...] = ()  # other ways customers ask the same thing
    category: str = ""
    language: str = "en"  # "en" or "zh" (any BCP-47-ish code is stored as given)
    tags: tuple[str, ...] = ()
    updated_at: str = ""  # ISO 8601, UTC
    version: int = 0

    @property
    def phrasings(self) -> tuple[str, ...]:
        """The question followed by its alternates: each one gets its own vector."""
        return (self.question, *self.alternates)


@dataclass(frozen=True)
class Hit:
    """One FAQ entry found for a query, with how each retriever ranked it (ranks are 1-based)."""

    entry_id: str
    question: str  # the entry's canonical question
    matched: str  # the phrasing (question or alternate) that matched best
    answer: str
    category: str
    language: str
    score: float  # fused score; higher is better
    dense_score: float | None = None  # best cosine similarity over the entry's phrasings
    dense_rank: int | None = None
    lexical_score: float | None = None  # BM25
    lexical_rank: int | None = None
    tags: tuple[str, ...] = ()  # the entry's tags; "pair:<topic>" links an entry to its translation


@dataclass(frozen=True)
class SearchResult:
    """Hits for one query plus the confidence decision, in three steps: `confident` (answer), `weak` (offer
    the top hits as choices) or neither ("no good match")."""

    query: str
    hits: list[Hit]
    confident: bool  # close enough to answer from the top hit
    threshold: float
    reason: str  # human-readable, e.g. "top dense similarity 0.41 < threshold 0.55"
    timings_ms: dict[str, float] = field(default_factory=dict)
    weak: bool = False  # not confident, but close enough to offer the top hits as choices ("did you mean...")
    probability: float | None = None  # estimated P(the top hit answers the query); None before calibration

    @property
    def route(self) -> str:
        """What the customer gets from this search alone: "answer", "clarify" (choices) or "no_answer"."""
        return "answer" if self.confident else "clarify" if self.weak else "no_answer"
