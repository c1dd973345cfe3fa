"""BM25: English and Chinese tokens, incremental changes, entries made only of stop words."""

from __future__ import annotations

from retrieval.lexical_index import LexicalIndex, tokenize


def test_english_tokens_fold_endings_and_keep_negations() -> None:
    assert tokenize("Cards declined, charges not working") == tokenize("card decline charge not work")
    assert "not" in tokenize("card not working")


def test_chinese_is_cut_into_words_by_jieba() -> None:
    tokens = tokenize("银行卡丢了怎么办")
    assert "银行卡" in tokens and "怎么" not in tokens  # a stop word here
    assert "card" in tokenize("我的 card 丢了")


def test_edits_and_deletes_are_searchable_at_once() -> None:
    index = LexicalIndex()
    index.set("a", ["How do I report a lost card?", "银行卡挂失"])
    index.set("b", ["International transfer fees"])
    index.set("c", ["the a an"])  # only stop words: still indexable, never matched
    assert index.search("lost cards", 3)[0][0] == "a"
    assert index.search("挂失", 3)[0][0] == "a"
    index.set("a", ["Mortgage interest rates"])
    assert index.search("lost card", 3) == []
    assert index.search("mortgage rate", 3)[0][0] == "a"
    index.remove("b")
    assert index.search("transfer fees", 3) == [] and len(index) == 2
    assert index.search("the", 3) == [] and index.search("???", 3) == []
