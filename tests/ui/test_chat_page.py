"""The customer chat's handlers, called directly with Gradio-shaped payloads against the real agent."""

from __future__ import annotations

import html
from pathlib import Path

import gradio as gr
import pytest
from PIL import Image

from agent.errors import AgentError
from tests.ui.conftest import LiveApp, as_client, stored_upload
from ui.chat_page import ChatHandlers, ChatState
from ui.uploads import discard

CLARIFYING = "going to Japan next month, anything I need to do so my card works?"  # a weak match: choices


@pytest.fixture()
def chat(live_app: LiveApp) -> ChatHandlers:
    return ChatHandlers(live_app.services, live_app.uploads)


def _run(chat: ChatHandlers, message: dict, history: list | None = None, state: ChatState | None = None) -> list:
    return list(chat.send(message, history or [], state, as_client()))


def test_reply_streams_then_shows_its_cited_sources(chat: ChatHandlers) -> None:
    updates = _run(chat, {"text": "How do I activate my new card?", "files": []})
    assert len(updates) >= 3  # the question at once, growing text, then the finished turn
    history, textbox, state, timer, _talk = updates[-1]
    assert history[0] == {"role": "user", "content": "How do I activate my new card?"}
    assert "[1]" in history[1]["content"]
    details = history[2]
    assert details["metadata"]["title"] == "📚 Sources (1)"
    assert "How do I activate my new card?" in details["content"]
    assert "answered" in details["metadata"]["log"] and "mood" in details["metadata"]["log"]
    assert isinstance(state, ChatState) and len(state.session_id) == 32 and state.token
    assert textbox.interactive is True and timer.active is False
    growing = [u[0][-1]["content"] for u in updates[1:-1]]
    assert growing == sorted(growing, key=len)  # each update extends the text


def test_screenshot_upload_is_read_then_deleted(chat: ChatHandlers, tmp_path: Path) -> None:
    Image.new("RGB", (400, 100), "white").save(tmp_path / "blank.png")
    path = stored_upload(chat.uploads, "blank.png", (tmp_path / "blank.png").read_bytes())
    history = _run(chat, {"text": "", "files": [{"path": path}]})[-1][0]
    assert history[0]["content"] == "📎 screenshot attached"
    assert "screenshot" in history[-1]["content"]  # the agent's message: no text found in a blank image
    assert not Path(path).exists()


def test_oversized_and_unsupported_uploads_get_a_friendly_message(chat: ChatHandlers) -> None:
    chat.max_image_bytes = 1_000
    big = stored_upload(chat.uploads, "big.png", b"\x89PNG" + b"\0" * 2_000)
    history = _run(chat, {"text": "see attached", "files": [{"path": big}]})[-1][0]
    assert history == [{"role": "assistant", "content": history[0]["content"]}]
    assert "too large" in history[0]["content"] and not Path(big).exists()

    text_file = stored_upload(chat.uploads, "notes.txt", b"hello")
    history = _run(chat, {"text": "", "files": [text_file]})[-1][0]
    assert "notes.txt" in history[0]["content"] and not Path(text_file).exists()


def test_broken_voice_message_gets_the_speech_error_in_the_chat(chat: ChatHandlers) -> None:
    broken = stored_upload(chat.uploads, "recording.webm", b"\x1aE\xdf\xa3 definitely not a whole recording")
    history = _run(chat, {"text": "", "files": [broken]})[-1][0]
    assert history[0]["content"] == "🎤 voice message"
    message = history[-1]["content"]
    assert message and "Traceback" not in message and "Sorry, something went wrong" not in message  # a SpeechError
    assert not Path(broken).exists()


def test_only_gradio_uploads_are_ever_deleted(tmp_path: Path) -> None:
    outside = tmp_path / "keep.png"
    outside.write_bytes(b"x")
    discard(outside)  # a forged payload naming a path outside Gradio's upload folder
    assert outside.exists()


def test_errors_become_chat_messages_never_tracebacks(chat: ChatHandlers, monkeypatch: pytest.MonkeyPatch) -> None:
    def model_down(_turn: object) -> None:
        raise AgentError("The answer model is not responding; please try again in a minute.")

    monkeypatch.setattr(chat.services.agent, "stream", model_down)
    history = _run(chat, {"text": "hello", "files": []})[-1][0]
    assert history[-1]["content"] == "The answer model is not responding; please try again in a minute."

    def bug(_turn: object) -> None:
        raise KeyError("internal detail")

    monkeypatch.setattr(chat.services.agent, "stream", bug)
    history = _run(chat, {"text": "hello", "files": []}, state=ChatState(language="zh"))[-1][0]
    assert "internal detail" not in history[-1]["content"] and "抱歉" in history[-1]["content"]


