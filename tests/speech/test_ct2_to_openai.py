"""CTranslate2 -> openai-whisper conversion: lossless mapping, verified before caching, tampering caught."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech.ct2_to_openai import ct2_to_state_dict, openai_checkpoint, read_ct2_model, verify_conversion
from speech.errors import ModelIntegrityError
from speech.model_pack import resolve_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    ct2_dir = resolve_model("tiny.en").ct2_dir
    return ct2_dir, openai_checkpoint(ct2_dir, tmp_path_factory.mktemp("speech-cache"), "tiny.en-test")


def test_mapping_covers_every_openai_whisper_parameter(tiny_checkpoint: tuple[Path, Path]) -> None:
    import torch
    import whisper

    ct2_dir, checkpoint = tiny_checkpoint
    dims, state = ct2_to_state_dict(read_ct2_model(ct2_dir / "model.bin"))
    assert dims == {
        "n_mels": 80,
        "n_audio_ctx": 1500,
        "n_audio_state": 384,
        "n_audio_head": 6,
        "n_audio_layer": 4,
        "n_vocab": 51864,
        "n_text_ctx": 448,
        "n_text_state": 384,
        "n_text_head": 6,
        "n_text_layer": 4,
    }
    expected = whisper.model.Whisper(whisper.model.ModelDimensions(**dims)).state_dict()
    assert set(state) == set(expected)
    assert all(tuple(state[k].shape) == tuple(expected[k].shape) for k in expected)
    loaded = torch.load(checkpoint, weights_only=True)
    assert set(loaded) >= {"dims", "model_state_dict"}
    assert checkpoint.name.endswith(".pt") and not list(checkpoint.parent.glob("*.tmp"))


def test_cached_conversion_is_reused(tiny_checkpoint: tuple[Path, Path]) -> None:
    ct2_dir, checkpoint = tiny_checkpoint
    mtime = checkpoint.stat().st_mtime_ns
    assert openai_checkpoint(ct2_dir, checkpoint.parent.parent, "tiny.en-test") == checkpoint
    assert checkpoint.stat().st_mtime_ns == mtime


def test_a_wrong_mapping_is_caught(tiny_checkpoint: tuple[Path, Path], tmp_path: Path) -> None:
    import torch

    ct2_dir, checkpoint = tiny_checkpoint
    broken = torch.load(checkpoint, weights_only=True)
    weights = broken["model_state_dict"]
    # The classic conversion bug: query and key swapped in one layer.
    q, k = "decoder.blocks.1.attn.query.weight", "decoder.blocks.1.attn.key.weight"
    weights[q], weights[k] = weights[k].clone(), weights[q].clone()
    torch.save(broken, tmp_path / "broken.pt")
    with pytest.raises(ModelIntegrityError, match="disagrees|differs"):
        verify_conversion(ct2_dir, tmp_path / "broken.pt")


def test_quantized_or_foreign_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(np.array([6], "<u4").tobytes() + b"\x10\x00TransformerSpec\x00" + bytes(12))
    with pytest.raises(ModelIntegrityError, match="not a Whisper model"):
        read_ct2_model(tmp_path / "model.bin")
