"""Citation checking: valid [n] marks map to the passages given; invented ones leave the text."""

from __future__ import annotations

from agent.citations import check_citations
from agent.types import Citation
from retrieval.types import Hit

PASSAGES = [
    Hit(f"entry-{n}", f"Question {n}?", f"Question {n}?", f"Answer {n}.", "cards", "en", 1.0 / n) for n in (1, 2, 3)
]


def test_keeps_valid_citations_in_order_of_first_use() -> None:
    text, citations = check_citations("Freeze the card [2]. Then call us [1]. Again [2].", PASSAGES)
    assert text == "Freeze the card [2]. Then call us [1]. Again [2]."
    assert citations == [Citation(2, "entry-2", "Question 2?"), Citation(1, "entry-1", "Question 1?")]


def test_drops_invented_citations() -> None:
    text, citations = check_citations("Freeze it [7]. Call us [1]. Also [0] and [12].", PASSAGES)
    assert text == "Freeze it. Call us [1]. Also and."
    assert [c.n for c in citations] == [1]


def test_adjacent_and_list_forms() -> None:
    text, citations = check_citations("Yes [1][2]. See [1, 3] and [2，9] or [3、1].", PASSAGES)
    assert text == "Yes [1][2]. See [1][3] and [2] or [3][1]."
    assert [c.n for c in citations] == [1, 2, 3]


def test_full_width_brackets_and_digits() -> None:
    text, citations = check_citations("请在应用中冻结卡片［1］。详情见【２】。无效［８］。", PASSAGES)
    assert text == "请在应用中冻结卡片[1]。详情见[2]。无效。"
    assert [c.entry_id for c in citations] == ["entry-1", "entry-2"]


def test_no_passages_drops_every_citation() -> None:
    text, citations = check_citations("I think [1] so [2].", [])
    assert text == "I think so."
    assert citations == []


def test_leaves_other_brackets_alone() -> None:
    text, citations = check_citations("Tap [Cards] then [Freeze]; see [link](https://x.y) [1].", PASSAGES)
    assert text == "Tap [Cards] then [Freeze]; see [link](https://x.y) [1]."
    assert len(citations) == 1
