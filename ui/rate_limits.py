"""Rate limits on what anonymous customers can make the server do: chat turns and handoff requests.

Each action is limited per conversation and per client address (moving windows from the `limits` package;
rates are settings such as "20/minute"). Counts live in this process's memory: with several replicas each
one counts its own share, which still bounds a flood to a small multiple of the setting.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from agent.settings import SecurityConfig

ACTIONS = ("chat_turn", "handoff")


class RateLimited(Exception):
    """Too many requests: try again after `retry_after_s` seconds (HTTP 429 with Retry-After)."""

    def __init__(self, action: str, retry_after_s: int) -> None:
        what = "messages" if action == "chat_turn" else "requests for a person"
        super().__init__(f"Too many {what} in a short time: please wait {retry_after_s} s and try again.")
        self.action = action
        self.retry_after_s = retry_after_s


class RateLimits:
    def __init__(self, security: SecurityConfig) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._rules: dict[str, tuple[RateLimitItem, RateLimitItem]] = {
            "chat_turn": (parse(security.chat_turns_per_session), parse(security.chat_turns_per_address)),
            "handoff": (parse(security.handoffs_per_session), parse(security.handoffs_per_address)),
        }

    def hit(self, action: str, *, session_id: str = "", address: str = "") -> None:
        """Count one `action`, or raise RateLimited (counting nothing) if either of its limits is used up.

        An empty session id or address is not counted under that key (a conversation not opened yet).
        """
        per_session, per_address = self._rules[action]
        checks = [(rule, f"{kind}:{key}") for rule, kind, key in
                  ((per_session, "session", session_id), (per_address, "address", address)) if key]  # fmt: skip
        for rule, key in checks:
            if not self._limiter.test(rule, action, key):
                reset = self._limiter.get_window_stats(rule, action, key).reset_time
                raise RateLimited(action, max(1, math.ceil(reset - time.time())))
        for rule, key in checks:
            self._limiter.hit(rule, action, key)
