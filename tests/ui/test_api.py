"""The JSON HTTP API through FastAPI's TestClient: chat turns, the handoff queue, FAQ editing, token auth."""

from __future__ import annotations

import io
import json
import tempfile
import uuid
import wave

from PIL import Image

from tests.ui.conftest import LiveApp


def _start(live_app: LiveApp, text: str) -> tuple[str, dict[str, str]]:
    """A new conversation: its server-made id and the header that proves it is ours."""
    reply = live_app.client.post("/api/chat", data={"text": text}).json()
    return reply["session_id"], {"X-Session-Token": reply["session_token"]}


def test_chat_returns_a_cited_reply(live_app: LiveApp) -> None:
    response = live_app.client.post("/api/chat", data={"text": "Why was my card declined?"})
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["route"] == "answer"
    assert reply["citations"][0]["entry_id"] == "cards-declined"
    assert "[1]" in reply["text"] and "Cards" in reply["text"]
    assert reply["sentiment"]["label"] in ("negative", "neutral", "positive")
    assert reply["hits"][0]["dense_score"] is not None


def test_chat_streams_ndjson_deltas_then_the_reply(live_app: LiveApp) -> None:
    data = {"text": "How do I activate my new card?", "stream": "true"}
    with live_app.client.stream("POST", "/api/chat", data=data) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        events = [json.loads(line) for line in response.iter_lines() if line]
    assert events[0]["type"] == "delta" and events[-1]["type"] == "reply"
    assert all(e["type"] == "delta" and e["text"] for e in events[:-1])
    streamed = "".join(e["text"] for e in events[:-1])
    assert streamed.split("[")[0].strip() in events[-1]["text"]  # the final text is the streamed one, checked
    assert events[-1]["citations"][0]["entry_id"] == "cards-activation"
    assert events[-1]["session_id"] and events[-1]["session_token"]  # the stream also hands out the conversation


def test_chat_refuses_bad_input_with_a_json_message(live_app: LiveApp) -> None:
    empty = live_app.client.post("/api/chat", data={"text": "   "})
    assert empty.status_code == 422 and "type a question" in empty.json()["error"]
    bad_id = live_app.client.post("/api/chat", data={"session_id": "../etc", "text": "hi"})
    assert bad_id.status_code == 401
    not_image = live_app.client.post("/api/chat", files={"image": ("shot.png", b"not a picture", "image/png")})
    assert not_image.status_code == 422 and "error" in not_image.json()
    assert "Traceback" not in not_image.text
    for field, name, says in (("audio", "voice.ogg", "voice message is empty"), ("image", "shot.png", "empty file")):
        zero_bytes = live_app.client.post("/api/chat", data={"text": "hi"}, files={field: (name, b"")})
        assert zero_bytes.status_code == 422 and says in zero_bytes.json()["error"], zero_bytes.text


def test_chat_refuses_uploads_over_the_byte_limits(live_app: LiveApp) -> None:
    limit = live_app.settings.agent.max_image_bytes
    big = live_app.client.post("/api/chat", files={"image": ("big.png", b"\0" * (limit + 1), "image/png")})
    assert big.status_code == 413 and "limit" in big.json()["error"]


def test_chat_refuses_bad_and_overlong_audio_before_any_model_runs(live_app: LiveApp) -> None:
    garbage = live_app.client.post("/api/chat", files={"audio": ("voice.ogg", b"OggS not really", "audio/ogg")})
    assert garbage.status_code == 422 and garbage.json()["error"]
    seconds = int(live_app.settings.speech.max_duration_s) + 5
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as clip:  # silence, 8 kHz 8-bit: small file, too long to accept
        clip.setnchannels(1), clip.setsampwidth(1), clip.setframerate(8000)
        clip.writeframes(b"\x80" * 8000 * seconds)
    long = live_app.client.post("/api/chat", files={"audio": ("long.wav", buffer.getvalue(), "audio/wav")})
    assert long.status_code == 422 and "long" in long.json()["error"].lower()


