"""`findesk transcribe FILE` and `findesk eval asr MANIFEST.jsonl`: speech from the terminal."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from speech.config import SpeechConfig
from speech.errors import SpeechError
from ui.cli_output import fail

Engine = Annotated[str | None, typer.Option("--engine", help="'faster-whisper' (default) or 'openai-whisper'.")]
Model = Annotated[str | None, typer.Option("--model", help="'base', 'tiny.en', a hub id or a local path.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]
Prompt = Annotated[str | None, typer.Option("--prompt", help="Bias vocabulary, e.g. 'IBAN, SWIFT, chargeback'.")]


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add this module's commands to the root app and the `eval` group."""
    app.command("transcribe")(transcribe)
    eval_app.command("asr")(eval_asr)


def _speech_config(engine: str | None, model: str | None) -> SpeechConfig:
    """Settings' speech section (environment, TOML) with the CLI flags on top."""
    from agent.settings import load_settings

    config = load_settings().speech
    overrides = {key: value for key, value in (("engine", engine), ("model", model)) if value is not None}
    return config.model_copy(update=overrides) if overrides else config


def transcribe(
    file: Annotated[Path, typer.Argument(help="Audio file: wav, flac, ogg/opus, webm, mp3, m4a.", dir_okay=False)],
    engine: Engine = None,
    model: Model = None,
    prompt: Prompt = None,
    as_json: AsJson = False,
) -> None:
    """Transcribe one audio file (language auto-detected among the configured ones)."""
    from speech.audio import decode_audio
    from speech.transcriber import load_transcriber

    try:
        config = _speech_config(engine, model)
        if not file.is_file():
            raise SpeechError(f"audio file {file} not found.")
        audio = decode_audio(file, max_duration_s=config.max_duration_s, max_bytes=config.max_bytes)
        transcriber = load_transcriber(config)
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True, disable=as_json
        ) as progress:
            progress.add_task(f"transcribing {audio.duration_s:.1f} s with {config.engine} ({config.model})")
            transcript = transcriber.transcribe(audio, prompt=prompt)
    except SpeechError as e:
        raise fail(e, as_json=as_json) from e
    if as_json:
        print(json.dumps(dataclasses.asdict(transcript), ensure_ascii=False))
        return
    print(transcript.text)
    timings = ", ".join(f"{k} {v:.0f} ms" for k, v in transcript.timings_ms.items())
    where = f"{transcript.engine} {transcript.model}"
    Console(stderr=True).print(f"[dim]{transcript.language}, {transcript.duration_s:.1f} s, {where}; {timings}[/dim]")


def eval_asr(
    manifest: Annotated[Path, typer.Argument(help="JSONL: {file, lang: en|zh, transcript}; file relative to it.")],
    engine: Engine = None,
    model: Model = None,
    prompt: Prompt = None,
    as_json: AsJson = False,
) -> None:
    """WER (English), CER (Chinese), real-time factor and peak memory on a labelled manifest.

    A clip that cannot be transcribed is reported with its error and counted as fully wrong; the run goes on,
    and the exit code is 1 when any clip failed.
    """
    from speech.evaluation import evaluate, load_manifest
    from speech.transcriber import load_transcriber

    try:
        config = _speech_config(engine, model)
        items = load_manifest(manifest)
        transcriber = load_transcriber(config)
        with Progress(transient=True, disable=as_json) as progress:
            task = progress.add_task(f"{config.engine} ({config.model})", total=len(items))
            report = evaluate(
                transcriber,
                items,
                model=config.model,
                prompt=prompt,
                max_duration_s=config.max_duration_s,
                on_clip=lambda _clip: progress.advance(task),
            )
    except SpeechError as e:
        raise fail(e, as_json=as_json) from e
    if as_json:
        print(json.dumps(_report_json(report), ensure_ascii=False))
    else:
        _print_report(report)
    if report.failures:
        raise typer.Exit(1)


def _print_report(report: Any) -> None:
    table = Table(title=f"ASR: {report.engine} ({report.model})", title_justify="left")
    for column in ("file", "lang", "error", "RTF", "hypothesis"):
        table.add_column(column)
    for clip in report.clips:
        metric = "WER" if clip.lang == "en" else "CER"
        hypothesis = f"[red]FAILED {clip.error}[/red]" if clip.error else clip.hypothesis
        table.add_row(clip.file, clip.lang, f"{metric} {clip.error_rate:.1%}", f"{clip.rtf:.3f}", hypothesis)
    console = Console()
    console.print(table)
    console.print(_summary(report))
    if report.failures:
        console.print(
            f"[red]{len(report.failures)} of {len(report.clips)} clips failed (counted as fully wrong): "
            + ", ".join(c.file for c in report.failures)
            + "[/red]"
        )


def _fmt(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.1%}"


def _summary(report: Any) -> str:
    return (
        f"WER (en) {_fmt(report.wer_en)}  CER (zh) {_fmt(report.cer_zh)}  RTF {report.rtf:.3f}  "
        f"first transcription (incl. load) {report.first_transcription_s:.2f} s  peak RSS {report.peak_rss_mb:.0f} MB"
    )


def _report_json(report: Any) -> dict[str, Any]:
    data = dataclasses.asdict(report)
    data["failures"] = [{"file": c.file, "error": c.error} for c in report.failures]
    for clip in data["clips"]:
        clip["file"] = str(clip["file"])
    return data
