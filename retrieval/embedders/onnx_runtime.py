"""Run a sentence-transformers model's transformer in ONNX Runtime: the same vectors, ~3x faster per query.

Why: on 2 CPU cores all-MiniLM-L6-v2 embeds one query in ~16 ms in torch and ~6 ms in ONNX Runtime
(benchmarks/embedder_backends.py), and the query embedding was most of a search. The vectors are the same
(cosine to torch's >= 0.99999 on PROBES, checked on every load), so thresholds calibrated on torch vectors
hold. Passages embedded in batches cost the same either way (~4.5 ms each: compute-bound).

Tried and dropped, int8 (onnxruntime `quantize_dynamic`): 1.5x faster in batches, and banking77 hit@1
unchanged, but dynamic quantisation scales activations over the whole batch, so a text's vector depends on
the texts beside it (cosine 0.974 between "hi" alone and "hi" in a batch). One text at a time removes that
and the gain with it (4.6 ms a phrasing, no faster than float32 in batches of 32).

Why not sentence-transformers' own `backend="onnx"`: it loads through optimum-onnx, which pins
transformers < 4.58, and FinDesk runs transformers 5. So the transformer is exported with torch's own
exporter (`torch.onnx.export(dynamo=True)`), and tokenisation, pooling and normalisation stay the
sentence-transformers model's own modules. Only prompt-less models shaped [Transformer, Pooling,
(Normalize)] qualify; anything else runs in torch (see `SentenceTransformerEmbedder`).

The export takes ~15 s, so it is cached under the user cache dir, keyed by a hash of the exact weights,
the torch version and EXPORT_VERSION. A cached file is trusted only after it reproduces the torch vectors
on PROBES; a file that fails is exported again, and a file that fails straight after export is deleted,
never left in the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

EXPORT_VERSION = 1  # bump when the export changes, so stale cached files are not used
MIN_COSINE = 0.99999  # ONNX vs torch on every probe; float32 round-off is ~1e-7
PROBES = (
    "hi",
    "I lost my card yesterday and someone used it to buy things online, what should I do now?",
    "我的银行卡丢了怎么办",
    "SWIFT/IBAN transfer pending: error E-1042",
)
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class OnnxUnsupported(Exception):
    """This model cannot run in ONNX Runtime here; the caller falls back to torch and says why."""


def supports(model: Any) -> str | None:
    """None if `model` (a SentenceTransformer) can run through OnnxEncoder, else the reason it cannot."""
    names = [type(module).__name__ for module in model]
    if names[:2] != ["Transformer", "Pooling"] or any(name != "Normalize" for name in names[2:]):
        return f"modules {names} are not [Transformer, Pooling, (Normalize)]"
    if not hasattr(model, "tokenizer") or model.tokenizer is None:
        return "the model has no text tokenizer"
    if any((getattr(model, "prompts", None) or {}).values()):
        return "the model adds query/document prompts, which only its torch path applies"
    return None


class OnnxEncoder:
    """Texts -> unit vectors with the transformer in ONNX Runtime and the model's own tokenizer and pooling."""

    def __init__(self, model: Any, session: Any) -> None:
        self._model = model
        self._session = session
        self._inputs = [i.name for i in session.get_inputs()]
        self._tail = list(model)[1:]  # Pooling (+ Normalize): torch modules, run on the ONNX output

    def encode(self, texts: Sequence[str], *, batch_size: int) -> np.ndarray:
        import torch

        # Longest first, like SentenceTransformer.encode: batches of similar length waste less padding.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        rows: list[np.ndarray] = []
        for start in range(0, len(order), batch_size):
            batch = [texts[i] for i in order[start : start + batch_size]]
            features = self._model.tokenizer(
                batch, padding=True, truncation=True, max_length=self._model.max_seq_length, return_tensors="np"
            )
            feed = {name: features[name].astype(np.int64) for name in self._inputs}
            (hidden,) = self._session.run(["last_hidden_state"], feed)
            pooled: dict[str, Any] = {
                "token_embeddings": torch.from_numpy(hidden),
                "attention_mask": torch.from_numpy(feed["attention_mask"]),
            }
            with torch.inference_mode():
                for module in self._tail:
                    pooled = module(pooled)
            rows.append(pooled["sentence_embedding"].numpy())
        stacked = np.vstack(rows)  # callers never pass an empty list (SentenceTransformerEmbedder.embed)
        out = np.empty_like(stacked)
        out[order] = stacked  # back to the callers' order
        return out


