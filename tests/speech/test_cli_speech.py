"""`findesk transcribe` and `findesk eval asr` through typer's CliRunner (tiny.en keeps them quick)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ui.cli import app

runner = CliRunner()


@pytest.mark.slow
def test_transcribe_json(audio_dir: Path) -> None:
    result = runner.invoke(app, ["transcribe", str(audio_dir / "whisper_jfk.flac"), "--model", "tiny.en", "--json"])
    assert result.exit_code == 0, result.output
    transcript = json.loads(result.stdout)
    assert "ask not what your country can do for you" in transcript["text"].lower()
    assert transcript["language"] == "en" and transcript["engine"] == "faster-whisper"
    assert transcript["segments"][0]["start"] == 0.0


@pytest.mark.slow
def test_transcribe_plain_text(audio_dir: Path) -> None:
    result = runner.invoke(
        app, ["transcribe", str(audio_dir / "speech_recognition_english_one_two_three.wav"), "--model", "tiny.en"]
    )
    assert result.exit_code == 0, result.output
    assert "3" in result.stdout or "three" in result.stdout.lower()


@pytest.mark.slow
def test_eval_asr_json(audio_dir: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.jsonl"
    lines = [
        {
            "file": str(audio_dir / "speech_recognition_english_one_two_three.wav"),
            "lang": "en",
            "transcript": "one two three",
        },
        {
            "file": str(audio_dir / "picovoice_leopard_test_librispeech_mr_quilter.wav"),
            "lang": "en",
            "transcript": "Mr. Quilter is the apostle of the middle classes and we are glad to welcome his gospel.",
        },
    ]
    manifest.write_text("\n".join(json.dumps(line) for line in lines))
    result = runner.invoke(app, ["eval", "asr", str(manifest), "--model", "tiny.en", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["engine"] == "faster-whisper" and len(report["clips"]) == 2
    assert report["wer_en"] <= 0.1 and report["cer_zh"] is None
    assert report["rtf"] > 0 and report["peak_rss_mb"] > 50 and report["first_transcription_s"] > 0
    table = runner.invoke(app, ["eval", "asr", str(manifest), "--model", "tiny.en"])
    assert table.exit_code == 0 and "WER (en)" in table.stdout


def test_errors_are_reported_not_raised(tmp_path: Path) -> None:
    text = tmp_path / "note.wav"
    text.write_text("not audio at all, just a note\n" * 10)
    result = runner.invoke(app, ["transcribe", str(text), "--json"])
    assert result.exit_code == 1 and "text file" in json.loads(result.stdout)["error"]
    result = runner.invoke(app, ["transcribe", str(tmp_path / "missing.wav"), "--json"])
    assert result.exit_code == 1 and "not found" in json.loads(result.stdout)["error"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"file": "x.wav"}\n')
    result = runner.invoke(app, ["eval", "asr", str(bad), "--json"])
    assert result.exit_code == 1 and "bad.jsonl:1" in json.loads(result.stdout)["error"]


def test_unknown_engine(audio_dir: Path) -> None:
    result = runner.invoke(app, ["transcribe", str(audio_dir / "whisper_jfk.flac"), "--engine", "nope", "--json"])
    assert result.exit_code == 1
    assert "faster-whisper, openai-whisper" in json.loads(result.stdout)["error"]


@pytest.mark.slow
def test_eval_asr_goes_on_past_failing_clips(audio_dir: Path, tmp_path: Path) -> None:
    """A silent clip and a text file posing as audio are reported with their errors; the good clip is scored."""
    import numpy as np

    from tests.speech.conftest import encode

    (tmp_path / "silence.wav").write_bytes(encode(np.zeros(16_000, np.float32), 16_000, "wav", "pcm_s16le"))
    (tmp_path / "notes.wav").write_text("not audio at all")
    lines = [
        {"file": "silence.wav", "lang": "en", "transcript": "hello there"},
        {"file": "notes.wav", "lang": "zh", "transcript": "你好"},
        {"file": str(audio_dir / "speech_recognition_english_one_two_three.wav"), "lang": "en",
         "transcript": "one two three"},
    ]  # fmt: skip
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("\n".join(json.dumps(line) for line in lines))
    result = runner.invoke(app, ["eval", "asr", str(manifest), "--model", "tiny.en", "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert [c["error"] != "" for c in report["clips"]] == [True, True, False]
    assert report["failures"][0]["file"] == "silence.wav" and "silent" in report["failures"][0]["error"]
    assert "NotAudioError" in report["failures"][1]["error"]
    good = report["clips"][2]
    assert good["errors"] == 0 and good["rtf"] > 0
    assert report["wer_en"] == 2 / 3  # the silent clip's two words missed; "one two three" scores as one ("123")
    assert report["cer_zh"] == 1.0
    table = runner.invoke(app, ["eval", "asr", str(manifest), "--model", "tiny.en"])
    assert table.exit_code == 1 and "2 of 3 clips failed" in table.stdout and "FAILED" in table.stdout
