"""sentence-transformers embedder: all-MiniLM-L6-v2 from the offline pack by default, any model id or folder.

On CPU the transformer runs in ONNX Runtime when the model allows it (retrieval/embedders/onnx_runtime.py:
the same vectors, ~3x faster per query); `backend="torch"` or any other device keeps it in torch, and so
does a model the ONNX path cannot reproduce (`runs_on` says which, and why).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs

from retrieval.embedders.base import EmbedKind, LoadOnce, normalise_rows
from retrieval.errors import EmbedderUnavailable
from retrieval.model_pack import MINILM, ResolvedModel, resolve

log = logging.getLogger(__name__)

BACKENDS = ("onnx", "torch")  # see retrieval/embedders/onnx_runtime.py


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("findesk", appauthor=False)) / "retrieval"


class SentenceTransformerEmbedder:
    """Wraps `SentenceTransformer.encode_query/encode_document`; torch is imported on first use only."""

    def __init__(
        self,
        name_or_path: str = MINILM,
        *,
        device: str = "cpu",
        batch_size: int = 32,  # fastest for ONNX Runtime on 2 cores: 4.8 ms a phrasing vs 5.9 at 64
        backend: str = "onnx",
        cache_dir: Path | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown embedder backend {backend!r}: use {', '.join(BACKENDS)}")
        self.name = name_or_path
        self.device = device
        self.batch_size = batch_size
        self.backend = backend  # what was asked for; `runs_on` says what was used, after warm_up
        self.cache_dir = cache_dir or default_cache_dir()
        self.runs_on = ""
        self._onnx: Any = None
        self.languages: tuple[str, ...] = ("en",) if name_or_path == MINILM else ("*",)
        self.resolved: ResolvedModel | None = None
        self._model: Any = None
        self._load_once = LoadOnce()

    def warm_up(self) -> None:
        self._load_once(self._load)

    def _load(self) -> None:
        resolved = resolve(self.name)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            raise EmbedderUnavailable(
                "sentence-transformers is not installed: run `pip install sentence-transformers`."
            ) from error
        try:
            model = SentenceTransformer(resolved.location, device=self.device)
        except Exception as error:  # hub/network/format failures all mean "cannot load this model"
            raise EmbedderUnavailable(
                f"Could not load embedder {self.name!r} from {resolved.location} ({resolved.reason}): {error}. "
                "Install the offline pack (`pip install 'findesk[offline]'`) or point "
                "FINDESK_RETRIEVAL__EMBEDDER at a local model folder."
            ) from error
        self._onnx, self.runs_on = self._onnx_encoder(model)
        self.resolved, self._model = resolved, model

    def _onnx_encoder(self, model: Any) -> tuple[Any, str]:
        """(OnnxEncoder or None, what runs the model and why): ONNX on CPU when the model allows it."""
        if self.backend == "torch" or self.device != "cpu":
            return None, f"torch ({self.device})"
        from retrieval.embedders.onnx_runtime import OnnxUnsupported, load_encoder

        try:
            return load_encoder(model, self.cache_dir), "onnxruntime (cpu)"
        except OnnxUnsupported as error:
            log.warning("embedder %s runs in torch: %s", self.name, error)
            return None, f"torch (cpu): ONNX not usable: {error}"

    @property
    def dim(self) -> int:
        self.warm_up()
        return int(self._model.get_embedding_dimension())

    def embed(self, texts: Sequence[str], *, kind: EmbedKind) -> np.ndarray:
        self.warm_up()
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._onnx is not None:  # MiniLM-style models have no query/document prompts to add
            return normalise_rows(self._onnx.encode(list(texts), batch_size=self.batch_size))
        encode = self._model.encode_query if kind == "query" else self._model.encode_document
        vectors = encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalise_rows(vectors)
