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
from retrieval.errors import StoreUnavailable
from ui.auth import AuthError
from ui.uploads import UploadRefused

log = logging.getLogger("findesk.ui")

USER_ERRORS: tuple[type[Exception], ...] = (*user_errors(), AuthError, UploadRefused)

GENERIC = {
    "en": "Sorry, something went wrong on our side. Please try again, or press 'Talk to a person'.",
    "zh": "抱歉，我们这边出了点问题。请重试，或点击“转人工”。",
}

# The database is down or unreachable: customers are told we are on it, staff get the reason (user_message).
TROUBLE = {
    "en": "We're having trouble on our side right now. Please try again in a minute; what you wrote so far is kept.",
    "zh": "我们这边暂时出了点问题。请稍后再试；您之前的对话已保存。",
}

P = ParamSpec("P")
R = TypeVar("R")


def user_message(error: Exception, language: str = "en") -> str:
    """What the user may read about this error; unknown errors are logged with their stack trace."""
    if isinstance(error, USER_ERRORS):
        return str(error)
    log.error("unexpected error in a request", exc_info=error)
    return GENERIC.get(language, GENERIC["en"])


def customer_message(error: Exception, language: str = "en") -> str:
    """Like user_message, but an outage's details (host names, driver errors) stay in the log."""
    if isinstance(error, StoreUnavailable):
        log.warning("a customer request failed: %s", error)
        return TROUBLE.get(language, TROUBLE["en"])
    return user_message(error, language)


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