def test_chinese_customer_gets_chinese_ui(chat: ChatHandlers) -> None:
    *_, (history, textbox, state, _timer, talk) = _run(chat, {"text": "我的银行卡激活不了怎么办", "files": []})
    assert state.language == "zh"
    assert talk.value == "🙋 转人工" and "请输入" in textbox.placeholder
    assert history[-1]["metadata"]["log"].startswith(("已回答", "需要补充", "未找到", "转人工"))


def test_handoff_then_agent_reply_then_resolution_reach_the_chat(chat: ChatHandlers, live_app: LiveApp) -> None:
    history, _box, state = _run(chat, {"text": "How much does a transfer cost?", "files": []})[-1][:3]
    history, state, timer = chat.talk_to_person(history, state)
    assert state.handed_over and timer.active
    assert "member of our team" in history[-1]["content"]

    skipped, state, _, _ = chat.poll(history, state)
    assert skipped is gr.skip() or skipped == gr.skip()  # nothing new: the chat is not re-rendered

    live_app.services.conversations.add_agent_reply(state.session_id, "alice", "Transfers in the app are free.")
    history, state, _, _ = chat.poll(history, state)
    assert history[-1]["content"].endswith("Transfers in the app are free.") and "alice" in history[-1]["content"]

    live_app.services.conversations.resolve(state.session_id, "alice")
    history, state, timer, comment = chat.poll(history, state)
    assert "closed" in history[-2]["content"] and timer.active is False and not state.handed_over
    assert "rate this conversation" in history[-1]["content"]  # asked once, with 1-5 buttons
    assert [o["value"] for o in history[-1]["options"]] == [f"rate:{n}" for n in range(1, 6)]
    assert comment.visible is True and comment.value == ""  # the optional comment box comes with the buttons

    click = gr.SelectData(target=None, data={"index": 4, "value": "rate:5"})
    history, _box, state, _timer, _talk, comment = list(chat.choose(history, state, "", click, as_client()))[-1]
    assert "Thank you for your rating!" in history[-1]["content"] and "options" not in history[-2]
    assert comment.visible is False
    assert live_app.services.feedback.rating(state.session_id).score == 5  # type: ignore[union-attr]
    again = list(chat.choose(history, state, "", click, as_client()))[-1][0]
    assert "already been rated" in again[-1]["content"]


def _resolved_chat(chat: ChatHandlers, live_app: LiveApp) -> tuple[list, ChatState]:
    history, _box, state = _run(chat, {"text": "How much does a transfer cost?", "files": []})[-1][:3]
    history, state, _timer = chat.talk_to_person(history, state)
    live_app.services.conversations.resolve(state.session_id, "alice")
    history, state, _timer, _comment = chat.poll(history, state)
    return history, state


def test_a_rating_carries_the_comment_with_pii_redacted(chat: ChatHandlers, live_app: LiveApp) -> None:
    history, state = _resolved_chat(chat, live_app)
    click = gr.SelectData(target=None, data={"index": 3, "value": "rate:4"})
    words = "  Quick and kind. My card 4111 1111 1111 1111 works now.  "
    history, *_, comment = list(chat.choose(history, state, words, click, as_client()))[-1]
    assert "Thank you for your rating and your comment!" in history[-1]["content"] and comment.visible is False
    rating = live_app.services.feedback.rating(state.session_id)
    assert rating is not None and rating.score == 4 and rating.comment.startswith("Quick and kind.")
    assert "4111" not in rating.comment


def test_a_comment_over_the_limit_is_refused_and_the_rating_can_be_given_again(
    chat: ChatHandlers, live_app: LiveApp
) -> None:
    history, state = _resolved_chat(chat, live_app)
    click = gr.SelectData(target=None, data={"index": 1, "value": "rate:2"})
    history, *_, comment = list(chat.choose(history, state, "slow " * 401, click, as_client()))[-1]
    assert "too long (2004 characters; the limit is 2000)" in history[-1]["content"]
    assert comment == gr.skip() or comment is gr.skip()  # the text stays in the box, to shorten
    assert [o["value"] for o in history[-1]["options"]] == [f"rate:{n}" for n in range(1, 6)]  # offered again
    assert live_app.services.feedback.rating(state.session_id) is None

    history, *_, comment = list(chat.choose(history, state, "slow " * 10, click, as_client()))[-1]
    assert "Thank you" in history[-1]["content"] and comment.visible is False
    assert live_app.services.feedback.rating(state.session_id).comment == ("slow " * 10).strip()  # type: ignore[union-attr]


