"""The one door for browser uploads: Gradio's `POST /<page>/gradio_api/upload`, guarded per page and per client.

Before Gradio reads the body: the client's upload count and bytes for the window (429 with Retry-After when
over). After Gradio stored the files: each must be of a type the page accepts (else they are deleted at once
and the answer is 415), and the stored paths are recorded as this client's, so handlers accept only them
(`ui.uploads.Uploads`). Gradio's screen-recording route, which FinDesk never uses, is closed.

Plain ASGI rather than BaseHTTPMiddleware, so Gradio's streams pass through untouched.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ui.uploads import Uploads, discard


class UploadGate:
    def __init__(self, app: ASGIApp, uploads: Uploads, accepted: dict[str, tuple[str, ...]]) -> None:
        """`accepted`: each page's mount path ('/chat') and the file extensions its inputs take."""
        self.app = app
        self.uploads = uploads
        self.accepted = accepted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        page = self._page(scope)
        if page is None:
            await self.app(scope, receive, send)
            return
        if scope["path"].rstrip("/").endswith("/process_recording"):
            await JSONResponse({"error": "Screen recording is not used here."}, status_code=404)(scope, receive, send)
            return
        refusal = self._admit(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, keep)  # the answer is a short JSON list of stored paths: hold it
        refusal = self._check_stored(scope, page, messages)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        for message in messages:
            await send(message)

    def _page(self, scope: Scope) -> str | None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        path = scope["path"].rstrip("/")
        for page in self.accepted:
            if path in (f"{page}/gradio_api/upload", f"{page}/gradio_api/process_recording"):
                return page
        return None

    def _admit(self, scope: Scope) -> Response | None:
        headers = dict(scope["headers"])
        try:
            size = int(headers.get(b"content-length", b""))
        except ValueError:
            return JSONResponse({"error": "Send uploads with a Content-Length."}, status_code=411)
        wait = self.uploads.admit(_client(scope), size)
        if not wait:
            return None
        return JSONResponse(
            {"error": f"Too many uploads from your address; try again in {math.ceil(wait)} seconds."},
            status_code=429,
            headers={"Retry-After": str(math.ceil(wait))},
        )

    def _check_stored(self, scope: Scope, page: str, messages: list[Message]) -> Response | None:
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        if start is None or start["status"] != 200:
            return None
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        paths = [str(p) for p in json.loads(body)]
        accepted = self.accepted[page]
        refused = [Path(p).name for p in paths if Path(p).suffix.lower() not in accepted]
        if refused:
            for path in paths:
                discard(Path(path))
            names = ", ".join(refused)
            message = f"{names}: not a kind of file accepted here (accepted: {', '.join(accepted)})."
            return JSONResponse({"error": message}, status_code=415)
        self.uploads.record(_client(scope), paths)
        return None


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""
