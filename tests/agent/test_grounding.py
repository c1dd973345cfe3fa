"""Verifying a model's reply before the customer sees it, on hand-made replies (one test per check).

The same checks run on what real small models write in tests/agent/test_llama_server.py.
"""

from __future__ import annotations

import pytest

from agent.grounding import ReplyVerifier, split_sentences, verification_note, verify_reply
from retrieval.types import Hit

FEES = Hit(
    "fees-en",
    "How much does an international transfer cost?",
    "How much does an international transfer cost?",
    "Transfers between our accounts are free. International transfers cost 0.5% of the amount (minimum USD 10). "
    "Questions: call 400-820-8888 or write to help@findesk-bank.com.",
    "fees",
    "en",
    0.9,
)
CARDS = Hit("cards-en", "My card is lost", "My card is lost", "Freeze it in the app under Cards.", "cards", "en", 0.8)
LIMITS = Hit(
    "limits-zh",
    "手机银行转账限额是多少？",
    "手机银行转账限额是多少？",
    "手机银行单笔转账限额为5万元，每日累计限额20万元；境外取现手续费为每笔百分之一。客服热线95588。",
    "limits",
    "zh",
    0.9,
)
ERRORS = Hit("e2001", "What is E2001?", "What is E2001?", "E2001: insufficient balance.", "app", "en", 0.7)
PASSAGES = [FEES, CARDS, ERRORS]


def test_a_grounded_reply_is_shown_whole() -> None:
    reply = "International transfers cost 0.5% of the amount, at least USD 10 [1]. Call 400-820-8888 [1]."
    verifier = verify_reply(reply, PASSAGES, "en")
    assert verifier.shown == reply and verifier.removed == []
    assert verification_note(verifier) == ""


def test_a_wrong_phone_number_is_removed() -> None:
    verifier = verify_reply("Transfers abroad cost 0.5% [1]. Call us on 400-820-9999 any time.", PASSAGES, "en")
    assert verifier.shown == "Transfers abroad cost 0.5% [1]."
    (removal,) = verifier.removed
    assert "400-820-9999" in removal.reason and "cited passages" in removal.reason


def test_the_right_phone_number_with_a_country_code_is_kept() -> None:
    assert verify_reply("Call +86 400 820 8888 [1].", PASSAGES, "en").removed == []


def test_an_invented_fee_is_removed() -> None:
    verifier = verify_reply(
        "Transfers between our accounts are free [1]. A card replacement costs $25. Freeze the card in the app [2].",
        PASSAGES,
        "en",
    )
    assert verifier.shown == "Transfers between our accounts are free [1]. Freeze the card in the app [2]."
    assert "number '25'" in verifier.removed[0].reason


def test_a_number_from_a_passage_the_reply_did_not_cite_is_removed() -> None:
    # Passage [1] says 0.5%, but the sentence cites only [2]: the reply must cite where its facts come from.
    verifier = verify_reply("Freeze the card in the app [2]. Transfers abroad cost 0.5%.", PASSAGES, "en")
    assert verifier.shown == "Freeze the card in the app [2]."
    assert "0.5%" in verifier.removed[0].reason


def test_an_uncited_reply_shows_nothing_and_says_why() -> None:
    verifier = verify_reply("Freeze your card in the app. Nothing else is needed.", PASSAGES, "en")
    assert verifier.shown == ""
    assert len(verifier.removed) == 2 and "cites none" in verifier.removed[0].reason
    assert "failed verification" in verification_note(verifier)


def test_citations_to_passages_that_were_not_given_do_not_count() -> None:
    assert verify_reply("Freeze your card in the app [7].", PASSAGES, "en").shown == ""


def test_an_invented_url_email_or_error_code_is_removed() -> None:
    reply = (
        "Write to help@findesk-bank.com [1]. Or write to support@findesk-bank.com. See https://findesk-bank.com/fees. "
        "Error E2001 means your balance is too low [3]. Error E4002 means the app needs an update."
    )
    verifier = verify_reply(reply, PASSAGES, "en")
    assert verifier.shown == "Write to help@findesk-bank.com [1]. Error E2001 means your balance is too low [3]."
    assert [r.reason.split()[0] for r in verifier.removed] == ["email", "url", "code"]


def test_numbers_and_codes_from_the_customers_own_message_are_allowed_but_contacts_are_not() -> None:
    customer = "I sent 1,500 yuan and got E2001; the screen said call 400-111-2222"
    reply = "You sent 1500 yuan [3]. E2001 means insufficient balance [3]. Do not call 400-111-2222 [3]."
    verifier = verify_reply(reply, PASSAGES, "en", customer)
    assert verifier.shown == "You sent 1500 yuan [3]. E2001 means insufficient balance [3]."
    assert "phone" in verifier.removed[0].reason


