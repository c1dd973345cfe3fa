"""Measure a transcriber on a labelled manifest: WER (English), CER (Chinese), real-time factor, peak memory.

Manifest lines: {"file": "clip.flac", "lang": "en"|"zh", "transcript": "..."}, file relative to the
manifest. Overall rates pool errors over all clips of a language (errors / reference length).

Text normalisation, applied the same way to reference and hypothesis, as Chinese and English ASR benchmarks
do (Whisper's own normalisers; SpeechIO / WeNet text normalisation for Mandarin):
- both: Unicode NFKC (full-width letters, digits and punctuation become their ASCII forms), lower case.
- English: Whisper's EnglishTextNormalizer ("Mr." = "mister", number words = digits, spelling variants),
  after spelling out lone digits (see normalize_english). Scored in words (WER).
- Chinese: traditional -> simplified (OpenCC t2s); punctuation, symbols and spaces removed; Chinese numerals
  written as Arabic digits: a run without units digit by digit ("一二线" = "12线"), a run with units by value
  ("十二个月" = "12个月", "两千" = "2000"). A lone "两" ("两个") and unit characters without digits ("万一")
  stay as they are. Scored in characters (CER); Latin words inside Chinese count by their letters.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import resource
import sys
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from speech.audio import decode_audio
from speech.errors import AudioInputError, ManifestError
from speech.finalize import to_simplified
from speech.transcriber import Transcriber


@dataclass(frozen=True)
class ManifestItem:
    path: Path
    lang: str
    transcript: str


@dataclass(frozen=True)
class ClipResult:
    file: str
    lang: str
    reference: str
    hypothesis: str
    detected_language: str
    errors: int  # word (en) or character (zh) edits
    reference_length: int  # words (en) or characters (zh)
    error_rate: float
    duration_s: float
    seconds: float  # wall time of transcribe(), excluding decoding the file
    rtf: float  # seconds / duration_s
    error: str = ""  # why the clip could not be transcribed (it then counts as every reference word missed)


@dataclass(frozen=True)
class AsrReport:
    engine: str
    model: str
    clips: list[ClipResult]
    wer_en: float | None  # pooled over English clips; None when there are none
    cer_zh: float | None  # pooled over Chinese clips
    rtf: float  # total transcription time / total audio duration
    first_transcription_s: float  # first transcribe() after start, including the model load
    peak_rss_mb: float  # peak resident memory of this process so far

    @property
    def failures(self) -> list[ClipResult]:
        return [c for c in self.clips if c.error]


def load_manifest(path: Path) -> list[ManifestItem]:
    if not path.is_file():
        raise ManifestError(f"manifest {path} not found.")
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            item = ManifestItem(path.parent / record["file"], record["lang"], record["transcript"])
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ManifestError(f"{path}:{number}: expected a JSON object with file, lang and transcript ({e}).") from e
        if item.lang not in ("en", "zh"):
            raise ManifestError(f"{path}:{number}: lang must be 'en' or 'zh', not {item.lang!r}.")
        if not item.path.is_file():
            raise ManifestError(f"{path}:{number}: audio file {item.path} not found.")
        items.append(item)
    if not items:
        raise ManifestError(f"manifest {path} has no clips.")
    return items


@functools.cache
def _english_normalizer() -> Callable[[str], str]:
    """Whisper's EnglishTextNormalizer, loaded without `import whisper` (which would import torch and
    inflate the faster-whisper engine's measured memory by ~300 MB)."""
    spec = importlib.util.find_spec("whisper")
    if spec is None or spec.origin is None:
        raise ManifestError("scoring English needs openai-whisper's text normaliser: pip install openai-whisper")
    folder = Path(spec.origin).parent / "normalizers"
    name = "_findesk_whisper_normalizers"
    package_spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    module = importlib.util.module_from_spec(package_spec)  # type: ignore[arg-type]
    sys.modules[name] = module
    package_spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.EnglishTextNormalizer()


_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_LONE_DIGIT = re.compile(r"(?<![\w.,])(\d)(?![\w]|[.,]\d)")


def normalize_english(text: str) -> list[str]:
    """Whisper's normaliser, after spelling out lone digits: it maps "one two three" to "123" but "1, 2, 3" to
    "one 2 3" (it keeps a lone "1" as "one"), so the same words would count as three errors."""
    text = _LONE_DIGIT.sub(lambda m: _DIGIT_WORDS[int(m.group(1))], unicodedata.normalize("NFKC", text))
    return _english_normalizer()(text).split()


_ZH_DIGITS = dict(zip("零〇一二两三四五六七八九", (0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9), strict=True))
_ZH_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_ZH_LARGE_UNITS = {"万": 10_000, "亿": 100_000_000}
_ZH_NUMBER = re.compile("[" + "".join(_ZH_DIGITS) + "".join(_ZH_SMALL_UNITS) + "".join(_ZH_LARGE_UNITS) + "]+")


