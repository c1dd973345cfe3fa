"""Error translation at the edge: user-facing errors become messages, everything else is logged as a bug.

agent, retrieval and speech raise their own small hierarchies whose messages are written for the user;
the web pages and the HTTP API show those as is and hide anything else behind a generic apology.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import gradio as gr

from agent.errors import user_errors
from ui.auth import AuthError
from ui.uploads import UploadRefused

log = logging.getLogger("findesk.ui")

USER_ERRORS: tuple[type[Exception], ...] = (*user_errors(), AuthError, UploadRefused)

GENERIC = {
    "en": "Sorry, something went wrong on our side. Please try again, or press 'Talk to a person'.",
    "zh": "抱歉，我们这边出了点问题。请重试，或点击“转人工”。",
}

P = ParamSpec("P")
R = TypeVar("R")


def user_message(error: Exception, language: str = "en") -> str:
    """What the user may read about this error; unknown errors are logged with their stack trace."""
    if isinstance(error, USER_ERRORS):
        return str(error)
    log.error("unexpected error in a request", exc_info=error)
    return GENERIC.get(language, GENERIC["en"])


def as_gradio_error(fn: Callable[P, R]) -> Callable[P, R]:
    """For staff pages: raise gr.Error with the user-facing message (a toast), never a stack trace."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as error:
            raise gr.Error(user_message(error)) from error

    return wrapper
