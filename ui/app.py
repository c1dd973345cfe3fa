"""The web app: one FastAPI application with the JSON API, staff login, and three Gradio apps mounted.

    /chat/     customer chat (anonymous)          /api/...       JSON API (OpenAPI at /docs, /openapi.json)
    /desk/     agent desk (role agent)            /login         staff sign-in
    /console/  operator console (role operator)   /widget.js     the embeddable chat button (ui/widget.py)

Each page is its own gr.Blocks, so the customer page's API (what gradio_client or a raw HTTP call can reach)
contains only customer functions; the staff pages are behind `StaffGate` and Gradio's auth_dependency.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import gradio as gr
from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from agent.services import Services
from agent.settings import Settings
from ui.api import api_router, install_error_handlers
from ui.auth import UserStore
from ui.chat_page import build_chat_page
from ui.console_page import build_console_page
from ui.csrf import CsrfGuard
from ui.desk_page import build_desk_page
from ui.login import COOKIE, StaffGate, auth_dependency, login_router
from ui.rate_limits import RateLimits
from ui.security_headers import SecurityHeaders
from ui.upload_gate import UploadGate
from ui.uploads import AUDIO_TYPES, CANNED_FILE_TYPES, FAQ_FILE_TYPES, IMAGE_TYPES, Uploads
from ui.widget import widget_router

log = logging.getLogger("findesk.ui")

CSS = """
#chat .message-wrap { font-size: 15px; }
footer { display: none !important; }
"""


def _no_deep_links() -> JSONResponse:
    return JSONResponse({"error": "Deep links are turned off."}, status_code=404)


def build_app(
    settings: Settings, *, services: Services | None = None, users: UserStore | None = None, warm_up: bool = False
) -> FastAPI:
    """The whole web app; `warm_up` loads every model in the background once the server listens."""
    # A bank's server must not call out: Gradio's usage analytics stay off (also read when a Blocks is built).
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    services = services or Services(settings)
    users = users or UserStore.configured(services.database, settings.security)
    uploads = Uploads(settings.web)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        services.webhook_deliverer.start()  # a thread only when webhooks.urls is set
        if warm_up:  # listen at once (/healthz answers); /readyz says ready when the models are in
            threading.Thread(target=_warm_up, args=(services,), name="findesk-warm-up", daemon=True).start()
        yield
        services.close()
        users.close()

    app = FastAPI(
        title="FinDesk",
        description="Customer chat turns, the human handoff queue and FAQ editing. Staff endpoints need "
        "`Authorization: Bearer <token>` from `findesk user token NAME`.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.services, app.state.users, app.state.uploads = services, users, uploads
    install_error_handlers(app)
    limits = RateLimits(settings.security)  # chat turns and handoff requests, per conversation and per address
    app.include_router(api_router(services, users, limits))
    app.include_router(
        login_router(
            users,
            secure_cookies=settings.web.secure_cookies,
            on_sign_out=lambda user: services.team.sign_out(user.name),
        )
    )
    app.include_router(widget_router(settings.web))
    # The last added runs first: headers on every answer, then the CSRF check, the staff check, the upload gate.
    console_types = tuple(dict.fromkeys(FAQ_FILE_TYPES + CANNED_FILE_TYPES))  # FAQ files and canned responses
    accepted = {"/chat": IMAGE_TYPES + AUDIO_TYPES, "/desk": AUDIO_TYPES, "/console": console_types}
    app.add_middleware(UploadGate, uploads=uploads, accepted=accepted)
    app.add_middleware(StaffGate, users=users)
    app.add_middleware(CsrfGuard, cookie=COOKIE)
    app.add_middleware(SecurityHeaders, embedding_origins=settings.web.embedding_origins)
    # First of all: the client address and scheme from X-Forwarded-For/-Proto, believed only from trusted proxies
    # (upload limits, rate limits and the Secure cookie depend on them). `findesk serve` turns uvicorn's off.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.web.trusted_proxies))

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/chat/")

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """Alive: the process answers (a load balancer restarts a replica that stops answering this)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz() -> JSONResponse:
        """Ready for traffic: database reachable, FAQ index caught up with the change log, models loaded (503 if
        not, with which check failed; the reason itself is in the server log)."""
        readiness = services.readiness()
        body = {"status": "ready" if readiness.ready else "not ready", "checks": readiness.checks}
        return JSONResponse(body, status_code=200 if readiness.ready else 503)

    # run_history=False: Gradio would otherwise keep every call's inputs (customer messages) in localStorage.
    common = {"footer_links": [], "run_history": False, "show_error": False, "css": CSS, "theme": gr.themes.Soft()}
    max_upload = max(settings.agent.max_image_bytes, settings.speech.max_bytes)
    # Gradio deletes uploads nobody sent after upload_ttl_s (checked every minute at most).
    ttl = settings.web.upload_ttl_s
    blocks = {"analytics_enabled": False, "delete_cache": (min(60, ttl), ttl)}
    pages = (
        ("/chat", build_chat_page(services, uploads, limits, **blocks), None, max_upload),
        ("/desk", build_desk_page(services, users, uploads, **blocks), "agent", settings.speech.max_bytes),
        ("/console", build_console_page(services, users, uploads, **blocks), "operator",
         settings.retrieval.max_import_bytes),
    )  # fmt: skip
    for path, page, role, max_bytes in pages:
        # Gradio's deep links write a page's whole state (a customer's conversation, unredacted) to a
        # world-readable file that is never deleted. FinDesk uses none, so the route is answered here first.
        app.add_api_route(f"{path}/gradio_api/deep_link", _no_deep_links, methods=["GET"], include_in_schema=False)
        page.queue(default_concurrency_limit=8)
        gate = auth_dependency(users, role) if role else None
        gr.mount_gradio_app(app, page, path=path, auth_dependency=gate, max_file_size=max_bytes, **common)
        # Gradio accepts only files from its upload folder in event payloads, but only once it thinks the
        # app was launched, which a mounted app never is; without this a payload could name any server file.
        page.has_launched = True
    return app


def _warm_up(services: Services) -> None:
    try:
        services.warm_up()
        log.info("ready: FAQ index caught up and models loaded")
    except Exception:  # /readyz keeps saying "loading"; the first turn retries the model that failed
        log.exception("loading the models failed")
