"""Errors whose message is shown to the user as is. Anything else is a bug and goes to the logs.

The UI, CLI and HTTP API translate these (and retrieval.errors.RetrievalError, speech.errors.SpeechError)
once, at the edge.
"""

from __future__ import annotations


class AgentError(Exception):
    """Base class: the message says what went wrong and what the user can do about it."""


class ImageError(AgentError):
    """An uploaded screenshot was refused (not an image, too large, corrupt...)."""


class OcrError(AgentError):
    """The OCR engine could not be loaded or failed on a checked screenshot."""


class GeneratorError(AgentError):
    """A configured answer generator failed (model missing, server down, timeout)."""


class SentimentError(AgentError):
    """Sentiment could not be scored: unknown analyser, missing model, bad labelled data."""


def user_errors() -> tuple[type[Exception], ...]:
    """Every error whose message is meant for the user, from all packages: what the edges translate."""
    from retrieval.errors import RetrievalError
    from speech.errors import SpeechError

    return (AgentError, RetrievalError, SpeechError)
