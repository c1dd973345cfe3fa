"""Message clean-up before scoring: the same steps at training time and at run time.

Customers paste links, address a brand account ("@MyBank ..."), write HTML entities copied from the web
("&amp;") and hashtags ("#fail"). None of that carries tone, and the embedders were not trained on it.
"""

from __future__ import annotations

import html
import re

from agent.errors import SentimentError

# Long messages are cut before embedding: the tone of a customer message shows in its first few sentences,
# and MiniLM reads at most 256 word pieces anyway.
MAX_CHARS = 1000

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w@])@\w+")
_SPACE = re.compile(r"\s+")


def check_text(text: object) -> str:
    """The message as a string, or SentimentError for anything that is not text."""
    if not isinstance(text, str):
        raise SentimentError(f"Sentiment needs the message as text, got {type(text).__name__}.")
    return text


def normalise(text: str) -> str:
    """Drop links and @handles, unescape entities, keep hashtag words, collapse whitespace, cut to MAX_CHARS."""
    text = html.unescape(text)
    text = _URL.sub(" ", text)
    text = _HANDLE.sub(" ", text)
    text = text.replace("#", " ")
    return _SPACE.sub(" ", text).strip()[:MAX_CHARS]