def _chinese_number(run: str) -> str:
    """A run of Chinese numeral characters as Arabic digits (see the module docstring for the rules)."""
    has_units = any(ch in _ZH_SMALL_UNITS or ch in _ZH_LARGE_UNITS for ch in run)
    if not run or run == "两" or not (any(ch in _ZH_DIGITS for ch in run) or run.startswith("十")):
        return run
    if not has_units:
        return "".join(str(_ZH_DIGITS[ch]) for ch in run)
    total = section = number = 0
    for ch in run:
        if ch in _ZH_DIGITS:
            number = _ZH_DIGITS[ch]
        elif ch in _ZH_SMALL_UNITS:
            section += (number or 1) * _ZH_SMALL_UNITS[ch]  # "十二": an implicit one ten
            number = 0
        else:
            total = (total + section + number) * _ZH_LARGE_UNITS[ch]
            section = number = 0
    return str(total + section + number)


def normalize_chinese(text: str) -> str:
    """Characters for CER: NFKC, lower case, simplified, no punctuation/symbols/spaces, numerals as digits."""
    text = to_simplified(unicodedata.normalize("NFKC", text)).lower()
    text = "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch)[0] not in "PS")
    return _ZH_NUMBER.sub(lambda m: _leading_units(m.group()) + _chinese_number(m.group().lstrip(_LEADING)), text)


_LEADING = "百千万亿"  # a run cannot start with these as a number ("万一", "千万"): they stay as characters


def _leading_units(run: str) -> str:
    return run[: len(run) - len(run.lstrip(_LEADING))]


def score(reference: str, hypothesis: str, lang: str) -> tuple[int, int]:
    """(edit errors, reference length) in words for English, characters for Chinese."""
    import jiwer

    if lang == "zh":
        ref, hyp = list(normalize_chinese(reference)), list(normalize_chinese(hypothesis))
    else:
        ref, hyp = normalize_english(reference), normalize_english(hypothesis)
    if not ref:
        return len(hyp), 0
    if not hyp:
        return len(ref), len(ref)
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    return out.substitutions + out.deletions + out.insertions, len(ref)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _pooled(clips: list[ClipResult], lang: str) -> float | None:
    chosen = [c for c in clips if c.lang == lang]
    length = sum(c.reference_length for c in chosen)
    return sum(c.errors for c in chosen) / length if length else None


def _failed(item: ManifestItem, error: AudioInputError) -> ClipResult:
    _, length = score(item.transcript, "", item.lang)
    return ClipResult(
        file=item.path.name,
        lang=item.lang,
        reference=item.transcript,
        hypothesis="",
        detected_language="",
        errors=length,
        reference_length=length,
        error_rate=1.0,
        duration_s=0.0,
        seconds=0.0,
        rtf=0.0,
        error=f"{type(error).__name__}: {error}",
    )


def evaluate(
    transcriber: Transcriber,
    items: list[ManifestItem],
    *,
    model: str,
    prompt: str | None = None,
    max_duration_s: float = 120.0,
    on_clip: Callable[[ClipResult], None] | None = None,
) -> AsrReport:
    """Transcribe every clip (the first call includes the model load) and score it.

    A clip the product refuses (unreadable, "no speech", too long) does not stop the run: its error is
    recorded and it counts as all its reference words (characters) missed, so refusing never improves a rate.
    """
    clips = []
    first_s = 0.0
    for item in items:
        try:
            audio = decode_audio(item.path, max_duration_s=max_duration_s)
            start = time.perf_counter()
            transcript = transcriber.transcribe(audio, prompt=prompt)
        except AudioInputError as e:
            clips.append(_failed(item, e))
            if on_clip is not None:
                on_clip(clips[-1])
            continue
        seconds = time.perf_counter() - start
        load_s = transcript.timings_ms.get("load", 0.0) / 1000
        if not first_s:
            first_s = seconds
        run_s = seconds - load_s  # the model load is reported once, not charged to the first clip's RTF
        errors, length = score(item.transcript, transcript.text, item.lang)
        clip = ClipResult(
            file=item.path.name,
            lang=item.lang,
            reference=item.transcript,
            hypothesis=transcript.text,
            detected_language=transcript.language,
            errors=errors,
            reference_length=length,
            error_rate=errors / length if length else float(errors > 0),
            duration_s=audio.duration_s,
            seconds=run_s,
            rtf=run_s / audio.duration_s,
        )
        clips.append(clip)
        if on_clip is not None:
            on_clip(clip)
    transcribed = [c for c in clips if not c.error]
    audio_s = sum(c.duration_s for c in transcribed)
    return AsrReport(
        engine=transcriber.name,
        model=model,
        clips=clips,
        wer_en=_pooled(clips, "en"),
        cer_zh=_pooled(clips, "zh"),
        rtf=sum(c.seconds for c in transcribed) / audio_s if audio_s else 0.0,
        first_transcription_s=first_s,
        peak_rss_mb=peak_rss_mb(),
    )
