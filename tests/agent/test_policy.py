"""The routing policy: each rule, its precedence, and the reasons it gives."""

from __future__ import annotations

import pytest

from agent.policy import URGENT, History, decide, distinct_topics, urgent_topic
from agent.settings import AgentConfig
from agent.types import Route, Sentiment, SentimentLabel
from retrieval.types import Hit, SearchResult

CONFIG = AgentConfig()
CALM = Sentiment(SentimentLabel.NEUTRAL, 0.0)
ANGRY = Sentiment(SentimentLabel.NEGATIVE, -0.8, ("shouting",))


def hit(entry_id: str, score: float, tags: tuple[str, ...] = ()) -> Hit:
    return Hit(entry_id, f"q {entry_id}", f"q {entry_id}", "a", "cards", "en", score, tags=tags)


def result(*hits: Hit, confident: bool = True) -> SearchResult:
    return SearchResult("q", list(hits), confident, 0.5, "top score 0.9 >= 0.5")


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("I think this is a scam, someone called me", "possible fraud"),
        ("I didn't make this payment", "possible fraud"),
        ("I lost my debit card yesterday", "lost or stolen card"),
        ("my card was stolen at the station", "lost or stolen card"),
        ("我的银行卡丢了怎么办", "lost or stolen card"),
        ("信用卡被盗刷了", "possible fraud"),
        ("I think my account was hacked", "account takeover"),
        ("有人登录了我的账户", "account takeover"),
        ("How do I activate my new card?", None),
        ("What is the fee for a lost PIN reminder letter", None),
        ("转账多久到账", None),
    ],
)
def test_urgent_topics(text: str, topic: str | None) -> None:
    assert urgent_topic(text) == topic


def test_urgent_topic_hands_over_first_even_when_the_faq_answers() -> None:
    decision = decide("I lost my card", result(hit("cards-lost", 0.9)), CALM, History(), CONFIG)
    assert decision.route is Route.HANDOFF and decision.priority == URGENT
    assert "lost or stolen card" in decision.reason


def test_asking_for_a_person_hands_over() -> None:
    asks = Sentiment(SentimentLabel.NEUTRAL, -0.1, ("asks_for_human",))
    decision = decide("can I talk to a human", result(hit("x", 0.9)), asks, History(), CONFIG)
    assert decision.route is Route.HANDOFF and "asked for a person" in decision.reason


def test_upset_customer_is_handed_over_after_two_negative_turns() -> None:
    first = decide("this is useless", result(hit("x", 0.9)), ANGRY, History(), CONFIG)
    assert first.route is Route.ANSWER
    second = decide("STILL BROKEN", result(hit("x", 0.9)), ANGRY, History(sentiments=(ANGRY,)), CONFIG)
    assert second.route is Route.HANDOFF and "2 turns" in second.reason and "shouting" in second.reason


def test_a_customer_describing_problems_without_upset_cues_needs_three_negative_turns() -> None:
    problem = Sentiment(SentimentLabel.NEGATIVE, -0.9)  # "the terminal rejected my card twice"
    two = decide("still declined", result(hit("x", 0.9)), problem, History(sentiments=(problem,)), CONFIG)
    assert two.route is Route.ANSWER
    three = decide("still declined", result(hit("x", 0.9)), problem, History(sentiments=(problem, problem)), CONFIG)
    assert three.route is Route.HANDOFF and "3 turns" in three.reason


def test_negative_streak_is_broken_by_a_calm_turn() -> None:
    history = History(sentiments=(ANGRY, CALM))
    assert decide("bad", result(hit("x", 0.9)), ANGRY, history, CONFIG).route is Route.ANSWER


def test_no_match_says_so_then_hands_over_when_it_repeats() -> None:
    miss = result(hit("x", 0.1), confident=False)
    first = decide("weather tomorrow?", miss, CALM, History(), CONFIG)
    assert first.route is Route.NO_ANSWER and "no good FAQ match" in first.reason
    second = decide("and the day after?", miss, CALM, History(routes=(Route.NO_ANSWER,)), CONFIG)
    assert second.route is Route.HANDOFF and "2 questions in a row" in second.reason


def test_clarify_when_two_topics_tie_but_not_for_translations_of_one_topic() -> None:
    config = CONFIG.model_copy(update={"clarify_margin": 0.05})
    tie = result(hit("fees-transfer", 0.80), hit("fees-card", 0.79))
    assert decide("fees?", tie, CALM, History(), config).route is Route.CLARIFY
    pair = result(hit("fees", 0.80, ("pair:fees",)), hit("fees-zh", 0.79, ("pair:fees",)))
    assert decide("fees?", pair, CALM, History(), config).route is Route.ANSWER
    assert [h.entry_id for h in distinct_topics(pair.hits)] == ["fees"]


def test_a_weak_match_offers_choices_and_does_not_count_as_a_miss() -> None:
    weak = SearchResult("q", [hit("a", 0.6), hit("b", 0.5)], False, 0.7, "weak match: ...", weak=True)
    decision = decide("pay my cousin abroad", weak, CALM, History(routes=(Route.NO_ANSWER,)), CONFIG)
    assert decision.route is Route.CLARIFY and "offering choices" in decision.reason


def test_clarify_margin_is_off_by_default() -> None:
    tie = result(hit("a", 0.80), hit("b", 0.80))
    assert decide("fees?", tie, CALM, History(), CONFIG).route is Route.ANSWER
