"""Forged upload paths: raw `queue/join` payloads naming files on the server are refused by every handler.

An event payload is JSON the client writes; a FileData `path` in it must never make the server read a file
that the same client did not upload through Gradio's /upload route (issue 9, item 1).
"""

from __future__ import annotations

import shutil
import uuid
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from gradio.utils import get_upload_folder
from PIL import Image, ImageDraw, ImageFont

from tests.ui.conftest import LiveApp
from tests.ui.gradio_http import file_data, queue_call

SECRET = "SECRET 4242"


def _secret_png() -> bytes:
    image = Image.new("RGB", (520, 120), "white")
    ImageDraw.Draw(image).text((20, 35), SECRET, font=ImageFont.load_default(size=40), fill="black")
    out = BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _planted(name: str, data: bytes) -> str:
    """A file inside Gradio's upload folder that no browser uploaded (e.g. left by another app or user)."""
    folder = Path(get_upload_folder()) / uuid.uuid4().hex
    folder.mkdir(parents=True)
    (folder / name).write_bytes(data)
    return str(folder / name)


def _copies_in_upload_folder(name: str) -> list[Path]:
    return list(Path(get_upload_folder()).rglob(name))


def _chat(live_app: LiveApp, path: str, headers: dict[str, str] | None = None):  # noqa: ANN202
    return queue_call(live_app.url, "chat", "send", [{"text": "", "files": [file_data(path)]}, [], None], headers)


def test_chat_never_reads_a_server_file_named_in_a_payload(live_app: LiveApp, tmp_path: Path) -> None:
    secret = tmp_path / f"statement-{uuid.uuid4().hex[:6]}.png"
    secret.write_bytes(_secret_png())
    for path in (str(secret), "/etc/passwd", "/etc/hostname"):
        result = _chat(live_app, path)
        assert not result.succeeded, path  # Gradio's own check: not from its upload folder
        assert "screenshot attached" not in result.text and "root:" not in result.text
    assert secret.exists() and not _copies_in_upload_folder(secret.name)  # not copied into Gradio's cache either


def test_chat_refuses_files_this_browser_did_not_upload(live_app: LiveApp) -> None:
    planted = _planted("planted.png", _secret_png())
    result = _chat(live_app, planted)
    assert "was not uploaded from this browser" in result.text
    assert "screenshot attached" not in result.text and Path(planted).exists()  # not read, not deleted

    # Another customer's real upload: same upload folder, different client address (via the trusted proxy).
    mine, theirs = {"X-Forwarded-For": "198.51.100.1"}, {"X-Forwarded-For": "198.51.100.2"}
    png = Image.new("RGB", (300, 80), "white")
    body = BytesIO()
    png.save(body, format="PNG")
    stored = httpx.post(f"{live_app.url}/chat/gradio_api/upload", headers=mine,
                        files={"files": ("mine.png", body.getvalue(), "image/png")}).json()[0]  # fmt: skip
    stolen = _chat(live_app, stored, theirs)
    assert "was not uploaded from this browser" in stolen.text and Path(stored).exists()
    sent = _chat(live_app, stored, mine)
    assert sent.succeeded and "screenshot attached" in sent.text and not Path(stored).exists()


def test_console_import_never_reads_a_server_file(live_app: LiveApp, tmp_path: Path) -> None:
    operator = live_app.auth("operator")
    faq = f"# What is the vault code {uuid.uuid4().hex[:6]}?\n{SECRET}\n".encode()
    outside = tmp_path / "notes.md"
    outside.write_bytes(faq)
    result = queue_call(live_app.url, "console", "import_file", [file_data(str(outside))], operator)
    assert not result.succeeded and outside.exists() and not _copies_in_upload_folder("notes.md")

    planted = _planted("planted.md", faq)
    result = queue_call(live_app.url, "console", "import_file", [file_data(planted)], operator)
    assert not result.succeeded and "was not uploaded from this browser" in result.text
    assert live_app.services.knowledge_base.list_entries(text="vault code") == []


def test_canned_import_never_reads_a_server_file(live_app: LiveApp, tmp_path: Path) -> None:
    operator = live_app.auth("operator")
    line = b'{"shortcut": "vault-code", "language": "en", "text": "' + SECRET.encode() + b'"}\n'
    outside = tmp_path / f"canned-{uuid.uuid4().hex[:6]}.jsonl"
    outside.write_bytes(line)
    for path in (str(outside), "/etc/passwd"):
        result = queue_call(live_app.url, "console", "import_canned_file", [file_data(path)], operator)
        assert not result.succeeded and "root:" not in result.text, path
    assert outside.exists() and not _copies_in_upload_folder(outside.name)

    planted = _planted("planted.jsonl", line)
    result = queue_call(live_app.url, "console", "import_canned_file", [file_data(planted)], operator)
    assert not result.succeeded and "was not uploaded from this browser" in result.text
    assert Path(planted).exists() and live_app.services.canned.get("vault-code", "en") is None

    # The operator's own upload, through Gradio's /upload route and the gate: read once, imported, deleted.
    csv = b"shortcut,language,text\nvault-code,en,Please call us about the vault.\n"
    stored = httpx.post(f"{live_app.url}/console/gradio_api/upload", headers=operator,
                        files={"files": ("canned.csv", csv, "text/csv")}).json()[0]  # fmt: skip
    result = queue_call(live_app.url, "console", "import_canned_file", [file_data(stored)], operator)
    assert result.succeeded and "Imported 1 canned responses from canned.csv" in result.text
    assert not Path(stored).exists() and live_app.services.canned.get("vault-code", "en") is not None


def test_desk_dictation_never_transcribes_a_server_file(live_app: LiveApp, tmp_path: Path, shared_data: Path) -> None:
    agent = live_app.auth("agent")
    clip = tmp_path / "call-recording.wav"  # speech: "Mr. Quilter is the apostle of the middle classes..."
    shutil.copy(shared_data / "audio" / "picovoice_leopard_test_librispeech_mr_quilter.wav", clip)
    for path in (str(clip), _planted("planted.wav", clip.read_bytes()), "/etc/passwd"):
        result = queue_call(live_app.url, "desk", "dictate", [file_data(path), ""], agent)
        assert not result.succeeded, path
        assert "quilter" not in result.text.lower() and "root:" not in result.text


@pytest.mark.parametrize("page", ["chat", "desk", "console"])
def test_screen_recording_route_is_closed(live_app: LiveApp, page: str) -> None:
    response = httpx.post(f"{live_app.url}/{page}/gradio_api/process_recording", headers=live_app.auth("agent"),
                          files={"video": ("x.mp4", b"\0" * 100, "video/mp4")})  # fmt: skip
    assert response.status_code in (401, 404)