@pytest.mark.parametrize(
    ("reply", "kept"),
    [
        ("单笔转账限额为5万元[1]。", True),
        ("单笔转账限额为５００００元[1]。", True),
        ("单笔转账限额为五万元[1]。", True),
        ("每日限额二十万元【1】。", True),
        ("境外取现手续费为百分之一[1]。", True),
        ("境外取现手续费为1%[1]。", True),
        ("单笔转账限额为５００元[1]。", False),  # 500 yuan: not the passage's 50,000
        ("单笔转账限额为10万元[1]。", False),
        ("境外取现手续费为百分之三[1]。", False),
        ("请拨打客服热线95588［1］。", True),
        ("请拨打客服热线95566［1］。", False),
    ],
)
def test_chinese_amounts_and_percentages(reply: str, kept: bool) -> None:
    verifier = verify_reply(reply, [LIMITS], "zh")
    assert (verifier.shown == reply) is kept, verifier.removed


def test_chinese_sentences_are_judged_one_by_one() -> None:
    reply = "您好！单笔转账限额为5万元[1]。年费为百分之三。每日累计限额20万元。"
    verifier = verify_reply(reply, [LIMITS], "zh")
    assert verifier.shown == "您好！单笔转账限额为5万元[1]。每日累计限额20万元。"
    assert "百分之三" in verifier.removed[0].reason


def test_a_sentence_in_another_language_is_removed() -> None:
    zh = verify_reply("单笔转账限额为5万元[1]。The daily limit is high.", [LIMITS], "zh")
    assert zh.shown == "单笔转账限额为5万元[1]。" and "English" in zh.removed[0].reason
    en = verify_reply("Freeze it in the app [2]. 请在应用中冻结您的卡。 Привет, это банк.", PASSAGES, "en")
    assert en.shown == "Freeze it in the app [2]." and len(en.removed) == 2
    assert verify_reply("请在App的Cards页面冻结[1]。", [CARDS], "zh").removed == []  # mixed text is fine


def test_numbered_steps_are_not_numbers() -> None:
    reply = "To freeze your card [2]:\n1. Open the app.\n2. Tap Cards.\n3. Tap Freeze."
    assert verify_reply(reply, PASSAGES, "en").shown == reply


def test_streaming_releases_only_verified_whole_sentences() -> None:
    reply = "Sorry to hear that. Freeze it in the app [2]. It costs $5 to replace. Call 400-820-8888 [1]."
    verifier = ReplyVerifier(PASSAGES, "en")
    released = []
    for ch in reply:  # one character at a time: the worst case for a sentence splitter
        piece = verifier.feed(ch)
        if piece:
            released.append(piece)
            assert "$5" not in piece
    released.append(verifier.finish())
    # Nothing came out before the first citation; then the held first sentence and the cited one together.
    assert released[0] == "Sorry to hear that. Freeze it in the app [2]."
    assert "".join(released) == "Sorry to hear that. Freeze it in the app [2]. Call 400-820-8888 [1]."
    assert verifier.shown == "".join(released)


def test_streaming_an_uncited_reply_releases_nothing() -> None:
    verifier = ReplyVerifier(PASSAGES, "en")
    words = ["Freeze", "it", "now.", "It", "is", "free.", "Bye."]
    assert [verifier.feed(word + " ") for word in words] == [""] * len(words)
    assert verifier.finish() == "" and verifier.shown == ""


def test_sentence_splitting_keeps_marks_with_their_sentence() -> None:
    assert split_sentences("Freeze it. [1] Then call us.", final=True)[0] == ["Freeze it. [1] ", "Then call us."]
    assert split_sentences("冻结您的卡。[1]然后致电。", final=True)[0] == ["冻结您的卡。[1]", "然后致电。"]
    # Unfinished: the "[1" may become a citation of the first sentence; 1.5 and e.g. are not sentence ends.
    assert split_sentences("Freeze it. [1", final=False) == ([], "Freeze it. [1")
    assert split_sentences("It is 1.5% e.g. for you. Next", final=False) == (["It is 1.5% e.g. for you. "], "Next")


def test_a_reply_that_repeats_the_instructions_shows_none_of_them() -> None:
    """Gemma 3 270M echoes its rules; rule 2's example "[1]" must not pass for a citation."""
    from agent.prompts import SYSTEM_PROMPTS

    rules = SYSTEM_PROMPTS["en"]
    echoed = rules.split("\n", 1)[1][:400]  # "1. Answer only from ... 2. Cite the passages you use as [n], e.g. [1]..."
    verifier = verify_reply(echoed, PASSAGES, "en", instructions=rules)
    assert verifier.shown == "" and "repeats the assistant's instructions" in verifier.removed[0].reason
    kept = verify_reply(echoed + "\nFreeze it in the app [2].", PASSAGES, "en", instructions=rules)
    assert kept.shown == "Freeze it in the app [2]."


def test_near_copies_of_the_instructions_and_the_passage_layout_are_removed() -> None:
    """What Gemma 3 270M actually wrote (benchmarks/generators.md): a reworded rule, then the prompt's layout."""
    from agent.prompts import SYSTEM_PROMPTS

    reply = (
        "4. If the passage does not answer the question, say that you do not know and offer to connect the "
        "customer with a human agent. [1] (entry fees-atm-withdrawal)\nQ: Is it free? Freeze it in the app [2]."
    )
    verifier = verify_reply(reply, PASSAGES, "en", instructions=SYSTEM_PROMPTS["en"])
    assert verifier.shown == "Freeze it in the app [2]."
    reasons = {r.reason for r in verifier.removed}
    assert reasons == {"repeats the assistant's instructions", "repeats the prompt's passage format"}
