"""The ONNX Runtime path of the sentence-transformers embedder (retrieval/embedders/onnx_runtime.py).

Real all-MiniLM-L6-v2 from the offline pack, exported by the real exporter; the first export on a machine
takes ~15 s and is cached under the user cache dir, later tests reuse it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydantic
import pytest

from retrieval.config import RetrievalConfig
from retrieval.embedders import onnx_runtime
from retrieval.embedders.onnx_runtime import supports
from retrieval.embedders.sentence_transformers import SentenceTransformerEmbedder, default_cache_dir
from tests.retrieval.models import minilm

SENTENCES = [
    "hi",
    "My card was declined at the supermarket even though I have money in my account, why?",
    "forgot my password",
    "国际汇款要多久到账？",
    "How long does a SWIFT transfer to an IBAN in Germany usually take to arrive?",
]


class _Module:
    pass


def _model(*names: str, prompts: dict[str, str] | None = None) -> object:
    """Something shaped like a SentenceTransformer for `supports`: modules with these class names."""

    class Model(list):
        tokenizer = object()

    model = Model(type(name, (_Module,), {})() for name in names)
    model.prompts = prompts or {}  # type: ignore[attr-defined]
    return model


def test_only_plain_transformer_pooling_models_qualify() -> None:
    assert supports(_model("Transformer", "Pooling", "Normalize")) is None
    assert supports(_model("Transformer", "Pooling")) is None
    assert "not [Transformer, Pooling" in (supports(_model("Transformer", "Pooling", "Dense")) or "")
    assert "prompts" in (supports(_model("Transformer", "Pooling", prompts={"query": "query: "})) or "")
    assert supports(_model("Transformer", "Pooling", prompts={"query": "", "document": ""})) is None


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="onnx, torch"):
        SentenceTransformerEmbedder(backend="tensorrt")
    with pytest.raises(pydantic.ValidationError, match="embedder_backend"):  # FINDESK_RETRIEVAL__EMBEDDER_BACKEND
        RetrievalConfig(embedder_backend="tensorrt")


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    embedder = SentenceTransformerEmbedder(backend="torch")
    vectors = embedder.embed(SENTENCES, kind="passage")
    assert embedder.runs_on == "torch (cpu)"
    return vectors


@pytest.mark.slow
def test_onnx_is_the_default_and_gives_torchs_vectors_alone_or_in_a_batch(torch_vectors: np.ndarray) -> None:
    embedder = minilm()
    embedder.warm_up()
    assert embedder.runs_on == "onnxruntime (cpu)"  # type: ignore[attr-defined]
    vectors = embedder.embed(SENTENCES, kind="passage")
    assert vectors.shape == (5, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert _cosines(vectors, torch_vectors).min() >= 0.99999
    # a query embedded alone gets the vector its text gets inside a padded, length-sorted batch
    alone = np.vstack([embedder.embed([s], kind="query") for s in SENTENCES])
    assert _cosines(alone, vectors).min() >= 0.99999


@pytest.mark.slow
def test_a_corrupt_cached_export_is_exported_again(torch_vectors: np.ndarray, tmp_path: Path) -> None:
    embedder = SentenceTransformerEmbedder(cache_dir=tmp_path)
    vectors = embedder.embed(SENTENCES, kind="passage")
    (cached,) = (tmp_path / "onnx").glob("*.onnx")
    size = cached.stat().st_size
    cached.write_bytes(cached.read_bytes()[: size // 3])  # a crash or a full disk cut it short
    again = SentenceTransformerEmbedder(cache_dir=tmp_path)
    assert np.allclose(again.embed(SENTENCES, kind="passage"), vectors, atol=1e-6)
    assert again.runs_on == "onnxruntime (cpu)"
    assert cached.stat().st_size == size and not list((tmp_path / "onnx").glob("*.tmp"))


@pytest.mark.slow
def test_a_model_the_onnx_path_cannot_reproduce_runs_in_torch(
    torch_vectors: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    minilm().warm_up()  # exports into the default cache, if no earlier test did
    exported = next(default_cache_dir().glob("onnx/*.onnx"))
    (tmp_path / "onnx").mkdir()
    monkeypatch.setattr(onnx_runtime, "MIN_COSINE", 1.01)  # no file can pass: stands in for a wrong export
    monkeypatch.setattr(onnx_runtime, "_export", lambda model, path: shutil.copy(exported, path))

    embedder = SentenceTransformerEmbedder(cache_dir=tmp_path)
    vectors = embedder.embed(SENTENCES, kind="passage")
    assert embedder.runs_on.startswith("torch (cpu): ONNX not usable: ONNX vectors differ from torch's")
    assert np.allclose(vectors, torch_vectors, atol=1e-6)
    assert not list((tmp_path / "onnx").glob("*.onnx"))  # a file that failed its check is not kept


@pytest.mark.slow
def test_an_unwritable_cache_dir_means_torch_not_a_crash(torch_vectors: np.ndarray, tmp_path: Path) -> None:
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where FINDESK_RETRIEVAL__CACHE_DIR points")
    embedder = SentenceTransformerEmbedder(cache_dir=not_a_folder)
    vectors = embedder.embed(SENTENCES, kind="passage")
    assert embedder.runs_on.startswith("torch (cpu): ONNX not usable: torch.onnx.export failed")
    assert np.allclose(vectors, torch_vectors, atol=1e-6)
