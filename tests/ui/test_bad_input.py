"""Issue #9 item 10: bad input gets a clear 4xx, never a 500 or a silently stored mess."""

from __future__ import annotations

import pytest

from agent.message_checks import check_message_text
from tests.ui.conftest import LiveApp, as_client
from ui.chat_page import ChatHandlers


def _multipart(fields: dict[str, bytes]) -> tuple[bytes, str]:
    boundary = "findeskboundary"
    body = b"".join(
        b"--" + boundary.encode() + b'\r\nContent-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n'
        + value + b"\r\n"
        for name, value in fields.items()
    ) + b"--" + boundary.encode() + b"--\r\n"  # fmt: skip
    return body, f"multipart/form-data; boundary={boundary}"


def test_unknown_language_is_refused_on_every_route(live_app: LiveApp) -> None:
    # "I'm going abroad" is a weak match: the clarify route used to look up its note by language (500).
    for text in ("going to Japan next month, anything I need to do?", "How do I activate my new card?"):
        response = live_app.client.post("/api/chat", data={"text": text, "language": "fr"})
        assert response.status_code == 422, response.text
        assert "Unknown language 'fr'" in response.json()["error"]


def test_after_id_beyond_64_bits_is_refused(live_app: LiveApp) -> None:
    reply = live_app.client.post("/api/chat", data={"text": "How do I activate my new card?"}).json()
    own = {"X-Session-Token": reply["session_token"]}
    url = f"/api/chat/{reply['session_id']}/messages"
    assert live_app.client.get(url, params={"after_id": 10**26}, headers=own).status_code == 422
    assert live_app.client.get(url, params={"after_id": -1}, headers=own).status_code == 422
    staff = live_app.client.get(
        f"/api/handoffs/{reply['session_id']}/messages", params={"after_id": 10**26}, headers=live_app.auth("agent")
    )
    assert staff.status_code == 422


def test_every_id_and_offset_beyond_64_bits_is_refused_not_a_500(live_app: LiveApp) -> None:
    reply = live_app.client.post("/api/chat", data={"text": "How do I activate my new card?"}).json()
    own = {"X-Session-Token": reply["session_token"]}
    thumb = live_app.client.put(
        f"/api/chat/{reply['session_id']}/messages/{10**26}/thumb", json={"value": "down"}, headers=own
    )
    assert thumb.status_code == 422, thumb.text
    listed = live_app.client.get("/api/faq", params={"offset": 10**26}, headers=live_app.auth("operator"))
    assert listed.status_code == 422, listed.text


def test_invalid_utf8_in_a_form_field_is_refused_not_stored_as_mojibake(live_app: LiveApp) -> None:
    body, content_type = _multipart({"text": "caf\xe9 card blocked".encode("latin-1")})
    response = live_app.client.post("/api/chat", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 422 and "'text' is not valid UTF-8" in response.json()["error"]
    fine, content_type = _multipart({"text": "café: my card is blocked".encode()})
    ok = live_app.client.post("/api/chat", content=fine, headers={"Content-Type": content_type})
    assert ok.status_code == 200, ok.text  # real accented text passes
    stored = live_app.services.conversations.messages(ok.json()["session_id"])[0].text
    assert stored == "café: my card is blocked"
    broken = live_app.client.post("/api/chat", data={"text": "caf\ufffd"})  # what url-encoded decoding leaves
    assert broken.status_code == 422 and "UTF-8" in broken.json()["error"]


def test_a_multipart_body_that_cannot_be_parsed_is_a_400_not_a_500(live_app: LiveApp) -> None:
    body, _ = _multipart({"text": b"hi"})
    for headers, data in (
        ({"Content-Type": "multipart/form-data"}, body),  # no boundary at all
        ({"Content-Type": "multipart/form-data; boundary=other"}, body),  # not the body's boundary
    ):
        response = live_app.client.post("/api/chat", content=data, headers=headers)
        assert response.status_code == 400, (headers, response.text)
        assert "multipart/form-data" in response.json()["error"]


def test_form_bodies_over_the_upload_limits_are_refused_before_reading(live_app: LiveApp) -> None:
    body, content_type = _multipart({"text": b"hi"})
    huge = live_app.client.post(
        "/api/chat", content=body, headers={"Content-Type": content_type, "Content-Length": str(10**12)}
    )
    assert huge.status_code == 413


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("my card\x00 is blocked", "control characters"),
        ("my card \x1b[31mis blocked", "control characters"),
        ("transfer to \u202eevil\u202c please", "direction-override"),
        ("transfer \u2066hidden\u2069", "direction-override"),
    ],
)
def test_control_and_bidi_override_characters_are_refused(live_app: LiveApp, text: str, message: str) -> None:
    response = live_app.client.post("/api/chat", data={"text": text})
    assert response.status_code == 422 and message in response.json()["error"]


