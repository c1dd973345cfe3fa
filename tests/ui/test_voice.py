"""Voice through the web app with the real Whisper model: customer voice messages and agent dictation."""

from __future__ import annotations

import uuid
from pathlib import Path

import gradio as gr
import pytest
from gradio.utils import get_upload_folder

from tests.ui.conftest import LiveApp
from ui.chat_page import ChatHandlers
from ui.desk_page import DeskHandlers

pytestmark = pytest.mark.slow
CLIP = "picovoice_leopard_test_librispeech_mr_quilter.wav"  # "Mr. Quilter is the apostle of the middle classes..."


def _upload_copy(source: Path) -> str:
    folder = Path(get_upload_folder()) / uuid.uuid4().hex
    folder.mkdir(parents=True)
    target = folder / source.name
    target.write_bytes(source.read_bytes())
    return str(target)


def test_customer_voice_message_shows_what_was_heard(live_app: LiveApp, shared_data: Path) -> None:
    upload = _upload_copy(shared_data / "audio" / CLIP)
    *_, (history, *_rest) = ChatHandlers(live_app.services).send({"text": "", "files": [upload]}, [], None)
    assert history[0]["content"].startswith("🎤 voice message: “") and "quilter" in history[0]["content"].lower()
    assert not Path(upload).exists()


def test_voice_turn_over_the_http_api(live_app: LiveApp, shared_data: Path) -> None:
    clip = (shared_data / "audio" / CLIP).read_bytes()
    response = live_app.client.post("/api/chat", files={"audio": (CLIP, clip, "audio/wav")})
    assert response.status_code == 200, response.text
    assert "quilter" in response.json()["transcript"].lower()


def test_agent_dictation_fills_the_reply_box(live_app: LiveApp, shared_data: Path) -> None:
    upload = _upload_copy(shared_data / "audio" / CLIP)
    desk = DeskHandlers(live_app.services, live_app.users)
    text, cleared = desk.dictate(upload, "Dear customer,", gr.Request(username="alice"))
    assert text.startswith("Dear customer, ") and "quilter" in text.lower() and cleared is None
    assert not Path(upload).exists()
