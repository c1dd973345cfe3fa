"""Response headers that tell the browser what our pages may do, whatever text ends up in them.

Content-Security-Policy: scripts, styles, images, media and connections only from FinDesk itself (images
also as data: URIs, as the desk shows screenshots; blob: for recordings), forms only post back to FinDesk,
and only FinDesk and the configured embedding origins may frame a page. Gradio's pages carry inline scripts
and styles, so those stay allowed; escaping (ui.safe_html) is what keeps customer text from becoming markup.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# FastAPI's /docs and /redoc load Swagger UI / ReDoc from this CDN (staff and developers only).
DOCS_CDN = "https://cdn.jsdelivr.net"
DOCS_PATHS = ("/docs", "/redoc")


def content_security_policy(embedding_origins: tuple[str, ...] = (), *, docs: bool = False) -> str:
    cdn = f" {DOCS_CDN}" if docs else ""
    directives = {
        "default-src": "'self'",
        "script-src": f"'self' 'unsafe-inline'{cdn}",
        "style-src": f"'self' 'unsafe-inline'{cdn}",
        "img-src": "'self' data: blob:" + (" https://fastapi.tiangolo.com" if docs else ""),
        "media-src": "'self' data: blob:",
        "font-src": "'self' data:",
        "connect-src": "'self'",
        "worker-src": "'self' blob:",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": " ".join(("'self'", *embedding_origins)),
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class SecurityHeaders:
    """Adds CSP, nosniff and Referrer-Policy to every HTTP response (plain ASGI: streams pass untouched)."""

    def __init__(self, app: ASGIApp, embedding_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.headers = {
            "Content-Security-Policy": content_security_policy(embedding_origins),
            "X-Content-Type-Options": "nosniff",
            # Links to other sites learn nothing about the page they came from.
            "Referrer-Policy": "same-origin",
        }
        self.docs_policy = content_security_policy(embedding_origins, docs=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] in DOCS_PATHS

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers[name] = value
                if docs:
                    headers["Content-Security-Policy"] = self.docs_policy
            await send(message)

        await self.app(scope, receive, with_headers)
