"""One copy of each loaded model per process, shared by every transcriber and request thread.

A Whisper model is 100-600 MB; two requests arriving together must not load it twice. Each key gets
its own lock, so loading `base` does not block a request that only needs the already-loaded `tiny.en`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

_models: dict[Hashable, Any] = {}
_key_locks: dict[Hashable, threading.Lock] = {}
_registry_lock = threading.Lock()
load_counts: dict[Hashable, int] = {}  # how often each key was actually loaded (tests check it stays 1)


def shared_model(key: Hashable, load: Callable[[], Any]) -> Any:
    """The model cached under key, calling `load()` exactly once per process even under concurrency."""
    model = _models.get(key)
    if model is not None:
        return model
    with _registry_lock:
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:
        model = _models.get(key)
        if model is None:  # checked again: another thread may have loaded it while we waited
            model = load()
            _models[key] = model
            load_counts[key] = load_counts.get(key, 0) + 1
    return model


def clear() -> None:
    """Forget every cached model (frees memory once no transcriber holds a reference)."""
    with _registry_lock:
        _models.clear()
        _key_locks.clear()
        load_counts.clear()
