"""Small talk: whole-message greetings, thanks, goodbyes and bot questions, in English and Chinese."""

from __future__ import annotations

import pytest

from agent.policy import History, decide
from agent.settings import AgentConfig
from agent.small_talk import SmallTalk, small_talk_kind, small_talk_reply
from agent.types import Route, Sentiment, SentimentLabel
from retrieval.types import SearchResult

NOTHING = SearchResult("q", [], False, 0.0, "no hit above the floor")
CALM = Sentiment(SentimentLabel.NEUTRAL, 0.0)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hi", SmallTalk.GREETING),
        ("Hello there!", SmallTalk.GREETING),
        ("good morning 🙂", SmallTalk.GREETING),
        ("Hi, how are you?", SmallTalk.GREETING),
        ("你好", SmallTalk.GREETING),
        ("您好！在吗？", SmallTalk.GREETING),
        ("thanks, that helped", SmallTalk.THANKS),
        ("Thank you so much!!", SmallTalk.THANKS),
        ("ok thx", SmallTalk.THANKS),
        ("谢谢", SmallTalk.THANKS),
        ("好的，明白了，谢谢您", SmallTalk.THANKS),
        ("bye", SmallTalk.GOODBYE),
        ("Thanks, bye!", SmallTalk.GOODBYE),  # the goodbye is what needs answering
        ("that's all, have a nice day", SmallTalk.GOODBYE),
        ("谢谢，再见", SmallTalk.GOODBYE),
        ("are you a bot?", SmallTalk.BOT_QUESTION),
        ("Am I talking to a real person?", SmallTalk.BOT_QUESTION),
        ("hi, are you a robot", SmallTalk.BOT_QUESTION),
        ("你是机器人吗？", SmallTalk.BOT_QUESTION),
        ("你是不是真人", SmallTalk.BOT_QUESTION),
    ],
)
def test_whole_message_small_talk(text: str, kind: SmallTalk) -> None:
    assert small_talk_kind(text) is kind


@pytest.mark.parametrize(
    "text",
    [
        "hi, how do I activate my new card?",
        "Hi my transfer has not arrived",
        "hint: my PIN is blocked",  # "hi" inside a word
        "thanks, but how do I reset my PIN?",
        "what are your fees for transfers abroad",  # "what are you" inside "what are your"
        "can I talk to a person",  # a request for a person, not a question about us
        "你好，我的卡被锁了怎么办",
        "谢谢，转账多久到账？",
        "",
        "yes",
        "hello " * 30,  # too long to be only a greeting
    ],
)
def test_a_real_question_is_not_small_talk(text: str) -> None:
    assert small_talk_kind(text) is None


@pytest.mark.parametrize("kind", list(SmallTalk))
def test_replies_exist_in_both_languages(kind: SmallTalk) -> None:
    assert small_talk_reply(kind, "en").isascii()
    assert not small_talk_reply(kind, "zh").isascii()
    assert small_talk_reply(kind, "fr") == small_talk_reply(kind, "en")


def test_policy_routes_small_talk_before_the_no_answer_rules() -> None:
    misses = History(routes=(Route.NO_ANSWER,) * 5)
    decision = decide("thanks!", NOTHING, CALM, misses, AgentConfig())
    assert decision.route is Route.SMALL_TALK and "thanks" in decision.reason


def test_asking_whether_we_are_a_person_is_not_a_handoff() -> None:
    asks = Sentiment(SentimentLabel.NEUTRAL, 0.0, ("asks_for_human",))  # "talking to a person" sets the cue
    assert decide("am I talking to a person?", NOTHING, asks, History(), AgentConfig()).route is Route.SMALL_TALK


def test_small_talk_with_a_screenshot_is_a_question() -> None:
    decision = decide("hi", NOTHING, CALM, History(), AgentConfig(), has_screenshot=True)
    assert decision.route is Route.NO_ANSWER


def test_urgent_topics_still_come_first() -> None:
    decision = decide("hi, my card was stolen", NOTHING, CALM, History(), AgentConfig())
    assert decision.route is Route.HANDOFF