def weights_key(model: Any) -> str:
    """A hash of the transformer's exact weights, the torch version and EXPORT_VERSION: the cache key."""
    import torch

    digest = hashlib.sha256(f"{torch.__version__}|{EXPORT_VERSION}".encode())
    for name, tensor in sorted(model[0].state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:24]


def load_encoder(model: Any, cache_dir: Path) -> OnnxEncoder:
    """An OnnxEncoder for `model`, exporting it into `cache_dir` first if no verified file is there.

    Raises OnnxUnsupported when the model cannot be exported or its ONNX vectors differ from torch's.
    """
    reason = supports(model)
    if reason:
        raise OnnxUnsupported(reason)
    path = Path(cache_dir) / "onnx" / f"{weights_key(model)}.onnx"
    if path.is_file():
        try:
            return _verified(model, path)
        except OnnxUnsupported as error:
            log.warning("cached ONNX model %s is unusable (%s); exporting it again", path, error)
    log.info("exporting the embedder to ONNX once (~15 s on 2 cores); cached at %s", path)
    _export(model, path)
    try:
        return _verified(model, path)
    except OnnxUnsupported:
        path.unlink(missing_ok=True)
        raise


def _verified(model: Any, path: Path) -> OnnxEncoder:
    try:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: its warnings are about graph fusions, not correctness
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # a truncated or corrupt file fails here
        raise OnnxUnsupported(f"ONNX Runtime cannot load {path}: {error}") from error
    encoder = OnnxEncoder(model, session)
    reference = model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    mine = encoder.encode(PROBES, batch_size=len(PROBES))
    mine = mine / np.linalg.norm(mine, axis=1, keepdims=True)
    reference = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    worst = float(np.min(np.sum(mine * reference, axis=1)))
    if not worst >= MIN_COSINE:  # NaN fails too
        raise OnnxUnsupported(f"ONNX vectors differ from torch's (worst cosine {worst:.6f} < {MIN_COSINE})")
    return encoder


def _export(model: Any, path: Path) -> None:
    import torch

    transformer = model[0].auto_model.eval()
    inputs = [name for name in _INPUTS if name in model.tokenizer.model_input_names]

    class LastHiddenState(torch.nn.Module):  # named tensors in, one tensor out: what the exporter wants
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
        ) -> torch.Tensor:
            features = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                features["token_type_ids"] = token_type_ids
            return self.transformer(**features).last_hidden_state

    example = model.tokenizer(["a short one", "and a longer example sentence"], padding=True, return_tensors="pt")
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    temporary = ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # an unwritable cache dir fails here: torch is used
        fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".onnx.tmp")
        os.close(fd)
        with _quiet_exporter(), torch.no_grad():
            program = torch.onnx.export(
                LastHiddenState().eval(),
                tuple(example[name] for name in inputs),
                input_names=inputs,
                output_names=["last_hidden_state"],
                dynamic_shapes={name: {0: batch, 1: sequence} for name in inputs},
                dynamo=True,
            )
            if program is None:  # only the legacy exporter returns None
                raise RuntimeError("the exporter returned no program")
            program.save(temporary)
        os.replace(temporary, path)  # atomic: a crash mid-export leaves no half-written model behind
    except Exception as error:
        raise OnnxUnsupported(f"torch.onnx.export failed: {error}") from error
    finally:
        if temporary:
            Path(temporary).unlink(missing_ok=True)


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter prints progress, logs every graph pass, and warns about torchvision ops BERT never uses."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "onnx_ir")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
