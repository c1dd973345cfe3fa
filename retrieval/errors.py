"""Errors whose message is shown to the user as is (operators, customers). Anything else is a bug."""

from __future__ import annotations


class RetrievalError(Exception):
    """Base class: the message says what went wrong and what to do about it."""
