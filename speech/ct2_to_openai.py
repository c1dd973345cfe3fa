"""Convert a CTranslate2 Whisper `model.bin` into an openai-whisper checkpoint, verify it, cache it.

The offline pack only ships CTranslate2 weights, while openai-whisper loads `{"dims", "model_state_dict"}`
checkpoints. The mapping is lossless (the same float16 tensors under other names; q, k, v are stacked
in CTranslate2 and split here). Every conversion is checked before it is cached: the converted model's
encoder output and its greedy decoding of a fixed test signal must match CTranslate2 running the
original file, so a wrong mapping can never be cached silently.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np

from speech import ct2_format
from speech.errors import ModelIntegrityError

_CONVERTER_VERSION = 1  # bump when the mapping changes, so stale cached checkpoints are rebuilt
_lock = threading.Lock()


def read_ct2_model(path: Path) -> dict[str, np.ndarray]:
    """CTranslate2 model.bin as named arrays (aliases resolved); refuses non-Whisper files."""
    model = ct2_format.read(path)
    if model.spec != "WhisperSpec":
        raise ModelIntegrityError(f"{path} holds a {model.spec}, not a Whisper model.")
    return model.resolved()


def _block(src: dict[str, np.ndarray], ct2: str, ow: str, cross: bool) -> dict[str, np.ndarray]:
    """One residual block. CTranslate2 stacks q|k|v (self) and k|v (cross); openai-whisper's key has no bias."""
    out: dict[str, np.ndarray] = {}

    def ln(ct2_name: str, ow_name: str) -> None:
        out[f"{ow}.{ow_name}.weight"] = src[f"{ct2}/{ct2_name}/gamma"]
        out[f"{ow}.{ow_name}.bias"] = src[f"{ct2}/{ct2_name}/beta"]

    def linear(ct2_name: str, ow_name: str, bias: bool = True) -> None:
        out[f"{ow}.{ow_name}.weight"] = src[f"{ct2}/{ct2_name}/weight"]
        if bias:
            out[f"{ow}.{ow_name}.bias"] = src[f"{ct2}/{ct2_name}/bias"]

    q, k, v = np.split(src[f"{ct2}/self_attention/linear_0/weight"], 3)
    qb, _, vb = np.split(src[f"{ct2}/self_attention/linear_0/bias"], 3)
    out |= {
        f"{ow}.attn.query.weight": q,
        f"{ow}.attn.query.bias": qb,
        f"{ow}.attn.key.weight": k,
        f"{ow}.attn.value.weight": v,
        f"{ow}.attn.value.bias": vb,
    }
    linear("self_attention/linear_1", "attn.out")
    ln("self_attention/layer_norm", "attn_ln")
    if cross:
        linear("attention/linear_0", "cross_attn.query")
        k, v = np.split(src[f"{ct2}/attention/linear_1/weight"], 2)
        _, vb = np.split(src[f"{ct2}/attention/linear_1/bias"], 2)
        out |= {f"{ow}.cross_attn.key.weight": k, f"{ow}.cross_attn.value.weight": v, f"{ow}.cross_attn.value.bias": vb}
        linear("attention/linear_2", "cross_attn.out")
        ln("attention/layer_norm", "cross_attn_ln")
    linear("ffn/linear_0", "mlp.0")
    linear("ffn/linear_1", "mlp.2")
    ln("ffn/layer_norm", "mlp_ln")
    return out


