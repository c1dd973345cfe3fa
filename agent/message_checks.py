"""Checks on what a customer typed, before anything is stored or searched: one place, one set of rules.

Refused, each with a message the customer (or the agent replying) can act on (AgentError, a 422 over HTTP):
- longer than `AgentConfig.max_message_chars` (the one message-length limit: API, chat page and pipeline);
- text that was not valid UTF-8 (decoders put U+FFFD where bytes were broken: the words are lost);
- control characters other than tab and line breaks, and the Unicode bidirectional overrides and isolates,
  which make text display differently from what it says (a "Trojan Source" trick on the agent desk);
- a language other than the ones FinDesk serves.
"""

from __future__ import annotations

import re

from agent.errors import AgentError

LANGUAGES = ("en", "zh")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")  # LRE RLE PDF LRO RLO, LRI RLI FSI PDI


def check_message_text(text: str, max_chars: int) -> None:
    if len(text) > max_chars:
        raise AgentError(f"That message is too long ({len(text):,} characters; the limit is {max_chars:,}).")
    check_plain_text(text)


def check_plain_text(text: str) -> None:
    """Readable plain text: also what an agent sends a customer (a pasted IBAN with an override reads reversed)."""
    if "\ufffd" in text:
        raise AgentError("Part of that message was not valid UTF-8 text, so it could not be read. Please retype it.")
    if _CONTROL.search(text):
        raise AgentError("That message contains control characters; please send plain text.")
    if _BIDI.search(text):
        raise AgentError("That message contains Unicode direction-override characters; please send plain text.")


def check_language(language: str | None) -> None:
    if language and language not in LANGUAGES:
        raise AgentError(f"Unknown language {language!r}: use one of {', '.join(LANGUAGES)}, or leave it empty.")
