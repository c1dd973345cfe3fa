"""FaqStore: CRUD, audit, optimistic concurrency, change log, validation, thread safety and crash safety."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from retrieval.database import Database
from retrieval.errors import EntryExists, EntryNotFound, InvalidEntry, StoreUnavailable, VersionConflict
from retrieval.store import FaqStore, make_entry_id
from retrieval.types import FaqEntry

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(database: Database) -> FaqStore:
    """On SQLite and on PostgreSQL (tests/conftest.py)."""
    with FaqStore(database) as s:
        yield s


def lost_card(**overrides: object) -> FaqEntry:
    fields = dict(
        id="card-lost",
        question="What do I do if I lose my card?",
        answer="Freeze it in the app under Cards > Freeze, then order a replacement.",
        alternates=("lost card", "my card is gone"),
        category="cards",
        tags=("urgent",),
    )
    fields.update(overrides)
    return FaqEntry(**fields)


def test_add_get_list_count_categories(store: FaqStore) -> None:
    saved = store.add(lost_card(), actor="alice")
    assert saved.version == 1 and saved.updated_at.endswith("+00:00")
    assert store.get("card-lost") == saved
    assert store.get("nope") is None
    store.add(FaqEntry(id="fee-atm", question="ATM fees?", answer="Free in-network.", category="fees"), actor="a")
    assert store.count() == 2
    assert store.categories() == ["cards", "fees"]
    assert [e.id for e in store.list()] == ["card-lost", "fee-atm"]
    assert [e.id for e in store.list(category="fees")] == ["fee-atm"]
    assert [e.id for e in store.list(limit=1, offset=1)] == ["fee-atm"]


def test_list_text_filter_is_case_insensitive_over_question_alternates_answer(store: FaqStore) -> None:
    store.add(lost_card(), actor="a")
    assert [e.id for e in store.list(text="LOSE MY")] == ["card-lost"]  # question
    assert [e.id for e in store.list(text="Gone")] == ["card-lost"]  # alternate
    assert [e.id for e in store.list(text="freeze")] == ["card-lost"]  # answer
    assert store.list(text="mortgage") == []


def test_chinese_entries_round_trip_and_filter(store: FaqStore) -> None:
    saved = store.add(
        FaqEntry(
            id="",
            question="银行卡丢了怎么办？",
            answer="请立即在手机银行冻结此卡。",
            alternates=("卡不见了",),
            language="zh",
        ),
        actor="王芳",
    )
    assert saved.id.startswith("faq-")
    assert store.get(saved.id).alternates == ("卡不见了",)
    assert [e.id for e in store.list(text="不见", language="zh")] == [saved.id]
    assert store.list(language="en") == []
    assert store.audit(saved.id)[0].actor == "王芳"


def test_generated_ids_are_readable_stable_and_unique(store: FaqStore) -> None:
    assert make_entry_id("How do I report a lost card?") == make_entry_id("How do I report a lost card?")
    assert make_entry_id("How do I report a lost card?").startswith("how-do-i-report-a-lost-card-")
    first = store.add(lost_card(id=""), actor="a")
    second = store.add(lost_card(id=""), actor="a")  # same question twice: still two distinct ids
    assert first.id != second.id
    assert first.id.startswith("what-do-i-do-if-i-lose-my-card-")


def test_add_existing_id_is_refused(store: FaqStore) -> None:
    store.add(lost_card(), actor="a")
    with pytest.raises(EntryExists, match="card-lost"):
        store.add(lost_card(answer="other"), actor="a")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"question": "   "}, "empty question"),
        ({"answer": ""}, "empty answer"),
        ({"id": "card lost!"}, "not valid"),
        ({"id": "x" * 101}, "not valid"),
        ({"answer": "x" * 500}, "limit is 300"),
        ({"language": "en us"}, "language"),
        ({"alternates": "one string"}, "list of strings"),
    ],
)
def test_invalid_entries_are_refused_with_the_rule(database: Database, overrides: dict, message: str) -> None:
    with FaqStore(database, max_row_chars=300) as store:
        with pytest.raises(InvalidEntry, match=message):
            store.add(lost_card(**overrides), actor="a")
        assert store.count() == 0 and store.version == 0


def test_entries_are_normalised(store: FaqStore) -> None:
    saved = store.add(
        lost_card(question="  Lost card?  ", alternates=(" lost ", "", "lost", "Lost card?"), tags=(" a ", "")),
        actor="a",
    )
    assert (saved.question, saved.alternates, saved.tags) == ("Lost card?", ("lost",), ("a",))


def test_update_bumps_version_and_audits_before_after(store: FaqStore) -> None:
    store.add(lost_card(), actor="alice")
    edited = store.update("card-lost", actor="bob", answer="Call 800-000.", alternates=["lost it"])
    assert edited.version == 2 and edited.answer == "Call 800-000." and edited.alternates == ("lost it",)
    assert store.get("card-lost") == edited
    last = store.audit("card-lost")[0]
    assert (last.action, last.actor, last.entry_id) == ("edit", "bob", "card-lost")
    assert last.before.answer.startswith("Freeze") and last.after == edited
    assert last.at == edited.updated_at


def test_update_with_identical_content_is_a_no_op(store: FaqStore) -> None:
    saved = store.add(lost_card(), actor="a")
    version = store.version
    assert store.update("card-lost", actor="a", answer=saved.answer) == saved
    assert store.version == version and len(store.audit("card-lost")) == 1


def test_update_refuses_unknown_fields_missing_entries_and_empty_answers(store: FaqStore) -> None:
    store.add(lost_card(), actor="a")
    with pytest.raises(InvalidEntry, match="editable fields"):
        store.update("card-lost", actor="a", version=9)
    with pytest.raises(EntryNotFound, match="faq list"):
        store.update("missing", actor="a", answer="x")
    with pytest.raises(InvalidEntry, match="empty answer"):
        store.update("card-lost", actor="a", answer="  ")
    with pytest.raises(InvalidEntry, match="actor"):
        store.update("card-lost", actor=" ", answer="new")
    assert store.get("card-lost").version == 1


def test_optimistic_concurrency_refuses_stale_edits(store: FaqStore) -> None:
    store.add(lost_card(), actor="a")
    alice_read = store.get("card-lost")
    store.update("card-lost", actor="bob", expected_version=alice_read.version, answer="Bob's answer.")
    with pytest.raises(VersionConflict, match="someone else") as excinfo:
        store.update("card-lost", actor="alice", expected_version=alice_read.version, answer="Alice's answer.")
    assert "version 1" in str(excinfo.value) and "version 2" in str(excinfo.value)
    assert store.get("card-lost").answer == "Bob's answer."


def test_delete_returns_entry_audits_and_logs_change(store: FaqStore) -> None:
    saved = store.add(lost_card(), actor="a")
    version = store.version
    assert store.delete("card-lost", actor="carol") == saved
    assert store.get("card-lost") is None and store.count() == 0
    record = store.audit()[0]
    assert (record.action, record.actor, record.before, record.after) == ("delete", "carol", saved, None)
    assert store.changes_since(version) == (version + 1, {"card-lost"})
    with pytest.raises(EntryNotFound):
        store.delete("card-lost", actor="carol")


def test_version_and_changes_since_track_every_commit(store: FaqStore) -> None:
    assert store.version == 0 and store.changes_since(0) == (0, set())
    store.add(lost_card(), actor="a")
    store.add(lost_card(id="card-stolen", question="Card stolen?"), actor="a")
    v2 = store.version
    store.update("card-lost", actor="a", answer="New answer.")
    assert store.version > v2
    assert store.changes_since(v2) == (store.version, {"card-lost"})
    assert store.changes_since(0)[1] == {"card-lost", "card-stolen"}
    assert store.changes_since(store.version) == (store.version, set())


def test_upsert_many_adds_updates_and_counts_unchanged(store: FaqStore) -> None:
    store.add(lost_card(), actor="a")
    report = store.upsert_many(
        [
            lost_card(),  # identical content: unchanged
            lost_card(id="card-stolen", question="Card stolen?"),
            FaqEntry(id="", question="ATM fees?", answer="Free."),
        ],
        actor="importer",
    )
    assert (report.added, report.updated, report.unchanged) == (2, 0, 1)
    assert report.version == store.version
    again = store.upsert_many(
        [lost_card(answer="Changed."), FaqEntry(id="", question="ATM fees?", answer="Free.")], actor="i"
    )
    assert (again.added, again.updated, again.unchanged) == (0, 1, 1)  # id-less rows find their entry again
    assert store.get("card-lost").version == 2 and store.count() == 3
    assert {r.action for r in store.audit(limit=10) if r.actor in ("importer", "i")} == {"import"}


def test_upsert_many_is_one_transaction(store: FaqStore) -> None:
    store.add(lost_card(), actor="a")
    before = (store.list(), store.version, store.audit())

    def boom(done: int, total: int) -> None:
        raise KeyboardInterrupt  # e.g. the operator pressed Ctrl-C half way

    entries = [FaqEntry(id=f"e{i}", question=f"Q{i}?", answer="A.") for i in range(500)]
    with pytest.raises(KeyboardInterrupt):
        store.upsert_many([lost_card(answer="changed"), *entries], actor="a", progress=boom)
    assert (store.list(), store.version, store.audit()) == before
    with pytest.raises(InvalidEntry, match="twice"):
        store.upsert_many([lost_card(answer="x"), lost_card(answer="y")], actor="a")
    assert (store.list(), store.version) == before[:2]


def test_a_sqlite_file_in_a_new_folder_persists_across_reopen_and_is_shared(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "findesk.sqlite3"
    with FaqStore(path) as first, FaqStore(path) as second:
        first.add(lost_card(), actor="a")
        assert second.get("card-lost") is not None and second.version == first.version  # another process/handle
        second.update("card-lost", actor="b", answer="From the second handle.")
    with FaqStore(path) as reopened:
        assert reopened.get("card-lost").answer == "From the second handle."
        assert [r.action for r in reopened.audit()] == ["edit", "add"]


def test_a_file_that_is_not_a_database_gives_an_actionable_error(tmp_path: Path) -> None:
    path = tmp_path / "findesk.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreUnavailable, match="data-dir"):
        FaqStore(path)


def test_a_locked_database_gives_an_actionable_error_and_the_store_recovers(tmp_path: Path) -> None:
    path = tmp_path / "findesk.sqlite3"
    with FaqStore(path, busy_timeout_s=0.2) as store:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process in the middle of a long import
        with pytest.raises(StoreUnavailable, match="Nothing was changed"):
            store.add(lost_card(), actor="a")
        other.execute("ROLLBACK")
        other.close()
        assert store.add(lost_card(), actor="a").version == 1  # no transaction left dangling


def test_store_is_safe_to_share_between_threads(store: FaqStore) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(20):
                store.add(FaqEntry(id=f"t{n}-{i}", question=f"Thread {n} question {i}?", answer="A."), actor=f"t{n}")
                store.list(text="question")
                store.changes_since(0)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count() == 80 and store.version == 80


def test_a_process_killed_mid_import_leaves_the_store_unchanged(database: Database, database_url: str) -> None:
    with FaqStore(database) as store:
        store.add(lost_card(), actor="a")
        before = (store.list(), store.version, len(store.audit()))
    # The child imports 5,000 entries and SIGKILLs itself from the progress callback, i.e. inside the open
    # transaction after hundreds of rows were written: the crash cannot be "between" transactions.
    child = textwrap.dedent(
        f"""
        import os, signal, sys
        from retrieval.database import open_database
        from retrieval.store import FaqStore
        from retrieval.types import FaqEntry
        store = FaqStore(open_database({database_url!r}))
        entries = [FaqEntry(id="card-lost", question="Q?", answer="overwritten")]
        entries += [FaqEntry(id=f"e{{i}}", question=f"Question {{i}}?", answer="A.") for i in range(5000)]
        def die(done, total):
            if done >= 1000:
                print("killing", done, flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
        store.upsert_many(entries, actor="crash", progress=die)
        print("not reached", flush=True)
        """
    )
    result = subprocess.run([sys.executable, "-c", child], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert "killing 1000" in result.stdout and "not reached" not in result.stdout
    with FaqStore(database) as store:
        assert (store.list(), store.version, len(store.audit())) == before
    if database.is_sqlite:
        with database.read() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
