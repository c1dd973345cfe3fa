"""Voice through the web app with the real Whisper model: customer voice messages and agent dictation."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.conftest import LiveApp, as_client, stored_upload
from ui.chat_page import ChatHandlers
from ui.desk_page import DeskHandlers

pytestmark = pytest.mark.slow
CLIP = "picovoice_leopard_test_librispeech_mr_quilter.wav"  # "Mr. Quilter is the apostle of the middle classes..."


def test_customer_voice_message_shows_what_was_heard(live_app: LiveApp, shared_data: Path) -> None:
    upload = stored_upload(live_app.uploads, CLIP, (shared_data / "audio" / CLIP).read_bytes())
    chat = ChatHandlers(live_app.services, live_app.uploads)
    *_, (history, *_rest) = chat.send({"text": "", "files": [upload]}, [], None, as_client())
    assert history[0]["content"].startswith("🎤 voice message: “") and "quilter" in history[0]["content"].lower()
    assert not Path(upload).exists()


def test_voice_turn_over_the_http_api(live_app: LiveApp, shared_data: Path) -> None:
    clip = (shared_data / "audio" / CLIP).read_bytes()
    response = live_app.client.post("/api/chat", files={"audio": (CLIP, clip, "audio/wav")})
    assert response.status_code == 200, response.text
    assert "quilter" in response.json()["transcript"].lower()


def test_agent_dictation_fills_the_reply_box(live_app: LiveApp, shared_data: Path) -> None:
    upload = stored_upload(live_app.uploads, CLIP, (shared_data / "audio" / CLIP).read_bytes())
    desk = DeskHandlers(live_app.services, live_app.users, live_app.uploads)
    text, cleared = desk.dictate(upload, "Dear customer,", as_client("alice"))
    assert text.startswith("Dear customer, ") and "quilter" in text.lower() and cleared is None
    assert not Path(upload).exists()