def test_an_agents_reply_with_control_or_bidi_override_characters_is_refused(live_app: LiveApp) -> None:
    reply = live_app.client.post("/api/chat", data={"text": "I want to talk to a person"}).json()
    own = {"X-Session-Token": reply["session_token"]}
    assert live_app.client.post(f"/api/chat/{reply['session_id']}/handoff", headers=own).status_code == 200
    url = f"/api/handoffs/{reply['session_id']}/reply"
    for text, message in (("IBAN \u202eDE89 3704\u202c", "direction-override"), ("hi\x1b[31m", "control characters")):
        refused = live_app.client.post(url, json={"text": text}, headers=live_app.auth("agent"))
        assert refused.status_code == 422 and message in refused.json()["error"], refused.text
    messages = live_app.client.get(f"/api/chat/{reply['session_id']}/messages", headers=own).json()
    assert not [m for m in messages if m["role"] == "agent"]  # nothing reached the customer


def test_line_breaks_and_tabs_are_plain_text() -> None:
    check_message_text("line one\nline two\r\n\tindented", 4_000)


def test_one_message_length_limit_everywhere(live_app: LiveApp) -> None:
    limit = live_app.settings.agent.max_message_chars
    assert limit == 4_000
    words = ("My card was declined at the supermarket and I do not know why. " * 60)[:3_200]
    accepted = live_app.client.post("/api/chat", data={"text": words})
    assert accepted.status_code == 200, accepted.text  # used to say "the limit is 2000"
    refused = live_app.client.post("/api/chat", data={"text": "x" * (limit + 1)})
    assert refused.status_code == 422 and f"the limit is {limit:,}" in refused.json()["error"]
    chat = ChatHandlers(live_app.services, live_app.uploads)
    history = list(chat.send({"text": "x" * (limit + 1), "files": []}, [], None, as_client()))[-1][0]
    assert f"the limit is {limit:,}" in history[-1]["content"]
    history = list(chat.send({"text": words, "files": []}, [], None, as_client()))[-1][0]
    assert "limit" not in history[-1]["content"]


def test_malformed_and_mistyped_bodies_get_the_same_error_shape_as_every_refusal(live_app: LiveApp) -> None:
    client, auth = live_app.client, live_app.auth("operator")
    mistyped = client.post("/api/chat", data={"text": "hi", "stream": "banana"})
    assert mistyped.status_code == 422
    assert "stream: Input should be a valid boolean" in mistyped.json()["error"]
    assert mistyped.json()["detail"][0]["loc"] == ["body", "stream"]  # FastAPI's per-field list stays, for tools
    truncated = client.post(
        "/api/faq", content=b'{"question": "x",', headers={**auth, "Content-Type": "application/json"}
    )
    assert truncated.status_code == 422
    assert truncated.json()["error"].startswith("The request is not valid: the body is not valid JSON (at character")
    wrong_types = client.post("/api/faq", json={"question": 5, "answer": ["x"]}, headers=auth)
    assert wrong_types.status_code == 422
    error = wrong_types.json()["error"]
    assert "question: Input should be a valid string" in error and "answer: Input should be a valid string" in error
