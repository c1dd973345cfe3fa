"""rapidocr (PP-OCRv4 detection + recognition as ONNX, Chinese and English), the default OCR engine.

Its models ship inside the rapidocr-onnxruntime wheel (about 15 MB), so it works offline. It reads
small Latin text without the spaces between words; agent.ocr_spacing puts them back.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from PIL import Image

from agent.errors import OcrError
from agent.ocr_spacing import restore_spacing
from agent.ocr_spacing import warm_up as warm_up_spacing
from agent.types import OcrLine


class RapidOcrEngine:
    name = "rapidocr"
    languages: tuple[str, ...] = ("en", "zh")

    def __init__(self) -> None:
        self._ocr: Any = None
        self._load_lock = threading.Lock()
        # RapidOCR keeps per-call settings on the object, so concurrent calls could see each other's
        # thresholds; on a CPU box they would only compete for the same cores anyway.
        self._run_lock = threading.Lock()

    def warm_up(self) -> None:
        self._engine()
        warm_up_spacing()

    def read(self, image: Image.Image) -> tuple[OcrLine, ...]:
        engine = self._engine()
        pixels = np.asarray(image.convert("RGB"))[:, :, ::-1]  # rapidocr wants OpenCV's BGR order
        with self._run_lock:
            try:
                result, _elapsed = engine(np.ascontiguousarray(pixels))
            except Exception as e:  # noqa: BLE001 - onnxruntime/OpenCV failures: report, do not crash the turn
                raise OcrError(
                    "Reading the text in the screenshot failed: please describe the problem in words."
                ) from e
        lines = []
        for box, text, confidence in result or ():
            spaced = restore_spacing(str(text)).strip()
            if spaced:
                points = tuple((float(x), float(y)) for x, y in box)
                lines.append(OcrLine(text=spaced, box=points, confidence=float(confidence)))
        return tuple(lines)

    def _engine(self) -> Any:
        with self._load_lock:
            if self._ocr is None:
                try:
                    from rapidocr_onnxruntime import RapidOCR
                except ImportError as e:
                    raise OcrError("Screenshot OCR needs rapidocr: run 'pip install rapidocr-onnxruntime'.") from e
                self._ocr = RapidOCR()
            return self._ocr
