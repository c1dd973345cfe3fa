"""CTranslate2 file format round trip and the cached int8 copy that makes faster-whisper start quicker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech import ct2_format
from speech.ct2_int8 import int8_model_dir, quantize
from speech.errors import ModelIntegrityError
from speech.model_pack import resolve_model


def _tiny_model() -> ct2_format.Ct2Model:
    rng = np.random.default_rng(0)
    return ct2_format.Ct2Model(
        spec="WhisperSpec",
        revision=3,
        variables={
            "decoder/embeddings/weight": rng.normal(size=(6, 4)).astype(np.float16),
            "decoder/layer_0/ffn/linear_0/weight": rng.normal(size=(3, 4)).astype(np.float16),
            "decoder/layer_0/ffn/linear_0/bias": rng.normal(size=3).astype(np.float16),
            "encoder/conv1/weight": rng.normal(size=(2, 3, 3)).astype(np.float16),
            "decoder/num_heads": np.array(8, dtype=np.int16),
        },
        aliases=[("decoder/projection/weight", "decoder/embeddings/weight")],
    )


def test_format_round_trip(tmp_path: Path) -> None:
    model = _tiny_model()
    ct2_format.write(tmp_path / "model.bin", model)
    again = ct2_format.read(tmp_path / "model.bin")
    assert (again.spec, again.revision, again.aliases) == (model.spec, model.revision, model.aliases)
    assert list(again.variables) == list(model.variables)
    for name, array in model.variables.items():
        assert again.variables[name].dtype == array.dtype and np.array_equal(again.variables[name], array)
    assert again.resolved()["decoder/projection/weight"] is again.variables["decoder/embeddings/weight"]


def test_real_pack_file_round_trips_byte_for_byte(tmp_path: Path) -> None:
    source = resolve_model("tiny.en").ct2_dir / "model.bin"
    ct2_format.write(tmp_path / "model.bin", ct2_format.read(source))
    assert (tmp_path / "model.bin").read_bytes() == source.read_bytes()


def test_quantize_linear_and_embeddings_per_row() -> None:
    model = _tiny_model()
    quantized = quantize(model).variables
    weight, scale = (
        quantized["decoder/layer_0/ffn/linear_0/weight"],
        quantized["decoder/layer_0/ffn/linear_0/weight_scale"],
    )
    assert weight.dtype == np.int8 and scale.shape == (3,) and np.abs(weight).max(axis=1).tolist() == [127] * 3
    original = model.variables["decoder/layer_0/ffn/linear_0/weight"].astype(np.float32)
    assert np.allclose(weight / scale[:, None], original, atol=np.abs(original).max() / 127)
    assert quantized["decoder/embeddings/weight"].dtype == np.int8
    assert quantized["encoder/conv1/weight"].dtype == np.float16  # CTranslate2 keeps convolutions float
    assert quantized["decoder/layer_0/ffn/linear_0/bias"].dtype == np.float16
    assert ("decoder/projection/weight_scale", "decoder/embeddings/weight_scale") in quantize(model).aliases


def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"\x06\x00\x00\x00\xff")
    with pytest.raises(ModelIntegrityError, match="not a readable CTranslate2 model"):
        ct2_format.read(tmp_path / "model.bin")


@pytest.mark.slow
def test_int8_cache_is_checked_and_tamper_evident(tmp_path: Path) -> None:
    source = resolve_model("tiny.en").ct2_dir
    folder = int8_model_dir(source, tmp_path, "tiny.en-test")  # built and compared with runtime quantization
    assert ct2_format.read(folder / "model.bin").variables["decoder/embeddings/weight"].dtype == np.int8
    with (folder / "model.bin").open("r+b") as f:
        f.seek(2_000_000)
        f.write(b"\x00\x01\x02\x03")
    import speech.model_pack as pack

    pack._verified.clear()  # a new process would hash the file again
    with pytest.raises(ModelIntegrityError):
        int8_model_dir(source, tmp_path, "tiny.en-test")
