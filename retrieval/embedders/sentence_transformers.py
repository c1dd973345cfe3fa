"""sentence-transformers embedder: all-MiniLM-L6-v2 from the offline pack by default, any model id or folder."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from retrieval.embedders.base import EmbedKind, normalise_rows
from retrieval.errors import EmbedderUnavailable
from retrieval.model_pack import MINILM, ResolvedModel, resolve


class SentenceTransformerEmbedder:
    """Wraps `SentenceTransformer.encode_query/encode_document`; torch is imported on first use only."""

    def __init__(self, name_or_path: str = MINILM, *, device: str = "cpu", batch_size: int = 64) -> None:
        self.name = name_or_path
        self.device = device
        self.batch_size = batch_size
        self.languages: tuple[str, ...] = ("en",) if name_or_path == MINILM else ("*",)
        self.resolved: ResolvedModel | None = None
        self._model: Any = None
        self._lock = threading.Lock()  # two Gradio workers must not load the model twice

    def warm_up(self) -> None:
        if self._model is not None:
            return
        with self._lock:
            if self._model is not None:
                return
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
            self.resolved, self._model = resolved, model

    @property
    def dim(self) -> int:
        self.warm_up()
        return int(self._model.get_embedding_dimension())

    def embed(self, texts: Sequence[str], *, kind: EmbedKind) -> np.ndarray:
        self.warm_up()
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        encode = self._model.encode_query if kind == "query" else self._model.encode_document
        vectors = encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return normalise_rows(vectors)