def ct2_to_state_dict(src: dict[str, np.ndarray]) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """openai-whisper's (dims, state_dict) for CTranslate2 arrays, as numpy (float16 stays float16)."""
    n_audio_layer = sum(1 for k in src if k.startswith("encoder/layer_") and k.endswith("ffn/linear_0/weight"))
    n_text_layer = sum(1 for k in src if k.startswith("decoder/layer_") and k.endswith("ffn/linear_0/weight"))
    n_vocab, n_text_state = src["decoder/embeddings/weight"].shape
    dims = {
        "n_mels": int(src["encoder/conv1/weight"].shape[1]),
        "n_audio_ctx": int(src["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(src["encoder/conv1/weight"].shape[0]),
        "n_audio_head": int(src["encoder/num_heads"]),
        "n_audio_layer": n_audio_layer,
        "n_vocab": int(n_vocab),
        "n_text_ctx": int(src["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(n_text_state),
        "n_text_head": int(src["decoder/num_heads"]),
        "n_text_layer": n_text_layer,
    }
    state: dict[str, np.ndarray] = {}
    for conv in ("conv1", "conv2"):
        state[f"encoder.{conv}.weight"] = src[f"encoder/{conv}/weight"]
        state[f"encoder.{conv}.bias"] = src[f"encoder/{conv}/bias"]
    state["encoder.positional_embedding"] = src["encoder/position_encodings/encodings"]
    state["encoder.ln_post.weight"] = src["encoder/layer_norm/gamma"]
    state["encoder.ln_post.bias"] = src["encoder/layer_norm/beta"]
    for i in range(n_audio_layer):
        state |= _block(src, f"encoder/layer_{i}", f"encoder.blocks.{i}", cross=False)
    state["decoder.token_embedding.weight"] = src["decoder/embeddings/weight"]
    state["decoder.positional_embedding"] = src["decoder/position_encodings/encodings"]
    state["decoder.ln.weight"] = src["decoder/layer_norm/gamma"]
    state["decoder.ln.bias"] = src["decoder/layer_norm/beta"]
    for i in range(n_text_layer):
        state |= _block(src, f"decoder/layer_{i}", f"decoder.blocks.{i}", cross=True)
    return dims, state


def reference_signal() -> np.ndarray:
    """4 s of deterministic, speech-like sound (harmonics with a moving pitch): a fixed input to compare on."""
    t = np.arange(4 * 16_000) / 16_000
    pitch = 140 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / 16_000
    signal = sum(np.sin(k * phase) / k for k in range(1, 8)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return (0.1 * signal).astype(np.float32)


def verify_conversion(ct2_dir: Path, checkpoint: Path) -> None:
    """Raise ModelIntegrityError unless the checkpoint computes what CTranslate2 computes from ct2_dir."""
    import ctranslate2
    import torch
    import whisper

    model = whisper.load_model(str(checkpoint), device="cpu")
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(reference_signal()), n_mels=model.dims.n_mels)
    ct2 = ctranslate2.models.Whisper(str(ct2_dir), device="cpu", compute_type="float32")
    features = ctranslate2.StorageView.from_array(mel.numpy()[None].astype(np.float32))
    ct2_encoded = np.array(ct2.encode(features, to_cpu=True))
    with torch.no_grad():
        encoded = model.encoder(mel[None])
    scale = float(np.abs(ct2_encoded).max())
    error = float(np.abs(encoded.numpy() - ct2_encoded).max()) / scale
    if error > 1e-3:
        raise ModelIntegrityError(f"converted encoder differs from CTranslate2 (relative error {error:.2e}).")
    # Greedy decoding from the same start tokens must pick the same tokens (teacher-forced in torch).
    tokenizer = whisper.tokenizer.get_tokenizer(
        model.is_multilingual, num_languages=model.num_languages, language="en", task="transcribe"
    )
    prompt = list(tokenizer.sot_sequence_including_notimestamps)
    result = ct2.generate(features, [prompt], beam_size=1, max_length=24, suppress_blank=False, suppress_tokens=[])
    generated = [t for t in result[0].sequences_ids[0] if t != tokenizer.eot]
    with torch.no_grad():
        logits = model.decoder(torch.tensor([prompt + generated]), encoded)
    predicted = logits[0, len(prompt) - 1 : -1].argmax(-1).tolist() if generated else []
    if predicted != generated:
        raise ModelIntegrityError(f"converted decoder disagrees with CTranslate2: {predicted} vs {generated}.")


def openai_checkpoint(ct2_dir: Path, cache_dir: Path, key: str) -> Path:
    """Path of the verified openai-whisper checkpoint for ct2_dir, converting it on first use (seconds)."""
    import torch

    target = cache_dir / "openai-whisper" / f"{key}-v{_CONVERTER_VERSION}.pt"
    with _lock:
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        dims, state = ct2_to_state_dict(read_ct2_model(ct2_dir / "model.bin"))
        config = json.loads((ct2_dir / "config.json").read_text())
        tensors = {name: torch.from_numpy(np.array(array)) for name, array in state.items()}
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        try:
            torch.save(
                {"dims": dims, "model_state_dict": tensors, "alignment_heads": config.get("alignment_heads")}, tmp
            )
            verify_conversion(ct2_dir, tmp)
            os.replace(tmp, target)  # only a verified checkpoint ever gets the final name
        finally:
            tmp.unlink(missing_ok=True)
    return target
