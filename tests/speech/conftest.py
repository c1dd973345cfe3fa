"""Speech test helpers: synthetic audio encoded with PyAV, the real clips, and models loaded once per session."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from speech.config import SpeechConfig
from speech.model_pack import default_cache_dir


def tone(seconds: float = 1.0, rate: int = 48_000, hz: float = 440.0, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def encode(samples: np.ndarray, rate: int, container: str, codec: str, layout: str = "mono") -> bytes:
    """Encode float32 mono samples the way a browser or phone would (PyAV, in memory)."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as output:
        stream = output.add_stream(codec, rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1).astype(np.float32), format="flt", layout="mono")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout=layout, rate=rate)
        for converted in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(converted):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def audio_dir(shared_data: Path) -> Path:
    return shared_data / "audio"


@pytest.fixture(scope="session")
def manifest(audio_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (audio_dir / "manifest.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def speech_cache() -> Path:
    """The product's own cache (assembled base, converted checkpoints): verified by sha256/conversion checks,
    and reusing it keeps the suite from converting base again on every run."""
    return default_cache_dir()


@pytest.fixture(scope="session")
def base_config(speech_cache: Path) -> SpeechConfig:
    return SpeechConfig(model="base", cache_dir=speech_cache)
