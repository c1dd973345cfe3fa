"""The routing policy: answer, clarify, no_answer or handoff, with a reason a person can read.

Rules, first match wins (thresholds are settings in AgentConfig):
1. Fraud, lost or stolen cards and account takeover: hand over at once with URGENT priority. The
   customer still gets the FAQ's first steps (freeze the card...) while a person is fetched.
2. The whole message is small talk (greetings, thanks, goodbyes, "are you a bot?", agent/small_talk.py):
   a short polite reply. Small-talk turns are left out of the streaks below, so they never lead to a handoff.
3. The customer asks for a person: hand over.
4. Sentiment negative for `negative_turns_for_handoff` consecutive turns (this one included), or for
   `upset_turns_for_handoff` when the latest turn shows an upset cue: hand over. Two thresholds because
   a customer describing a problem ("my card was rejected twice") reads as negative without being upset,
   and handing every problem to a person would drown the desk (measured: 41 of our 84 plain FAQ queries
   score <= -0.3).
5. Retrieval found only a weak match: clarify (offer the top topics as buttons; typing the number works too).
6. Retrieval found no good match: no_answer, or hand over once that has happened
   `no_answer_turns_for_handoff` times in a row.
7. The two best topics score within `clarify_margin`: clarify (offer both).
8. Otherwise answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from agent.settings import AgentConfig
from agent.small_talk import small_talk_kind
from agent.types import Decision, Route, Sentiment
from retrieval.types import Hit, SearchResult

T = TypeVar("T")

URGENT, UPSET, NORMAL = 3, 2, 1  # handoff priorities: higher is served first
UPSET_CUES = frozenset({"threatens_to_leave", "profanity", "shouting", "repeated_question", "agitated_voice"})

# Patterns are deliberately narrow: a false "fraud" handoff costs an agent's minute, a missed one costs money.
URGENT_TOPICS: dict[str, tuple[str, ...]] = {
    "possible fraud": (
        r"\bfraud",
        r"\bscam",
        r"\bunauthori[sz]ed\b",
        r"\bi (did ?n[o']t|never) (make|authori[sz]e)",
        r"\bphishing\b",
        r"诈骗",
        r"被骗",
        r"盗刷",
        r"欺诈",
        r"不是我(本人)?(操作|消费|转账|付)",
    ),
    "lost or stolen card": (
        r"\b(lost|stolen|misplaced)\b.{0,25}\bcards?\b",
        r"\bcards?\b.{0,25}\b(lost|stolen|was taken)\b",
        r"卡.{0,6}(丢了|丢失|被偷|被盗|遗失|不见了)",
        r"(丢了|丢失|被偷|遗失).{0,6}卡",
    ),
    "account takeover": (
        r"\bhack(ed|er)?\b",
        r"\bsomeone (else )?(has )?(logged|logging|got) (in|into)\b",
        r"\b(account|password|phone number|e-?mail)\b.{0,30}\bchanged\b.{0,30}\bnot me\b",
        r"\bcompromised\b",
        r"账[户号].{0,6}被盗",
        r"被盗号",
        r"(别人|陌生人|有人)登录",
        r"密码被(改|修改)",
    ),
}
_URGENT_RE = {topic: re.compile("|".join(patterns), re.IGNORECASE) for topic, patterns in URGENT_TOPICS.items()}


@dataclass(frozen=True)
class History:
    """What the policy needs to know about earlier customer turns in this conversation, oldest first.

    The pipeline leaves small-talk turns out: "thanks" neither extends nor breaks a streak.
    """

    sentiments: tuple[Sentiment, ...] = ()
    routes: tuple[str, ...] = ()


def urgent_topic(text: str) -> str | None:
    for topic, pattern in _URGENT_RE.items():
        if pattern.search(text):
            return topic
    return None


def decide(
    text: str,
    result: SearchResult,
    sentiment: Sentiment,
    history: History,
    config: AgentConfig,
    *,
    has_screenshot: bool = False,
) -> Decision:
    topic = urgent_topic(text)
    if topic:
        return Decision(Route.HANDOFF, f"{topic}: urgent, handed to a person at once", URGENT)

    # Before the request for a person: "am I talking to a person?" asks what we are, it does not ask for one.
    # A screenshot makes it a question: "hi" plus an error screenshot is not a greeting.
    if not has_screenshot and (kind := small_talk_kind(text)):
        return Decision(Route.SMALL_TALK, f"small talk ({kind})")

    if "asks_for_human" in sentiment.cues:
        return Decision(Route.HANDOFF, "the customer asked for a person", NORMAL)

    negative_streak = _trailing_count([*history.sentiments, sentiment], lambda s: s.score <= config.negative_score)
    upset = any(cue in UPSET_CUES for cue in sentiment.cues)
    needed = config.upset_turns_for_handoff if upset else config.negative_turns_for_handoff
    if negative_streak >= needed:
        return Decision(
            Route.HANDOFF,
            f"sentiment negative for {negative_streak} turns in a row (latest {sentiment.score:+.2f}"
            + (f", {', '.join(cue.replace('_', ' ') for cue in sentiment.cues)})" if upset else ")"),
            UPSET,
        )

    if result.weak and len(distinct_topics(result.hits)) >= 2:
        return Decision(Route.CLARIFY, f"offering choices: {result.reason}")

    if not result.confident:
        misses = _trailing_count([*history.routes, Route.NO_ANSWER], lambda r: r in (Route.NO_ANSWER, Route.HANDOFF))
        if misses >= config.no_answer_turns_for_handoff:
            return Decision(Route.HANDOFF, f"the FAQ could not answer {misses} questions in a row", NORMAL)
        return Decision(Route.NO_ANSWER, f"no good FAQ match ({result.reason})")

    choices = distinct_topics(result.hits)
    if config.clarify_margin > 0 and len(choices) >= 2 and choices[0].score - choices[1].score < config.clarify_margin:
        return Decision(
            Route.CLARIFY,
            f"two FAQ entries match almost equally ({choices[0].entry_id} {choices[0].score:.3f},"
            f" {choices[1].entry_id} {choices[1].score:.3f})",
        )
    return Decision(Route.ANSWER, f"confident FAQ match {result.hits[0].entry_id} ({result.reason})")


def topic_key(hit: Hit) -> str:
    """Translations of one entry share a "pair:" tag; they are one topic, not two choices."""
    return next((tag for tag in hit.tags if tag.startswith("pair:")), hit.entry_id)


def distinct_topics(hits: Sequence[Hit]) -> list[Hit]:
    seen: set[str] = set()
    topics = []
    for hit in hits:
        key = topic_key(hit)
        if key not in seen:
            seen.add(key)
            topics.append(hit)
    return topics


def _trailing_count(items: Sequence[T], predicate: Callable[[T], bool]) -> int:
    count = 0
    for item in reversed(items):
        if not predicate(item):
            break
        count += 1
    return count
