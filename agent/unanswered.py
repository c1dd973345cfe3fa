"""Gaps in the FAQ: customer messages that ended in no_answer or handoff, or whose answer got a thumbs down,
grouped by meaning, biggest first.

The operator console shows each group with its count and one click turns it into a new FAQ entry.
Grouping uses the knowledge base's own embedder, so "what the FAQ cannot answer" and "what the FAQ
would match" are measured with the same notion of similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from agent.conversations import ConversationStore, StoredMessage
from agent.feedback import FeedbackStore
from retrieval.embedders.base import Embedder

# Cosine similarity above which two questions count as the same gap. Embedders spread similarities
# differently: e5 puts even unrelated sentences above 0.75, MiniLM puts paraphrases around 0.6-0.9.
DEFAULT_THRESHOLD = 0.6
THRESHOLDS = {"multilingual-e5-small": 0.88}
PLACEHOLDERS = {"(screenshot)"}  # what the pipeline stores for a turn that was only an image


@dataclass(frozen=True)
class UnansweredGroup:
    question: str  # the member closest to the group's centre: a good first draft of the FAQ question
    count: int  # messages in the group
    sessions: int  # distinct conversations they came from
    examples: tuple[str, ...]  # distinct phrasings, most typical first (good alternates)
    last_at: str  # ISO 8601 UTC of the newest message
    routes: tuple[str, ...]  # distinct routes the messages took (no_answer, handoff)
    message_ids: tuple[int, ...]


def unanswered_messages(
    conversations: ConversationStore, feedback: FeedbackStore, limit: int = 200
) -> list[StoredMessage]:
    """Questions the bot did not answer (no_answer, handoff) and those whose answer got a thumbs down."""
    messages = conversations.unanswered(limit)
    seen = {m.id for m in messages}
    disliked = [replace(m, route="thumbs_down") for m in feedback.disliked_questions(limit) if m.id not in seen]
    return messages + disliked


def threshold_for(embedder_name: str) -> float:
    return THRESHOLDS.get(embedder_name, DEFAULT_THRESHOLD)


def group_unanswered(
    messages: Sequence[StoredMessage],
    embedder: Embedder,
    *,
    threshold: float | None = None,
    max_examples: int = 5,
) -> list[UnansweredGroup]:
    """Greedy single-pass clustering against running group centres (oldest message first), biggest first.

    Single pass is O(messages x groups) and deterministic; at the few hundred messages the report reads
    (ConversationStore.unanswered's limit) that is milliseconds once the texts are embedded.
    """
    usable = sorted((m for m in messages if m.text.strip() and m.text.strip() not in PLACEHOLDERS), key=lambda m: m.id)
    if not usable:
        return []
    limit = threshold_for(embedder.name) if threshold is None else threshold
    vectors = embedder.embed([m.text for m in usable], kind="query")
    sums: list[np.ndarray] = []
    members: list[list[int]] = []
    for i, vector in enumerate(vectors):
        best, best_score = -1, limit
        if sums:
            centres = np.stack(sums)
            centres /= np.linalg.norm(centres, axis=1, keepdims=True)
            scores = centres @ vector
            best = int(np.argmax(scores))
            best_score = float(scores[best])
        if best >= 0 and best_score >= limit:
            sums[best] = sums[best] + vector
            members[best].append(i)
        else:
            sums.append(vector.astype(np.float32).copy())
            members.append([i])
    groups = [
        _group([usable[i] for i in idx], vectors[idx], total, max_examples)
        for idx, total in zip(members, sums, strict=True)
    ]
    return sorted(groups, key=lambda g: (g.count, g.last_at), reverse=True)  # biggest, then most recent


def _group(items: list[StoredMessage], vectors: np.ndarray, total: np.ndarray, max_examples: int) -> UnansweredGroup:
    centre = total / (np.linalg.norm(total) or 1.0)
    order = np.argsort(-(vectors @ centre), kind="stable")
    examples: list[str] = []
    seen: set[str] = set()
    for i in order:
        key = items[i].text.strip().casefold()
        if key not in seen:
            seen.add(key)
            examples.append(items[i].text.strip())
    return UnansweredGroup(
        question=examples[0],
        count=len(items),
        sessions=len({m.session_id for m in items}),
        examples=tuple(examples[:max_examples]),
        last_at=max(m.at for m in items),
        routes=tuple(sorted({m.route or "" for m in items} - {""})),
        message_ids=tuple(m.id for m in items),
    )
