"""Pre-quantize a float CTranslate2 Whisper model to int8 once, so each process start skips that work.

Loading the pack's float16 `base` with compute_type="int8" makes CTranslate2 quantize every linear
layer on every start: ~1.3 CPU-seconds of the "< 3 s to first transcript" budget. Writing the int8
weights once (the same per-row scheme CTranslate2's converter uses: scale = 127 / max|row|, rounded)
makes the load ~6x cheaper. The result is checked against runtime quantization before it is cached
(identical encoder output on a fixed signal), and its sha256 is recorded and checked on every load.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import numpy as np

from speech import ct2_format
from speech.errors import ModelIntegrityError
from speech.model_pack import sha256_file, verify_sha256

# What CTranslate2 itself quantizes for int8 on CPU: linear layers and the (tied) token embeddings.
# Convolutions stay float: quantizing them too changed transcripts, so it is not what the runtime does.
_QUANTIZED_SUFFIXES = ("/linear_0/weight", "/linear_1/weight", "/linear_2/weight", "/embeddings/weight")
_VERSION = 1  # bump when the scheme changes, so stale cached files are rebuilt
_lock = threading.Lock()


def quantize(model: ct2_format.Ct2Model) -> ct2_format.Ct2Model:
    variables: dict[str, np.ndarray] = {}
    for name, array in model.variables.items():
        if not (name.endswith(_QUANTIZED_SUFFIXES) and array.ndim == 2 and array.dtype.kind == "f"):
            variables[name] = array
            continue
        rows = array.astype(np.float32)
        amax = np.abs(rows).max(axis=1)
        amax[amax == 0] = 127.0
        scale = (127.0 / amax).astype(np.float32)
        variables[name] = np.rint(rows * scale[:, None]).astype(np.int8)
        variables[f"{name}_scale"] = scale
    aliases = list(model.aliases)
    for alias, target in model.aliases:  # a tied weight needs its scale tied too
        if f"{target}_scale" in variables:
            aliases.append((f"{alias}_scale", f"{target}_scale"))
    return ct2_format.Ct2Model(model.spec, model.revision, dict(sorted(variables.items())), aliases)


def _check(source_dir: Path, quantized_dir: Path) -> None:
    """The cached file must compute exactly what CTranslate2's own int8 quantization computes."""
    import ctranslate2
    from faster_whisper.feature_extractor import FeatureExtractor

    from speech.ct2_to_openai import reference_signal

    mel = FeatureExtractor()(reference_signal())[None, :, :3000].astype(np.float32)
    features = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel))
    outputs = [
        np.array(ctranslate2.models.Whisper(str(folder), device="cpu", compute_type="int8").encode(features))
        for folder in (source_dir, quantized_dir)
    ]
    if not np.array_equal(outputs[0], outputs[1]):
        raise ModelIntegrityError("pre-quantized int8 weights differ from CTranslate2's own quantization.")


def int8_model_dir(source_dir: Path, cache_dir: Path, key: str) -> Path:
    """A verified int8 copy of the float CTranslate2 model in source_dir, built on first use (seconds)."""
    target = cache_dir / "ct2-int8" / f"{key}-v{_VERSION}"
    model_bin, recorded = target / "model.bin", target / "model.bin.sha256"
    with _lock:
        if not (model_bin.is_file() and recorded.is_file()):
            _build(source_dir, target)
        verify_sha256(model_bin, recorded.read_text().strip())
    return target


def _build(source_dir: Path, target: Path) -> None:
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        ct2_format.write(tmp / "model.bin", quantize(ct2_format.read(source_dir / "model.bin")))
        for name in ("config.json", "tokenizer.json", "vocabulary.txt", "preprocessor_config.json"):
            if (source_dir / name).is_file():
                shutil.copyfile(source_dir / name, tmp / name)
        _check(source_dir, tmp)
        (tmp / "model.bin.sha256").write_text(sha256_file(tmp / "model.bin"))
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)  # only a checked copy ever gets the final name
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
