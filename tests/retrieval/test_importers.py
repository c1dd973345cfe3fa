"""FAQ import/export: good files in every format, every kind of bad file refused whole, exact round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.errors import ImportRejected
from retrieval.importers import export_jsonl, format_for, parse_faq_bytes, parse_faq_file
from retrieval.store import FaqStore
from retrieval.types import FaqEntry
from tests import engines

LIMITS = dict(max_bytes=100_000, max_row_chars=1_000)

GOOD_JSONL = (
    '{"id": "card-lost", "question": "I lost my card", "alternates": ["card missing", "where is my card"], '
    '"answer": "Freeze it in the app.", "category": "cards", "language": "en", "tags": ["urgent"]}\n'
    "\n"
    '{"question": "银行卡丢了怎么办？", "answer": "请立即冻结此卡。", "language": "zh"}\n'
)
GOOD_CSV = (
    "\ufeffid,question,alternates,answer,category,language,tags\n"
    'card-lost,I lost my card,card missing|where is my card,"Freeze it in the app.\nThen order a new one.",cards,en,'
    "urgent|cards\n"
    ",银行卡丢了怎么办？,,请立即冻结此卡。,cards,zh,\n"
)
GOOD_MARKDOWN = """Language: en

# Cards

## I lost my card
Id: card-lost
Alternates: card missing | where is my card
Tags: urgent, cards

Freeze it in the app.

### If you are abroad
Call the number on the back of the card.

## 银行卡丢了怎么办？
Language: zh

请立即冻结此卡。

