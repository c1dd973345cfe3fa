"""Errors whose message is shown to the user as is. Anything else is a bug and goes to the logs.

The UI, CLI and HTTP API translate these (and retrieval.errors.RetrievalError, speech.errors.SpeechError)
once, at the edge.
"""

from __future__ import annotations


class AgentError(Exception):
    """Base class: the message says what went wrong and what the user can do about it."""


class ImageError(AgentError):
    """An uploaded screenshot was refused (not an image, too large, corrupt...)."""


class GeneratorError(AgentError):
    """A configured answer generator failed (model missing, server down, timeout)."""
