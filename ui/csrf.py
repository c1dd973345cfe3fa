"""Cross-site request forgery: a request the staff session cookie authenticates must come from FinDesk's pages.

SameSite=Strict keeps the cookie off requests from other sites, but not from other origins of the same site
(another port or subdomain of the host: schemeful same-site ignores ports). So every request that carries the
cookie and no Bearer token is checked: with an `Origin` header it must be ours (any method: this also stops
other origins reading staff data through Gradio's permissive local CORS); a state-changing request without
`Origin` needs `Sec-Fetch-Site: same-origin`. Browsers send both; scripts should use a Bearer token, which a
foreign page cannot attach. A sign-in from a foreign Origin is refused too, so another origin cannot sign a browser in.

"Ours" is the Host the request was sent to: a reverse proxy must pass Host through (nginx: `proxy_set_header
Host $host;`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_host(origin: str) -> str | None:
    """'https://bank.example:443' -> 'bank.example'; the host[:port] a browser would send as Host."""
    try:
        parts = urlsplit(origin.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return host if port in (None, _DEFAULT_PORTS[parts.scheme]) else f"{host}:{port}"


def is_same_origin(headers: Headers, method: str) -> bool:
    """Whether a cookie-authenticated request may proceed (see the module docstring)."""
    origin = headers.get("origin")
    if origin is not None:
        return origin_host(origin) == headers.get("host", "").lower()
    if method in SAFE_METHODS:
        return True  # a plain navigation or subresource load: it cannot read the answer cross-origin
    return headers.get("sec-fetch-site") == "same-origin"


class CsrfGuard:
    """Plain ASGI middleware: refuse (403) cookie-authenticated requests that another origin made."""

    def __init__(self, app: ASGIApp, cookie: str, login_path: str = "/login") -> None:
        self.app = app
        self.cookie = cookie
        self.login_path = login_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        method = scope.get("method", "GET")  # a websocket handshake is a GET
        if not self._allowed(scope, headers, method):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})  # policy violation
                return
            message = (
                "Refused: this request came from another site or page, not from FinDesk's own pages, and it "
                "carries your sign-in cookie (cross-site request forgery protection). Scripts should send "
                "`Authorization: Bearer <token>` instead of the cookie."
            )
            await JSONResponse({"error": message}, status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope, headers: Headers, method: str) -> bool:
        if headers.get("authorization", "").lower().startswith("bearer "):
            return True  # a foreign page cannot attach our token; the cookie is then ignored (ui.login)
        if self.cookie in cookie_parser(headers.get("cookie", "")):
            return is_same_origin(headers, method)
        if scope["path"] == self.login_path and method == "POST":  # no cookie yet: refuse only a foreign Origin
            origin = headers.get("origin")
            return origin is None or origin_host(origin) == headers.get("host", "").lower()
        return True
