"""The hand-written evaluation sets under benchmarks/data stay well-formed and labelled against the shipped
default FAQ (benchmarks/zh_paraphrase.py, benchmarks/retrieval_trust.py read them; never shipped): the Chinese
sets, and the banking77 intent -> English default-FAQ entry map.

These check structure and labels only; what the sets measure is in benchmarks/retrieval.md.
"""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
BANKING77 = Path(__file__).resolve().parents[3] / "shared" / "data" / "banking77"


def _rows(name: str) -> list[dict]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _default_faq() -> dict[str, dict]:
    text = resources.files("retrieval").joinpath("data/default_faq.jsonl").read_text(encoding="utf-8")
    return {row["id"]: row for row in (json.loads(line) for line in text.splitlines() if line.strip())}


def test_paraphrase_set_has_300_distinct_groups_of_two_or_three_texts() -> None:
    rows = _rows("zh_paraphrase_bank.jsonl")
    assert len(rows) == 300
    assert len({r["group"] for r in rows}) == 300
    assert all(2 <= len(r["texts"]) <= 3 and all(t.strip() for t in r["texts"]) for r in rows)
    repeated = [t for t, n in Counter(t for r in rows for t in r["texts"]).items() if n > 1]
    assert repeated == []  # a text in two groups would make its query unanswerable by design


def test_customer_queries_are_labelled_with_chinese_default_faq_entries() -> None:
    faq = _default_faq()
    rows = _rows("zh_customer_queries.jsonl")
    assert len({r["query"] for r in rows}) == len(rows)
    for row in rows:
        labels = [row["expected_id"], *row.get("also_ok", [])] if row["expected_id"] else row.get("also_ok", [])
        assert all(label in faq and faq[label]["language"] == "zh" for label in labels), row
        if row["expected_id"] is None:
            assert not row.get("also_ok"), row  # "not in the FAQ" has no acceptable entry


def _banking77_map() -> dict:
    return json.loads((DATA / "banking77_faq_map.json").read_text(encoding="utf-8"))


def test_banking77_map_labels_each_intent_with_english_default_faq_entries_or_null() -> None:
    faq = _default_faq()
    intents = _banking77_map()["intents"]
    assert len(intents) == 77
    for intent, label in intents.items():
        if label is None:
            continue  # "not in the FAQ"
        assert isinstance(label, list) and label, intent
        assert len(set(label)) == len(label), intent
        assert all(i in faq and faq[i]["language"] == "en" for i in label), intent


def test_banking77_map_gives_a_reason_for_every_intent() -> None:
    doc = _banking77_map()
    assert list(doc["reasons"]) == list(doc["intents"])  # same intents, same order, for the next reviewer
    assert all(isinstance(r, str) and r.strip() for r in doc["reasons"].values())


@pytest.mark.skipif(not (BANKING77 / "categories.json").exists(), reason="../shared/data/banking77 is absent")
def test_banking77_map_covers_exactly_the_banking77_intents() -> None:
    categories = json.loads((BANKING77 / "categories.json").read_text(encoding="utf-8"))
    assert set(_banking77_map()["intents"]) == set(categories)
