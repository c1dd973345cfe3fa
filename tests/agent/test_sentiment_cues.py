"""Customer-service cues by rules, in English and Chinese, with near-misses that must not fire."""

from __future__ import annotations

import numpy as np
import pytest

from agent.sentiment.cues import (
    ASKS_FOR_HUMAN,
    PROFANITY,
    REPEATED_QUESTION,
    SHOUTING,
    THREATENS_TO_LEAVE,
    detect_cues,
    push_for_cues,
    similarity,
)


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("Can I talk to a person please?", ASKS_FOR_HUMAN),
        ("I want a real human, not a bot", ASKS_FOR_HUMAN),
        ("Just get me an agent", ASKS_FOR_HUMAN),
        ("transfer me to someone who can help", ASKS_FOR_HUMAN),
        ("转人工", ASKS_FOR_HUMAN),
        ("我要找人工客服", ASKS_FOR_HUMAN),
        ("If this isn't fixed I'm closing my account", THREATENS_TO_LEAVE),
        ("I'm switching banks", THREATENS_TO_LEAVE),
        ("I will report you to the regulator", THREATENS_TO_LEAVE),
        ("我要投诉你们", THREATENS_TO_LEAVE),
        ("再不处理我就销户", THREATENS_TO_LEAVE),
        ("How many times do I have to ask?", REPEATED_QUESTION),
        ("I already asked this yesterday", REPEATED_QUESTION),
        ("这个问题我昨天就问过了", REPEATED_QUESTION),
        ("this is bullshit", PROFANITY),
        ("what the hell happened to my money", PROFANITY),
        ("他妈的又扣钱", PROFANITY),
        ("WHERE IS MY MONEY", SHOUTING),
        ("fix it now!!!", SHOUTING),
        ("我的钱呢！！！", SHOUTING),
    ],
)
def test_each_cue_fires_in_both_languages(text: str, cue: str) -> None:
    assert cue in detect_cues(text)


@pytest.mark.parametrize(
    "text",
    [
        "I booked through a travel agent, can you still change it?",  # 'agent' without asking for one
        "What is my ATM PIN limit?",  # two acronyms are not shouting
        "Thanks!",
        "How do I report a lost card?",  # reporting a card is not a complaint
        "操作失败了，怎么办？",  # 操作 (operation) is not a swear word
        "人工智能客服能查余额吗？",  # 人工智能 is "AI", not "a human"
        "The class assessment fee is listed where?",  # 'ass' inside words
        "ok",
    ],
)
def test_near_misses_raise_no_cue(text: str) -> None:
    assert detect_cues(text) == ()


def test_repeated_question_found_through_history_in_both_languages() -> None:
    earlier = ["How do I get a refund for the cancelled transfer?", "ok"]
    assert REPEATED_QUESTION in detect_cues("how do i get a refund for the cancelled transfer", earlier)
    assert REPEATED_QUESTION not in detect_cues("What's the branch opening time on Saturday?", earlier)
    zh_earlier = ["我的转账为什么还没到账？"]
    assert REPEATED_QUESTION in detect_cues("为什么我的转账还没到账", zh_earlier)
    assert REPEATED_QUESTION not in detect_cues("信用卡额度怎么提高？", zh_earlier)
    # Short acknowledgements repeated are not a repeated question.
    assert detect_cues("ok", ["ok"]) == ()


def test_similarity_is_symmetric_and_bounded() -> None:
    a, b = "where is my refund", "refund, where is it?"
    assert similarity(a, b) == pytest.approx(similarity(b, a))
    assert 0.0 <= similarity(a, b) <= 1.0
    assert similarity(a, a) == pytest.approx(1.0)
    assert similarity("", a) == 0.0


def test_cues_push_towards_negative_but_shouting_only_amplifies() -> None:
    neutral = np.array([0.1, 0.8, 0.1])
    pushed = push_for_cues(neutral, [THREATENS_TO_LEAVE, PROFANITY])
    assert pushed.sum() == pytest.approx(1.0)
    assert pushed[0] > neutral[0] and pushed[1] < neutral[1]
    happy = np.array([0.05, 0.15, 0.8])
    assert np.allclose(push_for_cues(happy, [SHOUTING]), happy)  # "THANK YOU!!!" stays positive
    unhappy = np.array([0.5, 0.4, 0.1])
    assert push_for_cues(unhappy, [SHOUTING])[0] > 0.5
    assert np.allclose(push_for_cues(neutral, []), neutral)


def test_cues_come_in_a_fixed_order() -> None:
    cues = detect_cues("I WANT TO TALK TO A REAL PERSON OR I'M CLOSING MY ACCOUNT!!!")
    assert cues == (ASKS_FOR_HUMAN, THREATENS_TO_LEAVE, SHOUTING)
