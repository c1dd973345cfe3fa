"""Files the browser uploaded through Gradio: whose they are, what kind, how large; read once, then deleted.

Gradio stores each upload in its upload folder as `<sha256 of the content>/<name>`, and an event payload
names files by path. A payload is JSON the client writes, so a path in it proves nothing: every handler
reads uploads through `Uploads.claim`/`Uploads.take`, which accept a path only if Gradio's /upload route
stored it for the same client (`ui.upload_gate.UploadGate` records what that route returns). Gradio's own
check (files in its upload folder only) runs before that, switched on in ui/app.py.

Deleting the file as soon as the handler has its bytes means no customer's screenshot or recording stays
readable at a /file= URL afterwards; uploads never sent are swept by Gradio's `delete_cache` (ui/app.py).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from gradio.utils import get_upload_folder

from agent.settings import WebConfig
from ui.i18n import text

# What each file input accepts; the components' `file_types` and the upload gate use the same lists.
IMAGE_TYPES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")
AUDIO_TYPES = (".wav", ".mp3", ".ogg", ".oga", ".opus", ".webm", ".m4a", ".mp4", ".flac", ".aac")
FAQ_FILE_TYPES = (".jsonl", ".csv", ".md")
CANNED_FILE_TYPES = (".jsonl", ".csv")


class UploadRefused(Exception):
    """Shown to the user as is: the file was too large, of a kind we do not read, or not uploaded here."""


def client_of(request: Any) -> str:
    """The address a request came from (a trusted proxy's X-Forwarded-For is already applied): '' if unknown."""
    client = getattr(request, "client", None) if request is not None else None
    return str(getattr(client, "host", "") or "")


def _key(path: str | Path) -> str:
    # Gradio hands handlers the absolute path it stored; normalise without following links.
    return os.path.abspath(str(path))


def _inside_upload_folder(path: Path) -> bool:
    # Never delete a path a forged payload names outside Gradio's own upload folder.
    try:
        return path.resolve().is_relative_to(Path(get_upload_folder()).resolve())
    except OSError:
        return False


def discard(path: Path) -> None:
    """Delete an upload and its per-file folder; silently ignores paths outside Gradio's upload folder."""
    if not _inside_upload_folder(path):
        return
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
        path.parent.rmdir()  # only succeeds when empty: the folder is named for this one content hash


class Uploads:
    """Which client Gradio stored each upload for, and how much each client uploaded lately. Thread-safe."""

    def __init__(self, config: WebConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._owners: dict[str, dict[str, float]] = {}  # path -> {client: when stored}
        self._spent: dict[str, deque[tuple[float, int]]] = {}  # client -> (when, bytes) within the window
        self._used: dict[str, str] = {}  # path -> the client that already sent it (a file is read only once)

    # --- the upload route (ui.upload_gate) --------------------------------------------------------------

    def admit(self, client: str, size: int) -> float:
        """Count an upload of `size` bytes for `client`: 0 if allowed, else the seconds until it would be."""
        now = self._clock()
        window = self.config.upload_window_s
        with self._lock:
            spent = self._spent.setdefault(client, deque())
            while spent and spent[0][0] <= now - window:
                spent.popleft()
            over_count = len(spent) + 1 > self.config.uploads_per_window
            over_bytes = sum(n for _, n in spent) + size > self.config.upload_bytes_per_window
            if over_count or over_bytes:
                return max(1.0, spent[0][0] + window - now) if spent else float(window)
            spent.append((now, size))
            if len(self._spent) > 10_000:  # forget clients that went quiet, so the table stays small
                self._spent = {c: d for c, d in self._spent.items() if d and d[-1][0] > now - window}
            return 0.0

    def record(self, client: str, paths: Iterable[str]) -> None:
        """Gradio stored `paths` for `client`; only that client may send them with a message."""
        now = self._clock()
        with self._lock:
            for path in paths:
                self._owners.setdefault(_key(path), {})[client] = now
            if len(self._owners) > 10_000:  # files the sweep deleted: forget them
                old = now - 2 * self.config.upload_ttl_s
                self._owners = {p: o for p, o in self._owners.items() if max(o.values()) > old}

    # --- handlers -------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def claim(
        self, path: str | Path, request: Any, *, allowed: tuple[str, ...], max_bytes: int, language: str = "en"
    ) -> Iterator[Path]:
        """The upload at `path`, if Gradio stored it for this request's client and it is of an allowed type and
        size; UploadRefused otherwise. The file is deleted when the block ends, whatever happens."""
        path = Path(path)
        mine = self._release(path, client_of(request))
        if not mine:  # a forged payload, another client's file, or one already used: never read, never deleted
            raise UploadRefused(text(language, "not_uploaded").format(name=path.name))
        try:
            if path.suffix.lower() not in allowed:
                raise UploadRefused(text(language, "wrong_type").format(name=path.name, types=", ".join(allowed)))
            try:
                size = path.stat().st_size
            except OSError as error:  # e.g. swept after sitting unsent past upload_ttl_s
                raise UploadRefused(text(language, "unreadable")) from error
            if size > max_bytes:
                raise UploadRefused(
                    text(language, "too_big").format(size=f"{size / 1e6:.1f}", limit=f"{max_bytes / 1e6:.0f}")
                )
            yield path
        finally:
            discard(path)

    def take(
        self, path: str | Path, request: Any, *, allowed: tuple[str, ...], max_bytes: int, language: str = "en"
    ) -> bytes:
        """The bytes of an upload `claim` accepts; deleted either way."""
        with self.claim(path, request, allowed=allowed, max_bytes=max_bytes, language=language) as accepted:
            try:
                return accepted.read_bytes()
            except OSError as error:  # e.g. an identical upload from another client was just deleted
                raise UploadRefused(text(language, "unreadable")) from error

    def drop(self, paths: Iterable[str | Path], request: Any) -> None:
        """Delete this client's uploads that a handler will not read (e.g. a second screenshot)."""
        client = client_of(request)
        for path in paths:
            if self._release(Path(path), client):
                discard(Path(path))

    def already_used(self, path: str | Path, request: Any) -> bool:
        """True if this client already sent this upload (Gradio may fire two events for one recording)."""
        with self._lock:
            return self._used.get(_key(path)) == client_of(request)

    def _release(self, path: Path, client: str) -> bool:
        """Forget that `client` stored `path`; True if it had."""
        key = _key(path)
        with self._lock:
            owners = self._owners.get(key, {})
            mine = owners.pop(client, None) is not None
            if not owners:
                self._owners.pop(key, None)
            if mine:
                if len(self._used) > 10_000:
                    self._used.clear()
                self._used[key] = client
        return mine
