"""`findesk faq ...` through typer's CliRunner, against a real store in a temporary data folder.

Commands that change the FAQ go through the KnowledgeBase, so the search index follows them: those tests
load the real all-MiniLM-L6-v2 once per session (marked slow). The Chinese e5 channel is switched off to
keep to one model; BM25 with jieba tokens still indexes Chinese. Read-only commands and refused input
never load a model, and their tests run without one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from retrieval import dense_channel
from retrieval.config import RetrievalConfig
from retrieval.embedders import Embedder
from retrieval.importers import parse_faq_bytes
from retrieval.index_files import read_index_file
from retrieval.knowledge_base import KnowledgeBase
from retrieval.store import FaqStore
from tests import engines
from ui import cli_faq

pytestmark = pytest.mark.storage  # the CLI writes the store of its data folder

GOOD = (
    '{"id": "card-lost", "question": "I lost my card", "alternates": ["card missing"], "answer": "Freeze it.", '
    '"category": "cards", "language": "en"}\n'
    '{"id": "card-lost-zh", "question": "银行卡丢了怎么办？", "answer": "请立即冻结此卡。", "category": "cards", '
    '"language": "zh"}\n'
    '{"id": "fees-atm", "question": "What are the ATM fees?", "answer": "Free in our network.", "category": "fees"}\n'
)


@pytest.fixture
def app() -> typer.Typer:
    root, eval_app = typer.Typer(), typer.Typer()
    cli_faq.register(root, eval_app)
    return root


@pytest.fixture(scope="session")
def embedders() -> dict[str, Embedder]:
    return {}  # name -> embedder: each CLI command opens a KnowledgeBase, the model loads once


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedders: dict[str, Embedder]) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("FINDESK_DATA_DIR", str(folder))  # the settings pick the folder up from the environment
    monkeypatch.setenv("FINDESK_RETRIEVAL__ZH_EMBEDDER", "")
    real_load = dense_channel.load_embedder

    def load_once(name: str, **kwargs: object) -> Embedder:
        if name not in embedders:
            embedders[name] = real_load(name, **kwargs)
        return embedders[name]

    monkeypatch.setattr(dense_channel, "load_embedder", load_once)
    return folder


def seeded(data_dir: Path) -> None:
    """The GOOD entries written straight to the store: for tests of commands that only read it."""
    with store_at(data_dir) as store:
        store.upsert_many(parse_faq_bytes(GOOD.encode(), "jsonl", max_bytes=10_000, max_row_chars=1_000), actor="seed")


def index_stamps(data_dir: Path) -> list[int]:
    return [read_index_file(path)[0]["store_version"] for path in sorted((data_dir / "index").glob("dense-*.idx"))]


def run(app: typer.Typer, *args: str, input: str | None = None) -> object:
    return CliRunner().invoke(app, ["faq", *args], input=input)


def store_at(data_dir: Path) -> FaqStore:
    """The store the CLI writes to for `data_dir`, on the engine under test (tests/engines.py)."""
    return FaqStore(engines.database(data_dir))


def open_kb(data_dir: Path, config: RetrievalConfig, embedders: dict[str, Embedder]) -> KnowledgeBase:
    """What the next CLI command or server on `data_dir` would search, with the model the CLI loaded."""
    return KnowledgeBase.open(
        data_dir, config, embedder=embedders["all-MiniLM-L6-v2"], database=engines.database(data_dir)
    )


def imported(app: typer.Typer, tmp_path: Path) -> Path:
    path = tmp_path / "faq.jsonl"
    path.write_text(GOOD, encoding="utf-8")
    result = run(app, "import", str(path), "--actor", "alice")
    assert result.exit_code == 0, result.output
    return path


@pytest.mark.slow
def test_import_prints_counts_reimport_updates_and_the_index_follows(
    app: typer.Typer, data_dir: Path, tmp_path: Path, embedders: dict[str, Embedder]
) -> None:
    path = imported(app, tmp_path)
    path.write_text(GOOD.replace("Freeze it.", "Freeze it in the app."), encoding="utf-8")
    result = run(app, "import", str(path), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["added"], report["updated"], report["unchanged"]) == (0, 1, 2)
    with store_at(data_dir) as store:
        assert store.get("card-lost").answer == "Freeze it in the app." and store.get("card-lost").version == 2
        assert store.audit("card-lost")[-1].actor == "alice"
        assert index_stamps(data_dir) == [store.version]  # the CLI saved an index that is up to date


@pytest.mark.slow
def test_import_markdown_text_report(app: typer.Typer, data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "faq.md"
    path.write_text("# Cards\n## Lost card?\nFreeze it.\n## Card stolen?\nCall us.\n", encoding="utf-8")
    result = run(app, "import", str(path))
    assert result.exit_code == 0, result.output
    assert "2 added, 0 updated, 0 unchanged" in " ".join(result.stdout.split())


def test_bad_import_lists_every_problem_exits_1_and_changes_nothing(
    app: typer.Typer, data_dir: Path, tmp_path: Path, embedders: dict[str, Embedder]
) -> None:
    seeded(data_dir)
    loaded_before = set(embedders)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"id,question,answer\ncard-lost,Lost?,Changed.\n,No answer?,\nx,Caf\xe9?,A.\n")
    result = run(app, "import", str(bad))
    assert result.exit_code == 1
    assert "nothing was changed" in result.stderr
    assert "line 3: missing answer" in result.stderr and "line 4: bytes that are not UTF-8" in result.stderr
    with store_at(data_dir) as store:
        assert store.get("card-lost").answer == "Freeze it." and store.count() == 3
    assert set(embedders) == loaded_before  # refused before any model was loaded
    missing = run(app, "import", str(tmp_path / "nowhere.jsonl"))
    assert missing.exit_code == 1 and "cannot read the file" in missing.stderr


def test_export_round_trips(app: typer.Typer, data_dir: Path, tmp_path: Path) -> None:
    seeded(data_dir)
    out = tmp_path / "out" / "faq.jsonl"
    result = run(app, "export", str(out))
    assert result.exit_code == 0 and "Exported 3 entries" in result.stdout
    exported = parse_faq_bytes(out.read_bytes(), "jsonl", max_bytes=10_000, max_row_chars=1_000)
    assert exported == parse_faq_bytes(GOOD.encode(), "jsonl", max_bytes=10_000, max_row_chars=1_000)


def test_list_table_filters_and_json(app: typer.Typer, data_dir: Path) -> None:
    seeded(data_dir)
    with store_at(data_dir) as store:
        store.update("fees-atm", actor="[admin]", question="What are the [ATM] fees?")
    assert "[ATM]" in run(app, "list").stdout  # text with brackets is not read as rich markup
    assert "[admin]" in run(app, "history").stdout
    unknown = run(app, "history", "fees-atn")  # a typo: said so, not an empty table
    assert unknown.exit_code == 1 and "No FAQ entry has ever had the id 'fees-atn'" in unknown.output
    table = run(app, "list", "--category", "cards")
    assert table.exit_code == 0 and "card-lost" in table.stdout and "fees-atm" not in table.stdout
    as_json = json.loads(run(app, "list", "--search", "冻结", "--json").stdout)
    assert as_json["count"] == 1 and as_json["total"] == 3
    assert as_json["entries"][0]["id"] == "card-lost-zh" and as_json["entries"][0]["language"] == "zh"
    assert json.loads(run(app, "list", "--language", "en", "--json").stdout)["count"] == 2


@pytest.mark.slow
def test_add_edit_delete_history_and_search_sees_each_change(
    app: typer.Typer, data_dir: Path, embedders: dict[str, Embedder]
) -> None:
    added = run(
        app, "add", "--question", "Can I raise my card limit?", "--answer", "Yes, in the app.",
        "--alternate", "higher spending limit", "--alternate", "increase limit", "--category", "cards",
        "--tag", "limits", "--id", "card-limit", "--actor", "alice", "--json",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["alternates"] == ["higher spending limit", "increase limit"]

    edited = run(app, "edit", "card-limit", "--answer", "Yes: Cards > Limits.", "--clear-alternates", "--actor", "bob")
    assert edited.exit_code == 0 and "version 2" in edited.stdout
    with store_at(data_dir) as store:
        entry = store.get("card-limit")
        assert (entry.answer, entry.alternates, entry.tags) == ("Yes: Cards > Limits.", (), ("limits",))
        assert index_stamps(data_dir) == [store.version]
    config = RetrievalConfig(zh_embedder="")
    with KnowledgeBase.open(
        data_dir, config, embedder=embedders["all-MiniLM-L6-v2"], database=engines.database(data_dir)
    ) as kb:
        hit = kb.search("how do I raise my card limit").hits[0]
        assert (hit.entry_id, hit.answer) == ("card-limit", "Yes: Cards > Limits.")

    history = json.loads(run(app, "history", "card-limit", "--json").stdout)
    assert [(c["action"], c["actor"]) for c in history["changes"]] == [("edit", "bob"), ("add", "alice")]
    assert history["changes"][0]["before"]["answer"] == "Yes, in the app."
    assert "answer, alternates" in run(app, "history").stdout

    refused = run(app, "delete", "card-limit", input="n\n")
    assert refused.exit_code == 1
    deleted = run(app, "delete", "card-limit", "--yes", "--actor", "carol")
    assert deleted.exit_code == 0 and "Deleted card-limit" in deleted.stdout
    with store_at(data_dir) as store:
        assert store.get("card-limit") is None
        assert store.audit("card-limit")[0].actor == "carol"
        assert index_stamps(data_dir) == [store.version]
    with KnowledgeBase.open(
        data_dir, config, embedder=embedders["all-MiniLM-L6-v2"], database=engines.database(data_dir)
    ) as kb:
        assert all(h.entry_id != "card-limit" for h in kb.search("how do I raise my card limit").hits)


def test_refused_input_exits_1_without_loading_a_model(
    app: typer.Typer, data_dir: Path, embedders: dict[str, Embedder]
) -> None:
    seeded(data_dir)
    loaded_before = set(embedders)
    missing = run(app, "delete", "nope", "--yes")
    assert missing.exit_code == 1 and "No FAQ entry has id 'nope'" in missing.stderr
    empty = run(app, "add", "--question", " ", "--answer", "A.")
    assert empty.exit_code == 1 and "empty question" in empty.stderr
    bad_id = run(app, "add", "--id", "has space", "--question", "Q?", "--answer", "A.")
    assert bad_id.exit_code == 1 and "is not valid" in bad_id.stderr
    nothing = run(app, "edit", "card-lost")
    assert nothing.exit_code == 2 and "Nothing to change" in nothing.stderr
    assert set(embedders) == loaded_before


@pytest.mark.slow
def test_conflicts_and_duplicates_exit_1_with_the_message(app: typer.Typer, data_dir: Path) -> None:
    seeded(data_dir)
    conflict = run(app, "edit", "card-lost", "--answer", "Mine.", "--expected-version", "7")
    assert conflict.exit_code == 1 and "someone else" in conflict.stderr
    duplicate = run(app, "add", "--id", "card-lost", "--question", "Q?", "--answer", "A.")
    assert duplicate.exit_code == 1 and "already exists" in duplicate.stderr
    with store_at(data_dir) as store:
        assert store.get("card-lost").answer == "Freeze it."


@pytest.mark.slow
def test_data_dir_option_overrides_the_environment(app: typer.Typer, data_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    result = run(app, "add", "--question", "Q?", "--answer", "A.", "--data-dir", str(other))
    assert result.exit_code == 0, result.output
    assert (other / "index").is_dir() and not data_dir.exists()  # the index files, and SQLite's file if used
    if not engines.ON_POSTGRESQL:
        assert (other / "findesk.sqlite3").exists()
