"""The Transcriber factory: valid names only, one model per process, safe under concurrent requests."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from speech import model_cache
from speech.audio import decode_audio
from speech.config import SpeechConfig
from speech.errors import EngineNotInstalledError, NoSpeechError, UnknownEngineError
from speech.transcriber import ENGINES, Transcriber, load_transcriber


def test_unknown_engine_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownEngineError, match="faster-whisper, openai-whisper"):
        load_transcriber(SpeechConfig(engine="whisperx"))


def test_factory_is_cheap_and_shares_instances() -> None:
    config = SpeechConfig(model="tiny.en", cpu_threads=1)
    first = load_transcriber(config)
    assert first is load_transcriber(SpeechConfig(model="tiny.en", cpu_threads=1))
    assert isinstance(first, Transcriber) and first.name == "faster-whisper"
    assert set(ENGINES) == {"faster-whisper", "openai-whisper"}


def test_import_speech_does_not_import_torch_or_engines() -> None:
    code = (
        "import sys, speech, speech.audio, speech.transcriber, speech.model_pack, speech.evaluation\n"
        "heavy = [m for m in ('torch', 'whisper', 'faster_whisper', 'ctranslate2', 'av') if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_missing_engine_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # what `import` sees when it is not installed
    transcriber = load_transcriber(SpeechConfig(model="tiny.en", cpu_threads=3))
    with pytest.raises(EngineNotInstalledError, match="pip install"):
        transcriber.warm_up()


def test_shared_model_loads_once_under_contention() -> None:
    calls = []

    def slow_load() -> object:
        calls.append(1)
        time.sleep(0.2)  # long enough for every thread to arrive while the first one is loading
        return object()

    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(model_cache.shared_model("k-test", slow_load))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(r) for r in results}) == 1


def test_silence_is_refused_before_loading_a_model() -> None:
    config = SpeechConfig(model="tiny.en", cpu_threads=4)
    with pytest.raises(NoSpeechError, match="no speech detected"):
        load_transcriber(config).transcribe(decode_audio((16_000, np.zeros(32_000, dtype=np.int16))))
    assert not any(key[1] == "tiny.en" and key[3] == "4" for key in model_cache.load_counts)


@pytest.mark.slow
def test_concurrent_transcriptions_share_one_model(audio_dir: Path) -> None:
    """Two requests at once on a cold process: one model load, two correct transcripts."""
    config = SpeechConfig(model="tiny.en", cpu_threads=1)  # a key no other test loads
    audio = decode_audio(audio_dir / "speech_recognition_english_one_two_three.wav")
    barrier = threading.Barrier(2)
    texts: list[str] = []
    errors: list[BaseException] = []

    def request() -> None:
        try:
            transcriber = load_transcriber(config)
            barrier.wait()
            texts.append(transcriber.transcribe(audio).text)
        except BaseException as e:  # noqa: BLE001 - re-raised in the main thread below
            errors.append(e)

    threads = [threading.Thread(target=request) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    key = ("faster-whisper", "tiny.en", "int8", "1", "None")
    assert model_cache.load_counts[key] == 1
    assert len(texts) == 2 and texts[0] == texts[1]
    assert "1" in texts[0] or "one" in texts[0].lower()
