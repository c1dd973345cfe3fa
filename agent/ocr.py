"""OCR engines behind one small interface, and the registry that picks one by name.

An engine turns a checked RGB image into text lines with their boxes (in that image's pixels). Reading
order and joining are the caller's business (agent.ocr_layout), so every engine is ordered the same way.
Engines are cheap to build; models load on first use or `warm_up()`, once per process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from PIL import Image

from agent.errors import OcrError
from agent.types import OcrLine


class OcrEngine(Protocol):
    name: str
    languages: tuple[str, ...]  # what it reads, e.g. ("en", "zh")

    def warm_up(self) -> None:
        """Load the models now rather than on the first screenshot."""

    def read(self, image: Image.Image) -> tuple[OcrLine, ...]:
        """Text lines found in an RGB image; boxes in the image's pixels; any order."""


def _rapidocr() -> OcrEngine:
    from agent.ocr_rapid import RapidOcrEngine

    return RapidOcrEngine()


ENGINES: dict[str, Callable[[], OcrEngine]] = {"rapidocr": _rapidocr}

_loaded: dict[str, OcrEngine] = {}
_lock = threading.Lock()


def load_ocr_engine(name: str = "rapidocr") -> OcrEngine:
    """The process-wide engine called `name` (built once; its models load lazily)."""
    if name not in ENGINES:
        raise OcrError(f"Unknown OCR engine {name!r}; available engines: {', '.join(sorted(ENGINES))}.")
    with _lock:
        if name not in _loaded:
            _loaded[name] = ENGINES[name]()
        return _loaded[name]
