"""Private notes, labels and canned responses on the storage layer (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.canned import Canned, CannedError, CannedNotFound, CannedStore, fill
from agent.conversations import ConversationNotFound, ConversationStore
from agent.desk_notes import DeskNotes
from agent.errors import AgentError
from retrieval.database import Database
from tests import engines


@pytest.fixture
def conversations(database: Database) -> Iterator[ConversationStore]:
    store = ConversationStore(database)
    yield store
    store.close()


def test_notes_are_kept_apart_from_the_conversation(database: Database, conversations: ConversationStore) -> None:
    notes = DeskNotes(database)
    conversations.add_message("s1", "customer", "my card is blocked")
    note = notes.add_note("s1", "alice", "  Called the branch; card 4111 1111 1111 1111 unblocked tomorrow. ")
    assert note.author == "alice" and "4111" not in note.text and note.text.startswith("Called the branch")
    assert notes.notes("s1") == [note]
    assert [m.text for m in conversations.messages("s1")] == ["my card is blocked"]  # not among the messages
    with pytest.raises(AgentError, match="empty"):
        notes.add_note("s1", "alice", "   ")
    with pytest.raises(ConversationNotFound):
        notes.add_note("nobody", "alice", "hello")


def test_labels_replace_and_filter(database: Database, conversations: ConversationStore) -> None:
    notes = DeskNotes(database)
    for session in ("s1", "s2"):
        conversations.add_message(session, "customer", "hi")
    assert notes.set_labels("s1", ["Fraud", "complaint", "fraud", " "]) == ["complaint", "fraud"]
    notes.set_labels("s2", ["vip"])
    assert notes.labels() == {"s1": ["complaint", "fraud"], "s2": ["vip"]}
    assert notes.labels(["s2"]) == {"s2": ["vip"]} and notes.all_labels() == ["complaint", "fraud", "vip"]
    notes.set_labels("s1", [])
    assert notes.labels(["s1"]) == {}
    with pytest.raises(AgentError, match="lower-case words"):
        notes.set_labels("s2", ["<b>bold</b>"])


def test_canned_responses_crud_and_placeholders(database: Database) -> None:
    store = CannedStore(database)
    saved = store.save(
        Canned("/Card-Frozen", "en", "Card frozen", "Hi {customer_name}, {agent_name} here: your card is frozen."),
        actor="olga",
        new=True,
    )
    assert saved.shortcut == "card-frozen" and saved.updated_by == "olga"
    store.save(Canned("card-frozen", "zh", "", "{customer_name}您好，我是{agent_name}，您的卡已冻结。"), actor="olga")
    assert fill(store.get("/card-frozen", "zh"), customer_name="王先生", agent_name="Alice").startswith("王先生您好")  # type: ignore[arg-type]
    assert store.get("card-frozen", "fr").language == "en"  # type: ignore[union-attr]  # another language as a fallback
    assert [c.language for c in store.list()] == ["en", "zh"] and len(store.list("zh")) == 1
    with pytest.raises(CannedError, match="already exists"):
        store.save(Canned("card-frozen", "en", "", "again"), actor="olga", new=True)
    store.delete("card-frozen", "zh")
    with pytest.raises(CannedNotFound):
        store.delete("card-frozen", "zh")


@pytest.mark.parametrize(
    ("canned", "message"),
    [
        (Canned("has space", "en", "", "x"), "shortcut"),
        (Canned("ok", "fr", "", "x"), "language"),
        (Canned("ok", "en", "", "  "), "1 to"),
        (Canned("ok", "en", "", "Dear {name}"), "Unknown placeholder 'name'"),
        (Canned("ok", "en", "", "a { brace"), "unmatched brace"),
    ],
)
def test_bad_canned_responses_are_refused(database: Database, canned: Canned, message: str) -> None:
    with pytest.raises(CannedError, match=message):
        CannedStore(database).save(canned, actor="olga")


def test_canned_import_is_all_or_nothing_and_export_round_trips(database: Database) -> None:
    store = CannedStore(database)
    good = '{"shortcut": "hello", "language": "en", "text": "Hello {customer_name}!"}\n'
    with pytest.raises(CannedError, match="Line 2"):
        store.import_jsonl(good + '{"shortcut": "bad one", "language": "en", "text": "x"}\n', actor="olga")
    assert store.list() == []
    assert store.import_jsonl(good, actor="olga") == 1
    exported = store.export_jsonl()
    assert '"shortcut": "hello"' in exported
    other = CannedStore(database)
    assert other.import_jsonl(exported, actor="olga") == 1 and len(other.list()) == 1


def test_canned_import_from_csv_with_a_header_row(database: Database) -> None:
    store = CannedStore(database)
    data = (
        "Shortcut,language,title,text\r\n"
        'card-frozen,en,Card frozen,"Hi {customer_name}, your card is frozen.\nCall us, {agent_name}."\r\n'
        "\r\n"
        "card-frozen,zh,,您的卡已冻结。\r\n"
    )
    assert store.import_text(data, "csv", actor="olga") == 2
    en, zh = store.list()
    assert (en.title, en.text) == ("Card frozen", "Hi {customer_name}, your card is frozen.\nCall us, {agent_name}.")
    assert (zh.title, zh.text, zh.updated_by) == ("card-frozen", "您的卡已冻结。", "olga")  # no title: the shortcut
    no_title = "shortcut,language,text\nhello,en,Hello!\n"
    assert store.import_text(no_title, "csv", actor="olga") == 1 and len(store.list()) == 3


@pytest.mark.storage
@pytest.mark.parametrize(
    ("format", "data", "message"),
    [
        ("csv", "shortcut,text\nhello,Hi\n", "language is missing"),
        ("csv", "shortcut,language,text\nhello,en,Hi,extra\n", "Line 2 has more cells"),
        ("csv", "shortcut,language,text\nhello,en\n", "Line 2: 'text' is missing"),
        ("csv", "shortcut,language,text\nok,en,fine\nbad one,en,x\n", "Line 3: The shortcut"),
        ("csv", "shortcut,language,text\nhello,en,Hi\nhello,en,Again\n", "Line 3: /hello \\(en\\) is also on line 2"),
        ("csv", "", "language, title \\(optional\\) and text"),
        ("csv", "shortcut,language,text\n", "no canned responses"),
        ("jsonl", "not json\n", "Line 1 is not JSON"),
        ("jsonl", '["a", "list"]\n', "Line 1: each line is one JSON object"),
        ("jsonl", '{"shortcut": "x", "language": "en", "text": 5}\n', "Line 1: every field must be text"),
        ("jsonl", '{"shortcut": "x", "text": "y"}\n', "Line 1: 'language' is missing"),
        ("jsonl", "\n\n", "no canned responses"),
        ("xml", "<x/>", "jsonl or csv"),
    ],
)
def test_bad_canned_files_are_refused_with_the_line_and_nothing_is_saved(
    tmp_path: Path, format: str, data: str, message: str
) -> None:
    store = CannedStore(engines.database(tmp_path))  # the engine under test: "nothing is saved" is a transaction
    store.import_text("shortcut,language,text\nkept,en,Kept\n", "csv", actor="olga")
    with pytest.raises(CannedError, match=message) as refused:
        store.import_text(data, format, actor="olga")
    assert "Nothing was imported" in str(refused.value) or format == "xml"
    assert [c.shortcut for c in store.list()] == ["kept"]