# What are the ATM fees?
ATM withdrawals in our network are free.
"""


def parse(text: str | bytes, fmt: str, **limits: int) -> list[FaqEntry]:
    data = text.encode() if isinstance(text, str) else text
    return parse_faq_bytes(data, fmt, **{**LIMITS, **limits})


def rejected(text: str | bytes, fmt: str, **limits: int) -> list[str]:
    with pytest.raises(ImportRejected) as excinfo:
        parse(text, fmt, **limits)
    assert "nothing was changed" in str(excinfo.value)
    return [str(p) for p in excinfo.value.problems]


def test_jsonl_import() -> None:
    lost, zh = parse(GOOD_JSONL, "jsonl")
    assert lost == FaqEntry(
        id="card-lost",
        question="I lost my card",
        alternates=("card missing", "where is my card"),
        answer="Freeze it in the app.",
        category="cards",
        language="en",
        tags=("urgent",),
    )
    assert zh.question == "银行卡丢了怎么办？" and zh.language == "zh" and zh.id.startswith("faq-")


def test_csv_import_with_bom_pipes_and_multiline_cells() -> None:
    lost, zh = parse(GOOD_CSV, "csv")
    assert lost.alternates == ("card missing", "where is my card") and lost.tags == ("urgent", "cards")
    assert lost.answer == "Freeze it in the app.\nThen order a new one."
    assert zh.alternates == () and zh.tags == () and zh.id.startswith("faq-")


def test_csv_columns_may_come_in_any_order_and_be_omitted() -> None:
    (entry,) = parse("Answer,Question\nIt is free.,Is it free?\n", "csv")
    assert (entry.question, entry.answer, entry.language, entry.category) == ("Is it free?", "It is free.", "en", "")


def test_markdown_import_headings_sections_and_metadata() -> None:
    lost, zh, atm = parse(GOOD_MARKDOWN, "markdown")
    assert (lost.id, lost.category, lost.language) == ("card-lost", "Cards", "en")
    assert lost.alternates == ("card missing", "where is my card") and lost.tags == ("urgent", "cards")
    assert lost.answer == "Freeze it in the app.\n\n### If you are abroad\nCall the number on the back of the card."
    assert (zh.question, zh.answer, zh.language, zh.category) == (
        "银行卡丢了怎么办？",
        "请立即冻结此卡。",
        "zh",
        "Cards",
    )
    assert (atm.question, atm.category) == ("What are the ATM fees?", "")  # a new "#" ends the section


def test_markdown_ignores_headings_inside_code_fences() -> None:
    (entry,) = parse("# Error E42?\nThe app shows:\n```\n# E42 session expired\n```\n", "md")
    assert entry.answer == "The app shows:\n```\n# E42 session expired\n```"


def test_all_three_formats_give_the_same_entries() -> None:
    by_format = {fmt: parse(text, fmt) for fmt, text in (("jsonl", GOOD_JSONL), ("csv", GOOD_CSV))}
    assert [e.id for e in by_format["jsonl"]] == [e.id for e in by_format["csv"]]
    markdown = parse(GOOD_MARKDOWN, "markdown")
    assert markdown[1].id == by_format["jsonl"][1].id  # ids made from the question agree across formats


def test_format_follows_the_extension(tmp_path: Path) -> None:
    assert [format_for(Path(n)) for n in ("a.jsonl", "b.CSV", "c.md", "d.markdown")] == [
        "jsonl",
        "csv",
        "markdown",
        "markdown",
    ]
    path = tmp_path / "faq.txt"
    path.write_text(GOOD_JSONL)
    with pytest.raises(ImportRejected, match="unknown file type"):
        parse_faq_file(path, **LIMITS)
    with pytest.raises(ImportRejected, match="cannot read"):
        parse_faq_file(tmp_path / "missing.jsonl", **LIMITS)


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        ("jsonl", '{"question": "Q?", "answer": "A."}\n{"answer": "A."}\n', ["line 2: missing question"]),
        ("jsonl", '{"question": "Q?", "answer": " "}\n', ["line 1: missing answer"]),
        ("csv", "question,answer\nQ?,\n,A.\n", ["line 2: missing answer", "line 3: missing question"]),
        ("markdown", "# Q1?\nA.\n# \nA2.\n# Q3?\n", ["line 3: missing question", "line 5: missing answer"]),
        (
            "jsonl",
            '{"id": "x", "question": "Q1?", "answer": "A."}\n{"id": "x", "question": "Q2?", "answer": "A."}\n',
            ["line 2: duplicate id 'x' (first on line 1)"],
        ),
        (
            "csv",
            "question,answer\nSame?,A.\nSame?,B.\n",
            ["line 3: same question as another row and no id (first on line 2)"],
        ),
        ("jsonl", '{"question": "Q?", "answer": "A."}\n{"question": "Q2?",\n', ["line 2: invalid JSON"]),
        ("jsonl", '["Q?", "A."]\n', ["line 1: expected a JSON object, got list"]),
        ("jsonl", '{"question": "Q?", "answer": "A.", "colour": "red"}\n', ["line 1: unknown column(s) 'colour'"]),
        ("csv", "question,answer,colour\nQ?,A.,red\n", ["line 1: unknown column(s) 'colour'"]),
        ("csv", "question,alternates\nQ?,x\n", ["line 1: missing column(s) answer"]),
        ("csv", "question,answer\nQ?,A.,extra\n", ["line 2: 3 cells but the header names 2 columns"]),
        ("jsonl", '{"question": "Q?", "answer": "A.", "alternates": "one"}\n', ["line 1: alternates must be a list"]),
        ("jsonl", '{"question": 7, "answer": "A."}\n', ["line 1: question must be text"]),
        ("jsonl", '{"id": "no spaces", "question": "Q?", "answer": "A."}\n', ["line 1: FAQ entry id 'no spaces'"]),
        ("jsonl", '{"question": "Q?", "answer": "' + "x" * 1_200 + '"}\n', ["line 1: row is 1202 characters long"]),
        ("jsonl", "", ["the file is empty"]),
        ("csv", "\ufeff\n  \n", ["the file is empty"]),
        ("csv", "question,answer\n", ["no FAQ entries found"]),
        ("markdown", "Just a paragraph, no headings.\n", ["no FAQ entries found"]),
    ],
)
def test_each_kind_of_bad_row_is_named_with_its_line(fmt: str, text: str, expected: list[str]) -> None:
    problems = rejected(text, fmt)
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start), problems


def test_undecodable_bytes_are_reported_per_line_with_the_other_problems() -> None:
    data = b'{"question": "Q1?", "answer": "A."}\n{"question": "Caf\xe9?", "answer": "A."}\n{"question": "Q3?"}\n'
    assert rejected(data, "jsonl") == [
        "line 2: bytes that are not UTF-8 at column 18: save the file as UTF-8",
        "line 3: missing answer",
    ]
    assert rejected("question,answer\nQ?,A.\n".encode("utf-16"), "csv")[0].startswith("line 1: bytes that are not")


def test_a_file_over_the_size_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    assert rejected(GOOD_JSONL, "jsonl", max_bytes=100) == [
        f"the file is {len(GOOD_JSONL.encode())} bytes; the limit is 100 (FINDESK_RETRIEVAL__MAX_IMPORT_BYTES): "
        "split it"
    ]
    path = tmp_path / "big.jsonl"
    path.write_text(GOOD_JSONL)
    with pytest.raises(ImportRejected, match="the limit is 100"):
        parse_faq_file(path, max_bytes=100, max_row_chars=1_000)


def test_every_bad_row_is_collected_and_the_listing_is_capped() -> None:
    text = "".join(f'{{"question": "Q{i}?"}}\n' for i in range(120))
    with pytest.raises(ImportRejected) as excinfo:
        parse(text, "jsonl")
    assert len(excinfo.value.problems) == 120
    message = str(excinfo.value)
    assert "120 problem(s)" in message and "line 50: missing answer" in message
    assert "line 51:" not in message and "... and 70 more" in message


@pytest.mark.storage
def test_a_rejected_file_leaves_the_store_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "faq.jsonl"
    with FaqStore(engines.database(tmp_path)) as store:
        store.upsert_many(parse(GOOD_JSONL, "jsonl"), actor="a")
        before = (store.list(), store.version)
        path.write_text(GOOD_JSONL.replace("Freeze it in the app.", "Changed.") + '{"question": "No answer?"}\n')
        with pytest.raises(ImportRejected, match="line 4: missing answer"):
            store.upsert_many(parse_faq_file(path, **LIMITS), actor="a")
        assert (store.list(), store.version) == before


@pytest.mark.parametrize(("fmt", "text"), [("jsonl", GOOD_JSONL), ("csv", GOOD_CSV), ("markdown", GOOD_MARKDOWN)])
@pytest.mark.storage
def test_export_then_import_round_trips_exactly(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, fmt: str, text: str
) -> None:
    elsewhere = tmp_path_factory.mktemp("second")  # another folder, so another database on either engine
    with FaqStore(engines.database(tmp_path)) as first, FaqStore(engines.database(elsewhere)) as second:
        first.upsert_many(parse(text, fmt), actor="a")
        out = tmp_path / "nested" / "export.jsonl"
        assert export_jsonl(first.list(), out) == first.count()
        assert not list(out.parent.glob(".*.tmp"))  # the temporary file was renamed into place
        assert "银行卡丢了怎么办？" in out.read_text(encoding="utf-8")  # UTF-8, not \\u escapes
        again = first.upsert_many(parse_faq_file(out, **LIMITS), actor="a")
        assert (again.added, again.updated, again.unchanged) == (0, 0, first.count())
        second.upsert_many(parse_faq_file(out, **LIMITS), actor="b")

        def content(store: FaqStore) -> list[tuple]:
            return [(e.id, e.question, e.alternates, e.answer, e.category, e.language, e.tags) for e in store.list()]

        assert content(second) == content(first)
        export_jsonl(second.list(), tmp_path / "again.jsonl")
        assert (tmp_path / "again.jsonl").read_bytes() == out.read_bytes()


def test_export_writes_the_import_columns_only(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    export_jsonl([FaqEntry(id="a", question="Q?", answer="A.", updated_at="2026-01-01", version=3)], out)
    assert json.loads(out.read_text()) == {
        "id": "a",
        "question": "Q?",
        "alternates": [],
        "answer": "A.",
        "category": "",
        "language": "en",
        "tags": [],
    }
