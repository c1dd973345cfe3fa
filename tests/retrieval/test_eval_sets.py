"""The hand-written evaluation sets under benchmarks/data stay well-formed and labelled against the shipped
default FAQ (benchmarks/zh_paraphrase.py, benchmarks/retrieval_trust.py read them; never shipped): the Chinese
sets, the final-check sets (written blind, reported once by `retrieval_trust.py --final`), and the banking77
intent -> English default-FAQ entry map.

These check structure and labels only; what the sets measure is in benchmarks/retrieval.md.
"""

from __future__ import annotations

import importlib.util
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


LABELLED_SETS = [
    ("zh_customer_queries.jsonl", "zh"),
    ("zh_final_queries.jsonl", "zh"),
    ("en_final_queries.jsonl", "en"),
]
FINAL_SETS = {"en_final": ("en_final_queries.jsonl", 150, 105), "zh_final": ("zh_final_queries.jsonl", 120, 90)}


@pytest.mark.parametrize(("name", "language"), LABELLED_SETS)
def test_query_sets_are_labelled_with_default_faq_entries_of_their_language(name: str, language: str) -> None:
    faq = _default_faq()
    rows = _rows(name)
    assert len({r["query"] for r in rows}) == len(rows)
    for row in rows:
        labels = [row["expected_id"], *row.get("also_ok", [])] if row["expected_id"] else row.get("also_ok", [])
        assert all(label in faq and faq[label]["language"] == language for label in labels), row
        assert len(set(labels)) == len(labels), row  # also_ok never repeats the expected entry
        if row["expected_id"] is None:
            assert not row.get("also_ok"), row  # "not in the FAQ" has no acceptable entry


@pytest.mark.parametrize("name", [file for file, _, _ in FINAL_SETS.values()])
def test_final_sets_copy_no_faq_phrasing(name: str) -> None:
    def key(text: str) -> str:
        return "".join(ch for ch in text.casefold() if ch.isalnum())

    phrasings = {key(t) for e in _default_faq().values() for t in (e["question"], *e["alternates"])}
    assert [r["query"] for r in _rows(name) if key(r["query"]) in phrasings] == []


def test_final_sets_hold_answerable_and_unanswerable_messages_spread_over_many_entries() -> None:
    for file, size, answerable in FINAL_SETS.values():
        rows = _rows(file)
        expected = Counter(r["expected_id"] for r in rows if r["expected_id"])
        assert (len(rows), sum(expected.values())) == (size, answerable), file
        assert len(expected) >= 80 and max(expected.values()) <= 3, file  # no entry dominates the set


def test_retrieval_trust_final_flag_loads_exactly_the_final_sets() -> None:
    path = DATA.parent / "retrieval_trust.py"
    spec = importlib.util.spec_from_file_location("retrieval_trust", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sets = module.final_sets()
    assert set(sets) == set(FINAL_SETS)
    for name, (file, size, _) in FINAL_SETS.items():
        rows = _rows(file)
        assert [(q.query, q.expected_id, list(q.also_ok)) for q in sets[name]] == [
            (r["query"], r["expected_id"], r.get("also_ok", [])) for r in rows
        ]
        assert len(sets[name]) == size


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