def test_chat_refuses_images_over_the_pixel_limit(live_app: LiveApp) -> None:
    pixels = live_app.settings.agent.max_image_pixels
    side = int(pixels**0.5) + 64
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, format="PNG")  # a 1-bit PNG: tiny file, huge pixel count
    response = live_app.client.post("/api/chat", files={"image": ("huge.png", buffer.getvalue(), "image/png")})
    assert response.status_code == 422, response.text
    assert "pixel" in response.json()["error"].lower()


def test_handoff_round_trip_between_customer_and_agent(live_app: LiveApp) -> None:
    client = live_app.client
    session, own = _start(live_app, "My transfer hasn't arrived yet")
    handed = client.post(f"/api/chat/{session}/handoff", headers=own).json()
    assert handed["status"] == "waiting" and handed["replies_from"] is None  # always open by default
    assert handed["queue_position"] == len(
        client.get("/api/handoffs?status=waiting", headers=live_app.auth("agent")).json()
    )

    queue = client.get("/api/handoffs", headers=live_app.auth("agent")).json()
    mine = next(h for h in queue if h["session_id"] == session)
    assert mine["reason"] and mine["sentiment_trend"]

    assert client.post(f"/api/handoffs/{session}/claim", headers=live_app.auth("agent")).json()["claimed_by"] == "alice"
    sent = client.post(f"/api/handoffs/{session}/reply", headers=live_app.auth("agent"), json={"text": "On it!"})
    assert sent.status_code == 200 and sent.json()["role"] == "agent"

    seen = client.get(f"/api/chat/{session}/messages", params={"after_id": 0}, headers=own).json()
    assert seen[-1]["role"] == "agent" and seen[-1]["text"] == "On it!" and seen[-1]["author"] == "alice"
    assert "reason" not in seen[0]  # customers do not see routing internals

    resolved = client.post(f"/api/handoffs/{session}/resolve", headers=live_app.auth("agent"))
    assert resolved.json()["status"] == "resolved"
    again = client.post(f"/api/handoffs/{session}/resolve", headers=live_app.auth("agent"))
    assert again.status_code == 409 and "already resolved" in again.json()["error"]
    missing = client.post(f"/api/handoffs/{uuid.uuid4().hex}/claim", headers=live_app.auth("agent"))
    assert missing.status_code == 404


def test_staff_endpoints_need_the_right_token(live_app: LiveApp) -> None:
    client = live_app.client
    assert client.get("/api/handoffs").status_code == 401
    assert client.get("/api/handoffs", headers={"Authorization": "Bearer fd_forged"}).status_code == 401
    assert client.get("/api/faq", headers=live_app.auth("agent")).status_code == 403
    assert client.get("/api/handoffs", headers=live_app.auth("operator")).status_code == 403
    assert client.post("/api/faq", json={"question": "q", "answer": "a"}).status_code == 401
    assert client.get("/api/faq/export").status_code == 401


def test_faq_crud_with_optimistic_concurrency(live_app: LiveApp) -> None:
    client, auth = live_app.client, live_app.auth("operator")
    body = {"question": "Do you offer student accounts?", "answer": "Yes: the Campus account has no monthly fee.",
            "alternates": ["student bank account"], "category": "accounts"}  # fmt: skip
    created = client.post("/api/faq", json=body, headers=auth)
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["version"] == 1 and entry["id"]

    found = client.post("/api/chat", data={"text": "do you have a student account"}).json()
    assert found["citations"][0]["entry_id"] == entry["id"]  # searchable at once, no restart

    edited = client.patch(f"/api/faq/{entry['id']}", json={"answer": "Yes: Campus.", "expected_version": 1},
                          headers=auth)  # fmt: skip
    assert edited.status_code == 200 and edited.json()["version"] == 2
    stale = client.patch(f"/api/faq/{entry['id']}", json={"answer": "x", "expected_version": 1}, headers=auth)
    assert stale.status_code == 409
    assert client.get("/api/faq", params={"q": "campus"}, headers=auth).json()[0]["id"] == entry["id"]
    assert client.delete(f"/api/faq/{entry['id']}", headers=auth).status_code == 204
    assert client.get(f"/api/faq/{entry['id']}", headers=auth).status_code == 404
    assert client.post("/api/faq", json={"question": "", "answer": "a"}, headers=auth).status_code == 422


