"""Turn whatever a browser or phone sends into validated 16 kHz mono float32, without a system ffmpeg.

PyAV's wheels carry ffmpeg's libraries, so wav, flac, ogg/opus, webm, mp3 and m4a all decode here.
The format is judged from the bytes, never from the file name: a PNG called `voice.wav` is refused
as an image. Gradio's microphone gives `(sample_rate, ndarray)`, handled by the same checks.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import numpy as np

from speech.errors import (
    AudioTooLargeError,
    AudioTooLongError,
    CorruptAudioError,
    EmptyAudioError,
    InvalidAudioFormatError,
    NotAudioError,
)
from speech.types import SAMPLE_RATE, Audio

MIN_SAMPLE_RATE = 2_000  # Hz: below any telephone band; a "1 Hz" recording is a caller's bug
MAX_SAMPLE_RATE = 384_000  # Hz: the highest rate studio interfaces offer
MAX_CHANNELS = 32  # more than any microphone array a customer or an agent desk would send
TRUNCATION_TOLERANCE = 0.9  # decoding less than 90% of the declared duration means the upload was cut off

# Magic numbers of containers we expect from browsers and phones, checked at the start of the content.
_AUDIO_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"RIFF", "wav"),
    (0, b"fLaC", "flac"),
    (0, b"OggS", "ogg"),
    (0, b"\x1a\x45\xdf\xa3", "webm"),  # EBML: webm / matroska
    (0, b"ID3", "mp3"),
    (4, b"ftyp", "mp4"),  # m4a, mp4, 3gp
    (0, b"FORM", "aiff"),
    (0, b"#!AMR", "amr"),
    (0, b"caff", "caf"),
)
# Things people upload by mistake, named so the message can say what was actually sent.
_OTHER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or Office document)"),
)
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # what streaming recorders write in a wav header before they know the length


def sniff_format(head: bytes) -> str | None:
    """The audio container named by the first bytes, or None when they name no known audio format."""
    for offset, magic, name in _AUDIO_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return name
    # An mp3 without ID3 tag or raw AAC starts with an MPEG frame sync: 11 set bits.
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "mpeg"
    return None


def _describe_non_audio(head: bytes) -> str:
    for magic, what in _OTHER_MAGIC:
        if head.startswith(magic):
            return what
    sample = head[:512]
    if sample and all(b in b"\t\n\r" or 32 <= b < 127 or b >= 128 for b in sample):
        try:
            sample.decode("utf-8")
            return "a text file"
        except UnicodeDecodeError:
            pass
    return "not a recognised audio format"


def decode_audio(
    data: bytes | Path | str | tuple[int, np.ndarray], *, max_duration_s: float = 120.0, max_bytes: int = 25_000_000
) -> Audio:
    """Decode and validate audio to 16 kHz mono float32; raise a specific AudioInputError if unusable."""
    if isinstance(data, tuple):
        return _from_array(data, max_duration_s=max_duration_s)
    if isinstance(data, str | Path):
        path = Path(data)
        size = path.stat().st_size
        if size > max_bytes:
            raise AudioTooLargeError(
                f"the audio file is {size:,} bytes; the limit is {max_bytes:,}. Send a shorter clip."
            )
        data = path.read_bytes()
    if len(data) == 0:
        raise EmptyAudioError("the audio file is empty (0 bytes). Record again and resend.")
    if len(data) > max_bytes:
        raise AudioTooLargeError(f"the audio is {len(data):,} bytes; the limit is {max_bytes:,}. Send a shorter clip.")
    return _from_bytes(data, max_duration_s=max_duration_s)


def _from_bytes(data: bytes, *, max_duration_s: float) -> Audio:
    import av  # PyAV: imported here so `import speech` stays light

    head = data[:64]
    sniffed = sniff_format(head)
    if sniffed is None:
        raise NotAudioError(
            f"this upload is {_describe_non_audio(head)}, not audio. Send wav, flac, ogg, webm, mp3 or m4a."
        )
    if sniffed == "wav":
        _check_wav_header(data)
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.error.InvalidDataError, av.error.EOFError, ValueError, OSError) as e:
        raise CorruptAudioError(f"the {sniffed} audio is damaged and cannot be opened ({e}). Record again.") from e
    with container:
        if not container.streams.audio:
            raise NotAudioError(f"this {sniffed} file has no audio track. Send a voice recording.")
        stream = container.streams.audio[0]
        source_format = f"{container.format.name.split(',')[0]}/{stream.codec_context.name}"
        declared_s = _declared_duration(container, stream)
        if declared_s is not None and declared_s > max_duration_s + 0.5:
            raise AudioTooLongError(
                f"the clip is {declared_s:.0f} s long; the limit is {max_duration_s:.0f} s. Send a shorter clip."
            )
        channels = stream.codec_context.channels
        if not 1 <= channels <= MAX_CHANNELS:  # ffmpeg reports 0 for counts it cannot represent
            raise InvalidAudioFormatError(
                f"the audio has {channels or 'an unusable number of'} channels; 1-{MAX_CHANNELS} are accepted."
            )
        samples = _decode_stream(container, stream, sniffed, max_duration_s)
    decoded_s = samples.size / SAMPLE_RATE
    # Checked before emptiness: a header promising 11 s that decodes to nothing is damaged, not empty.
    if declared_s is not None and declared_s > 0.5 and decoded_s < TRUNCATION_TOLERANCE * declared_s:
        raise CorruptAudioError(
            f"the audio is damaged or cut off: its header says {declared_s:.1f} s but only {decoded_s:.1f} s could "
            "be decoded. The upload was probably interrupted; send it again."
        )
    if samples.size == 0:
        raise EmptyAudioError("the audio decodes to zero samples (an empty recording). Record again and resend.")
    return Audio(samples=samples, source_format=source_format)


def _check_wav_header(data: bytes) -> None:
    """Read the RIFF header ourselves: ffmpeg guesses a cut-off wav's length from the file size (so a
    truncated upload would pass as a shorter clip) and reports absurd channel counts as 0."""
    if data[8:12] == b"WEBP":
        raise NotAudioError("this upload is a WebP image, not audio. Send wav, flac, ogg, webm, mp3 or m4a.")
    if data[8:12] != b"WAVE":
        return  # another RIFF container (e.g. AVI): let ffmpeg judge it
    position = 12
    while position + 8 <= len(data):
        chunk_id, size = data[position : position + 4], struct.unpack_from("<I", data, position + 4)[0]
        body = position + 8
        if chunk_id == b"fmt " and size >= 8 and body + 8 <= len(data):
            channels, rate = struct.unpack_from("<HI", data, body + 2)
            if not 1 <= channels <= MAX_CHANNELS:
                raise InvalidAudioFormatError(
                    f"the wav header declares {channels} channels; 1-{MAX_CHANNELS} are accepted."
                )
            if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
                raise InvalidAudioFormatError(
                    f"the wav header declares {rate} Hz; {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz are accepted."
                )
        if chunk_id == b"data":
            available = len(data) - body
            if size not in _UNKNOWN_SIZES and available < TRUNCATION_TOLERANCE * size:
                raise CorruptAudioError(
                    f"the wav audio is cut off: its header promises {size:,} bytes of samples but only {available:,} "
                    "arrived. The upload was probably interrupted; send it again."
                )
            return
        position = body + size + (size & 1)  # chunks are padded to an even length


def _declared_duration(container: Any, stream: Any) -> float | None:  # PyAV objects (imported lazily)
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000  # microseconds (AV_TIME_BASE)
    return None


def _decode_stream(container: Any, stream: Any, sniffed: str, max_duration_s: float) -> np.ndarray:
    import av

    # ffmpeg's resampler also downmixes to mono (averaging channels with its standard matrix).
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    limit = int((max_duration_s + 0.5) * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    total = 0
    try:
        for frame in container.decode(stream):
            if frame.sample_rate < MIN_SAMPLE_RATE or frame.sample_rate > MAX_SAMPLE_RATE:
                raise InvalidAudioFormatError(
                    f"the audio's sample rate is {frame.sample_rate} Hz; "
                    f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz are accepted."
                )
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
                total += out.samples
            if total > limit:  # a stream without a declared duration: stop decoding as soon as it is too long
                raise AudioTooLongError(
                    f"the clip is longer than the {max_duration_s:.0f} s limit. Send a shorter clip."
                )
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    except av.error.FFmpegError as e:
        if total == 0:
            raise CorruptAudioError(f"the {sniffed} audio is damaged and cannot be decoded ({e}). Record again.") from e
        raise CorruptAudioError(
            f"the {sniffed} audio breaks off after {total / SAMPLE_RATE:.1f} s ({e}); it is damaged or cut off. "
            "Send it again."
        ) from e
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.clip(np.concatenate(chunks).astype(np.float32, copy=False), -1.0, 1.0)


def _from_array(payload: tuple[int, np.ndarray], *, max_duration_s: float) -> Audio:
    """Gradio microphone payload: (sample_rate, int16/int32/float array), mono (n,) or (n, channels)."""
    if len(payload) != 2:
        raise InvalidAudioFormatError("microphone audio must be a (sample_rate, samples) pair.")
    rate, array = payload
    if not isinstance(rate, int | np.integer) or not MIN_SAMPLE_RATE <= int(rate) <= MAX_SAMPLE_RATE:
        raise InvalidAudioFormatError(
            f"sample rate {rate!r} Hz is outside {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz; the recorder is misconfigured."
        )
    rate = int(rate)
    array = np.asarray(array)
    if array.ndim == 2 and array.shape[0] <= MAX_CHANNELS < array.shape[1]:
        array = array.T  # channel-first (soundfile/torchaudio style): make it (samples, channels)
    if array.ndim not in (1, 2) or (array.ndim == 2 and not 1 <= array.shape[1] <= MAX_CHANNELS):
        raise InvalidAudioFormatError(
            f"microphone audio of shape {array.shape} is not (samples,) or (samples, channels<= {MAX_CHANNELS})."
        )
    if array.shape[0] == 0:
        raise EmptyAudioError("the recording is empty (zero samples). Hold the record button while speaking.")
    if array.shape[0] / rate > max_duration_s + 0.5:
        raise AudioTooLongError(
            f"the clip is {array.shape[0] / rate:.0f} s long; the limit is {max_duration_s:.0f} s. Send a shorter clip."
        )
    samples = _to_float(array)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if rate != SAMPLE_RATE:
        samples = _resample(samples, rate)
    return Audio(samples=np.ascontiguousarray(samples, dtype=np.float32), source_format=f"pcm/{array.dtype}@{rate}")


def _to_float(array: np.ndarray) -> np.ndarray:
    kind = array.dtype.kind
    if kind == "i":
        return array.astype(np.float32) / float(np.iinfo(array.dtype).max + 1)
    if kind == "u":
        info = np.iinfo(array.dtype)
        middle = (info.max + 1) / 2
        return (array.astype(np.float32) - middle) / middle
    if kind == "f":
        if not np.isfinite(array).all():
            raise CorruptAudioError("the recording contains NaN or infinite samples; record again.")
        return np.clip(array.astype(np.float32), -1.0, 1.0)
    raise InvalidAudioFormatError(f"samples of type {array.dtype} are not audio; expected int16, int32 or float.")


def _resample(samples: np.ndarray, rate: int) -> np.ndarray:
    """Resample mono float32 with ffmpeg's resampler (the same one file uploads go through)."""
    import av

    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