def test_a_forged_rating_value_gets_a_clear_message(chat: ChatHandlers, live_app: LiveApp) -> None:
    history, state = _resolved_chat(chat, live_app)
    click = gr.SelectData(target=None, data={"index": 0, "value": "rate:lots"})
    history = list(chat.choose(history, state, "", click, as_client()))[-1][0]
    assert "whole number from 1 to 5" in history[-1]["content"]
    assert live_app.services.feedback.rating(state.session_id) is None


def test_did_you_mean_choices_are_buttons_and_a_click_answers(chat: ChatHandlers) -> None:
    history, _textbox, state, _timer, _talk = _run(chat, {"text": CLARIFYING, "files": []})[-1]
    offer = history[1]
    assert "Did you mean" in offer["content"]
    options = offer["options"]
    assert [o["value"] for o in options] == [str(n) for n in range(1, len(options) + 1)] and len(options) >= 2
    assert options[1]["label"].startswith("2. ") and options[1]["label"][3:] in html.unescape(offer["content"])

    click = gr.SelectData(target=None, data={"index": 1, "value": options[1]["value"]})
    history, _textbox, state, _timer, _talk, _comment = list(chat.choose(history, state, None, click, as_client()))[-1]
    assert "options" not in history[1]  # answered: the old buttons are gone
    assert len(history) == 5 and history[2] == {"role": "user", "content": "2"}
    assert "[1]" in history[3]["content"]
    assert options[1]["label"][3:] in html.unescape(history[4]["content"])  # the chosen entry is the cited source


def test_typing_the_number_still_picks_a_choice(chat: ChatHandlers) -> None:
    history, _textbox, state, _timer, _talk = _run(chat, {"text": CLARIFYING, "files": []})[-1]
    label = history[1]["options"][0]["label"][3:]
    history = _run(chat, {"text": "1", "files": []}, history, state)[-1][0]
    assert history[-3] == {"role": "user", "content": "1"}
    assert label in html.unescape(history[-1]["content"])  # the chosen entry is the cited source


def test_small_talk_gets_a_plain_polite_reply(chat: ChatHandlers) -> None:
    history = _run(chat, {"text": "hi", "files": []})[-1][0]
    assert [m["role"] for m in history] == ["user", "assistant"]  # no sources line under "hello"
    assert "Hello!" in history[1]["content"]


def test_thumbs_down_offers_a_person_and_is_recorded(chat: ChatHandlers, live_app: LiveApp) -> None:
    history, _box, state = _run(chat, {"text": "How do I activate my new card?", "files": []})[-1][:3]
    answer_index = 1
    assert history[answer_index]["content"] and state.answers
    up = gr.LikeData(target=None, data={"index": answer_index, "value": history[answer_index], "liked": True})
    same, state = chat.thumb(history, state, up)
    assert same == history and "options" not in same[-1]  # a thumbs up changes nothing on screen
    [(answer_id, value)] = live_app.services.feedback.thumbs(state.session_id).items()
    assert value == "up"

    down = gr.LikeData(target=None, data={"index": answer_index + 1, "value": history[2], "liked": False})
    history, state = chat.thumb(history, state, down)  # on the answer's details line: the same answer
    assert live_app.services.feedback.thumbs(state.session_id) == {answer_id: "down"}
    assert "Sorry that didn" in history[-1]["content"]
    assert history[-1]["options"] == [{"value": "talk", "label": "🙋 Talk to a person"}]

    talk = gr.SelectData(target=None, data={"index": 0, "value": "talk"})
    history, _box, state, timer, _talk, _comment = list(chat.choose(history, state, None, talk, as_client()))[-1]
    assert state.handed_over and timer.active and "options" not in history[-2]
    assert live_app.services.conversations.handoff(state.session_id).status == "waiting"  # type: ignore[union-attr]


def test_a_thumb_on_something_that_is_not_an_answer_is_ignored(chat: ChatHandlers, live_app: LiveApp) -> None:
    history, _box, state = _run(chat, {"text": "hello", "files": []})[-1][:3]
    like = gr.LikeData(target=None, data={"index": 0, "value": history[0], "liked": False})
    assert chat.thumb(history, state, like) == (gr.skip(), state)