def test_faq_import_reports_every_bad_row_and_export_round_trips(live_app: LiveApp) -> None:
    client, auth = live_app.client, live_app.auth("operator")
    bad = b'{"question": "ok?", "answer": "fine"}\n{"question": ""}\nnot json\n'
    refused = client.post("/api/faq/import", files={"file": ("bad.jsonl", bad)}, headers=auth)
    assert refused.status_code == 422
    assert [p["line"] for p in refused.json()["problems"]] == [2, 3]
    assert refused.json()["error"].startswith("Import refused, nothing was changed: bad.jsonl has 2 problem(s).")
    assert tempfile.gettempdir() not in refused.text  # the server's temporary copy is no business of the client's

    good = "Question,Answer,Category\nCan I bank by post?,Yes: send letters to PO Box 1.,contact\n".lower().encode()
    imported = client.post("/api/faq/import", files={"file": ("good.csv", good)}, headers=auth)
    assert imported.status_code == 200, imported.text
    assert imported.json()["added"] == 1

    exported = client.get("/api/faq/export", headers=auth)
    assert exported.status_code == 200
    rows = [json.loads(line) for line in exported.text.splitlines() if line]
    assert any(r["question"] == "can i bank by post?" for r in rows)
    assert client.get("/api/faq/status", headers=auth).json()["entries"] == len(rows)


def test_openapi_documents_the_api_but_no_gradio_internals(live_app: LiveApp) -> None:
    spec = live_app.client.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {"/api/chat", "/api/handoffs", "/api/faq", "/api/faq/import", "/api/handoffs/{session_id}/claim"} <= paths
    assert not any(p.startswith(("/desk", "/console", "/chat/")) for p in paths)
    assert live_app.client.get("/docs").status_code == 200


def test_csat_after_resolution_once(live_app: LiveApp) -> None:
    client = live_app.client
    session, own = _start(live_app, "My transfer hasn't arrived yet")
    early = client.post(f"/api/chat/{session}/csat", headers=own, json={"score": 5})
    assert early.status_code == 422 and "cannot be rated yet" in early.json()["error"]
    client.post(f"/api/chat/{session}/handoff", headers=own)
    client.post(f"/api/handoffs/{session}/resolve", headers=live_app.auth("agent"))

    assert client.post(f"/api/chat/{session}/csat", json={"score": 5}).status_code == 401  # no token
    other, other_token = _start(live_app, "hello")
    assert client.post(f"/api/chat/{session}/csat", headers=other_token, json={"score": 1}).status_code == 401
    for bad in ({"score": 0}, {"score": 6}, {"score": "five"}, {"score": 3, "comment": "x" * 2001}, {}):
        assert client.post(f"/api/chat/{session}/csat", headers=own, json=bad).status_code == 422, bad

    rated = client.post(f"/api/chat/{session}/csat", headers=own, json={"score": 4, "comment": "Quick, thanks"})
    assert rated.status_code == 201, rated.text
    assert rated.json()["score"] == 4 and rated.json()["comment"] == "Quick, thanks"
    again = client.post(f"/api/chat/{session}/csat", headers=own, json={"score": 1})
    assert again.status_code == 409 and "already been rated" in again.json()["error"]
    assert live_app.services.feedback.rating(session).score == 4  # type: ignore[union-attr]


def test_thumbs_on_an_answer(live_app: LiveApp) -> None:
    client = live_app.client
    reply = client.post("/api/chat", data={"text": "Why was my card declined?"}).json()
    session, own = reply["session_id"], {"X-Session-Token": reply["session_token"]}
    url = f"/api/chat/{session}/messages/{reply['turn_id']}/thumb"
    assert client.put(url, headers=own, json={"value": "down"}).status_code == 204
    assert live_app.services.feedback.thumbs(session) == {reply["turn_id"]: "down"}
    assert client.put(url, headers=own, json={"value": "meh"}).status_code == 422
    assert client.put(url, json={"value": "up"}).status_code == 401
    other, other_token = _start(live_app, "hello")
    assert client.put(f"/api/chat/{other}/messages/{reply['turn_id']}/thumb", headers=other_token,
                      json={"value": "up"}).status_code == 404  # fmt: skip
    assert live_app.services.feedback.thumbs(session) == {reply["turn_id"]: "down"}
