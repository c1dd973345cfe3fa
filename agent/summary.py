"""The short note a human agent reads first when a conversation lands in their queue."""

from __future__ import annotations

from collections.abc import Sequence

from agent.types import Decision, Sentiment
from retrieval.types import SearchResult

MAX_QUOTE = 200  # characters of each customer message quoted


def handoff_summary(
    latest: str,
    earlier: Sequence[str],
    sentiment: Sentiment,
    decision: Decision,
    result: SearchResult | None,
    language: str,
) -> str:
    """Extractive on purpose: it quotes the customer rather than paraphrasing them, so it cannot misstate them."""
    lines = [f"Why: {decision.reason}.", f'Customer ({language}) last wrote: "{_clip(latest)}"']
    if earlier:
        lines.append(f'Earlier ({len(earlier)} messages), first: "{_clip(earlier[0])}"')
    cues = f" ({', '.join(sentiment.cues)})" if sentiment.cues else ""
    lines.append(f"Mood: {sentiment.label} {sentiment.score:+.2f}{cues}.")
    if result and result.hits:
        best = result.hits[0]
        confidence = "confident" if result.confident else "weak"
        lines.append(f"Closest FAQ entry ({confidence}): {best.question} [{best.entry_id}].")
    return "\n".join(lines)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_QUOTE else text[: MAX_QUOTE - 1] + "…"
