"""Cutting the model's tone line out of a streamed reply, however the stream is chunked."""

from __future__ import annotations

import pytest

from agent.tone import ToneSplitter
from agent.types import SentimentLabel


def split(chunks: list[str]) -> tuple[str, ToneSplitter]:
    splitter = ToneSplitter()
    shown = "".join(splitter.feed(chunk) for chunk in chunks) + splitter.flush()
    return shown, splitter


@pytest.mark.parametrize(
    "chunks",
    [
        ["TONE: negative\nSorry about that. Freeze the card [1]."],
        ["TO", "NE", ": neg", "ative", "\n", "Sorry about that.", " Freeze the card [1]."],
        ["  tone：Negative (the customer is upset)\n\nSorry about that. Freeze the card [1]."],
    ],
)
def test_tone_line_is_cut_out_and_read(chunks: list[str]) -> None:
    shown, splitter = split(chunks)
    assert shown == "Sorry about that. Freeze the card [1]."
    assert splitter.reading is not None and splitter.reading.label is SentimentLabel.NEGATIVE
    assert splitter.reading.score < 0


def test_chinese_tone_line() -> None:
    shown, splitter = split(["语气：positive\n", "不客气！"])
    assert shown == "不客气！" and splitter.reading.label is SentimentLabel.POSITIVE


@pytest.mark.parametrize(
    "chunks",
    [
        ["To activate your card, open the app [1]."],  # starts like "TONE" but is not a tone line
        ["Your card", " is frozen [1]."],
        ["T"],  # a reply that ends while still undecided is shown, not swallowed
        ["TONE: furious\nHello"],  # an unknown label is not a reading: show the text as written
    ],
)
def test_replies_without_a_tone_line_pass_through_unchanged(chunks: list[str]) -> None:
    shown, splitter = split(chunks)
    assert shown == "".join(chunks) and splitter.reading is None


def test_text_is_not_held_back_longer_than_needed() -> None:
    splitter = ToneSplitter()
    assert splitter.feed("Hello") == "Hello"  # "h" cannot start "tone": decided at once
