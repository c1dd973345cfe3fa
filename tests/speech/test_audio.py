"""Decoding: every format a browser or phone sends, Gradio microphone tuples, and every bad input refused."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from speech.audio import decode_audio, sniff_format
from speech.errors import (
    AudioTooLargeError,
    AudioTooLongError,
    CorruptAudioError,
    EmptyAudioError,
    InvalidAudioFormatError,
    NotAudioError,
)
from speech.types import SAMPLE_RATE
from tests.speech.conftest import encode, tone


def dominant_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.argmax(spectrum) * SAMPLE_RATE / len(samples))


def wav_bytes(samples: np.ndarray, rate: int = 16_000, channels: int = 1) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((samples * 32767).astype(np.int16).tobytes())
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("container", "codec", "expected"),
    [
        ("wav", "pcm_s16le", "wav"),
        ("flac", "flac", "flac"),
        ("ogg", "libopus", "ogg"),
        ("webm", "libopus", "webm"),
        ("mp3", "libmp3lame", "mp3"),
        ("ipod", "aac", "mp4"),  # .m4a
    ],
)
def test_browser_and_phone_formats_decode_to_16k_mono(container: str, codec: str, expected: str) -> None:
    data = encode(tone(1.0, 48_000, 440.0), 48_000, container, codec)
    assert sniff_format(data[:64]) == expected
    audio = decode_audio(data)
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.duration_s == pytest.approx(1.0, abs=0.06)  # encoders add a few ms of priming
    assert dominant_hz(audio.samples) == pytest.approx(440.0, abs=3.0)
    assert np.abs(audio.samples).max() <= 1.0


def test_stereo_file_is_downmixed(tmp_path: Path) -> None:
    data = encode(tone(0.5, 44_100, 1000.0), 44_100, "flac", "flac", layout="stereo")
    path = tmp_path / "stereo.flac"
    path.write_bytes(data)
    audio = decode_audio(path)  # Path input as well as bytes
    assert audio.duration_s == pytest.approx(0.5, abs=0.02)
    assert dominant_hz(audio.samples) == pytest.approx(1000.0, abs=3.0)


def test_format_is_judged_by_content_not_name(tmp_path: Path) -> None:
    flac_named_wav = tmp_path / "voice.wav"
    flac_named_wav.write_bytes(encode(tone(0.5, 16_000), 16_000, "flac", "flac"))
    assert decode_audio(flac_named_wav).source_format.startswith("flac")
    png_named_wav = tmp_path / "voice2.wav"
    png_named_wav.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    with pytest.raises(NotAudioError, match="PNG image"):
        decode_audio(png_named_wav)


def test_gradio_microphone_int16_stereo_tuple() -> None:
    left = (tone(1.0, 44_100, 300.0) * 32767).astype(np.int16)
    stereo = np.stack([left, left], axis=1)  # Gradio: (samples, channels)
    audio = decode_audio((44_100, stereo))
    assert audio.duration_s == pytest.approx(1.0, abs=0.01)
    assert dominant_hz(audio.samples) == pytest.approx(300.0, abs=3.0)
    assert 0.25 < np.abs(audio.samples).max() <= 0.31  # int16 scaled to [-1, 1]


def test_channel_first_and_float_tuples() -> None:
    channel_first = np.stack([tone(0.5, 16_000), tone(0.5, 16_000)])  # (2, n)
    assert decode_audio((16_000, channel_first)).duration_s == pytest.approx(0.5)
    assert decode_audio((np.int64(16_000), tone(0.5, 16_000).astype(np.float64))).samples.dtype == np.float32


def test_real_clips_decode(audio_dir: Path, manifest: list[dict]) -> None:
    for record in manifest:
        audio = decode_audio(audio_dir / record["file"])
        assert audio.duration_s == pytest.approx(record["duration_s"], abs=0.05)


# ---- every bad input gets its own specific, user-facing error -------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(EmptyAudioError, match="empty"):
        decode_audio(b"")
    (tmp_path / "empty.ogg").write_bytes(b"")
    with pytest.raises(EmptyAudioError):
        decode_audio(tmp_path / "empty.ogg")


def test_zero_length_audio() -> None:
    with pytest.raises(EmptyAudioError, match="zero samples"):
        decode_audio(wav_bytes(np.zeros(0)))
    with pytest.raises(EmptyAudioError, match="zero samples"):
        decode_audio((16_000, np.zeros(0, dtype=np.int16)))


def test_truncated_wav() -> None:
    data = wav_bytes(tone(2.0, 16_000))
    with pytest.raises(CorruptAudioError, match="cut off"):
        decode_audio(data[: len(data) // 3])


def test_truncated_flac(audio_dir: Path) -> None:
    data = (audio_dir / "whisper_jfk.flac").read_bytes()
    with pytest.raises(CorruptAudioError, match="damaged or cut off|breaks off"):
        decode_audio(data[: len(data) // 4])


@pytest.mark.parametrize("magic", [b"fLaC", b"OggS", b"RIFF", b"\x1a\x45\xdf\xa3", b"ID3"])
def test_corrupt_data_behind_audio_magic(magic: bytes) -> None:
    garbage = np.random.default_rng(0).bytes(4000)
    with pytest.raises(CorruptAudioError):
        decode_audio(magic + garbage)


def test_non_audio_files() -> None:
    with pytest.raises(NotAudioError, match="text file"):
        decode_audio(b"Dear bank, my card was charged twice.\n" * 20)
    with pytest.raises(NotAudioError, match="JPEG"):
        decode_audio(b"\xff\xd8\xff\xe0" + bytes(100))
    with pytest.raises(NotAudioError, match="WebP"):
        decode_audio(b"RIFF\x00\x01\x00\x00WEBPVP8 " + bytes(100))
    with pytest.raises(NotAudioError, match="not a recognised audio format"):
        decode_audio(bytes(range(7, 200)) * 3)


def test_video_without_audio_track_is_not_audio() -> None:
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="webm") as output:
        stream = output.add_stream("libvpx", rate=5)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 40, dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    with pytest.raises(NotAudioError, match="no audio track"):
        decode_audio(buffer.getvalue())


def test_too_long_clip() -> None:
    with pytest.raises(AudioTooLongError, match="limit is 2 s"):
        decode_audio(encode(tone(3.0, 16_000), 16_000, "flac", "flac"), max_duration_s=2.0)
    with pytest.raises(AudioTooLongError):
        decode_audio((16_000, np.zeros(16_000 * 130, dtype=np.int16)))  # default limit: 120 s


def test_too_large_upload(tmp_path: Path) -> None:
    data = wav_bytes(tone(1.0, 16_000))
    with pytest.raises(AudioTooLargeError):
        decode_audio(data, max_bytes=1000)
    (tmp_path / "big.wav").write_bytes(data)
    with pytest.raises(AudioTooLargeError):
        decode_audio(tmp_path / "big.wav", max_bytes=1000)


@pytest.mark.parametrize("rate", [1, 10_000_000, 0, -16_000, 16_000.5])
def test_absurd_sample_rates_in_tuples(rate: object) -> None:
    with pytest.raises(InvalidAudioFormatError, match="sample rate"):
        decode_audio((rate, np.zeros(16_000, dtype=np.int16)))  # type: ignore[arg-type]


@pytest.mark.parametrize("rate", [1, 10_000_000])
def test_absurd_sample_rates_in_wav_headers(rate: int) -> None:
    with pytest.raises(InvalidAudioFormatError, match=f"{rate} Hz"):
        decode_audio(wav_bytes(np.zeros(400), rate=rate))


def test_absurd_channel_counts() -> None:
    with pytest.raises(InvalidAudioFormatError, match="channels"):
        decode_audio((16_000, np.zeros((16_000, 64), dtype=np.int16)))
    with pytest.raises(InvalidAudioFormatError, match="channels"):
        decode_audio((16_000, np.zeros((100, 1000), dtype=np.int16)))
    with pytest.raises(InvalidAudioFormatError, match="shape"):
        decode_audio((16_000, np.zeros((10, 10, 10), dtype=np.int16)))
    with pytest.raises(InvalidAudioFormatError, match="1000 channels"):
        decode_audio(wav_bytes(np.zeros(1000 * 160), channels=1000))


def test_non_numeric_and_non_finite_samples() -> None:
    with pytest.raises(InvalidAudioFormatError, match="complex"):
        decode_audio((16_000, np.zeros(1000, dtype=np.complex64)))
    broken = tone(0.5, 16_000)
    broken[100] = np.nan
    with pytest.raises(CorruptAudioError, match="NaN"):
        decode_audio((16_000, broken))
    with pytest.raises(InvalidAudioFormatError, match="pair"):
        decode_audio((16_000, np.zeros(10), 3))  # type: ignore[arg-type]
