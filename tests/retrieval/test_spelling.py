"""Customer typos: corrected towards words the FAQ or English knows; bank terms, codes, amounts never touched."""

from __future__ import annotations

import pytest

from retrieval.lexical_index import LexicalIndex
from retrieval.spelling import Spelling


@pytest.fixture
def spelling() -> Spelling:
    words = Spelling()
    words.set("transfer", ["Why has my transfer not arrived?", "Money transferred is received within a day."])
    words.set("chargeback", ["How do I raise a chargeback?", "Open a chargeback dispute in the FinDesk app."])
    words.set("card", ["My card was declined", "Check your card's limit."])
    return words


def test_misspelt_words_become_the_words_the_faq_and_english_use(spelling: Spelling) -> None:
    assert spelling.correct("I havent recieved my transfered money") == "I haven't received my transferred money"
    assert spelling.correct("how to raise a chargebak") == "how to raise a chargeback"  # a FAQ-only word
    assert spelling.correct("Recieved?") == "Received?"  # case and punctuation kept
    assert spelling.correct("Is it done? Shouldnt it be.  Recieved!") == "Is it done? Shouldn't it be.  Received!"
    assert spelling.correct("银行卡 recieved") == "银行卡 received"  # an English word beside Chinese ones


def test_a_misspelt_query_finds_its_entry_in_bm25(spelling: Spelling) -> None:
    index = LexicalIndex()
    index.set("transfer", ["Why has my transfer not arrived?", "Transfers are received within a day."])
    index.set("chargeback", ["How do I raise a chargeback?"])
    for query, entry in (("chargebak please", "chargeback"), ("never recieved", "transfer")):
        assert index.search(query, 2) == []  # BM25 alone cannot match the misspelt word
        assert index.search(spelling.correct(query), 2)[0][0] == entry


def test_faq_words_bank_terms_codes_amounts_and_addresses_are_never_changed(spelling: Spelling) -> None:
    spelling.set("sepa", ["Sepa instant payments", "Error E2001 means the IBAN is wrong"])
    for text in (
        "sepa instant",  # a FAQ word, although not English
        "SEPA IBAN GBP",  # capitals: written that way on purpose
        "Error E2001 after paying 12.50 EUR",
        "I paid €1,250.00 on 03/12",
        "mail me at jhon.doe@exmaple.com",
        "see https://findesk.exmaple/help?q=recieved or www.exmaple.com",
        "银行卡丢了recieved",  # Chinese text is left alone, and so is an ASCII word glued to it
        "银行卡丢了怎么办",
        "cart",  # a real English word the FAQ does not use: not "card"
        "topup crypto",  # not English, and no FAQ word is one edit away: left as written
    ):
        assert spelling.correct(text) == text


def test_the_plural_of_a_known_word_is_not_a_typo(spelling: Spelling) -> None:
    spelling.set("mine", ["Is this card mine?"])
    assert spelling.correct("locked out for 30 mins") == "locked out for 30 mins"  # "min" is English: not "mine"
    assert spelling.correct("minr") == "mine"


def test_a_capitalised_word_inside_a_sentence_is_a_name(spelling: Spelling) -> None:
    spelling.set("pay", ["Nothing happens when I pay"])
    assert spelling.correct("notting happens") == "nothing happens"
    assert spelling.correct("my card failed in Notting Hill") == "my card failed in Notting Hill"


def test_edits_change_what_is_known(spelling: Spelling) -> None:
    assert spelling.correct("findesk") == "findesk"
    spelling.remove("chargeback")
    assert not spelling.knows("findesk") and spelling.knows("card")
    assert spelling.correct("chargebak") == "chargebak"  # no entry uses "chargeback" any more
    spelling.set("card", ["Lost cards"])
    assert not spelling.knows("declined") and spelling.knows("lost")


@pytest.mark.parametrize("text", ["", "   ", "a" * 5000, "recieved " * 1000, "'''", "don't'", "\x00\u200b", "e2001@@"])
def test_odd_or_long_text_does_not_crash(spelling: Spelling, text: str) -> None:
    assert len(spelling.correct(text)) >= len(text.strip()) // 2
