"""Staff login for the web: the /login page, the session cookie, and the checks that guard /desk and /console.

Three layers, so one mistake does not open a door:
1. `StaffGate` middleware refuses every request under /desk and /console (pages, Gradio's queue, uploads,
   files, its API info) unless the session cookie or a Bearer token belongs to a user with the page's role;
2. the same check is the Gradio apps' `auth_dependency`, so `gr.Request.username` is the signed-in user;
3. every privileged handler calls `require_staff`, which re-reads the user's role from the database.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from urllib.parse import quote

import gradio as gr
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from retrieval.errors import StoreUnavailable
from ui.auth import SESSION_HOURS, AuthError, LoginThrottled, User, UserStore
from ui.uploads import client_of

COOKIE = "findesk_session"
# Each staff page and the role it needs; `next` redirects are only ever to one of these.
STAFF_PAGES = {"/desk": "agent", "/console": "operator"}


def request_user(request: Request, users: UserStore) -> User | None:
    """The signed-in staff user: a Bearer token (API clients) or the session cookie (browsers)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return users.user_for_token(header[7:].strip())
    return users.user_for_token(request.cookies.get(COOKIE))


def auth_dependency(users: UserStore, role: str) -> Callable[[Request], str | None]:
    """For `gr.mount_gradio_app(auth_dependency=...)`: the user's name if they hold `role`, else None (401)."""

    def dependency(request: Request) -> str | None:
        user = request_user(request, users)
        return user.name if user is not None and user.role == role else None

    return dependency


def require_staff(request: gr.Request | None, users: UserStore, role: str) -> User:
    """Inside a Gradio handler: the signed-in user holding `role`, or gr.Error. Checked on every call."""
    name = getattr(request, "username", None) if request is not None else None
    user = users.get(name) if name else None
    if user is None or user.role != role:
        raise gr.Error(f"Sign in as {'an' if role[0] in 'aeiou' else 'a'} {role} to do this.")
    return user


class StaffGate:
    """Refuse anything under a staff page's prefix without the right role: browsers go to /login.

    Plain ASGI rather than BaseHTTPMiddleware, so Gradio's server-sent event streams pass through untouched.
    """

    def __init__(self, app: ASGIApp, users: UserStore) -> None:
        self.app = app
        self.users = users

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path = scope["path"]
            for prefix, role in STAFF_PAGES.items():
                if path == prefix or path.startswith(prefix + "/"):
                    request = Request(scope)
                    try:
                        user = request_user(request, self.users)
                    except StoreUnavailable as error:  # staff see why their page is not there
                        if scope["type"] == "websocket":
                            await send({"type": "websocket.close", "code": 1011})  # server error
                        else:
                            await JSONResponse({"error": str(error)}, status_code=503)(scope, receive, send)
                        return
                    if user is None or user.role != role:
                        if scope["type"] == "websocket":
                            await send({"type": "websocket.close", "code": 1008})  # policy violation
                        else:
                            await self._refuse(request, prefix, role)(scope, receive, send)
                        return
        await self.app(scope, receive, send)

    @staticmethod
    def _refuse(request: Request, prefix: str, role: str) -> Response:
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            return RedirectResponse(f"/login?next={quote(prefix + '/')}", status_code=303)
        return JSONResponse({"error": f"Sign in as a user with the {role} role."}, status_code=401)


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>FinDesk staff sign-in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;background:#f4f6f8;display:flex;justify-content:center;padding-top:10vh}}
form{{background:#fff;padding:2rem;border-radius:12px;box-shadow:0 2px 12px #0002;min-width:300px}}
label{{display:block;margin:.8rem 0 .2rem}}input{{width:100%;padding:.5rem;box-sizing:border-box}}
button{{margin-top:1.2rem;width:100%;padding:.6rem;background:#1f6feb;color:#fff;border:0;border-radius:6px}}
.error{{color:#b42318}}</style></head><body><form method="post" action="/login">
<h2>FinDesk staff sign-in</h2><p class="error">{error}</p>
<input type="hidden" name="next" value="{next}">
<label for="username">User name</label><input id="username" name="username" autocomplete="username" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></body></html>"""


SIGN_OUT = (
    '<form method="post" action="/logout" style="display:inline">'
    '<button type="submit" id="sign-out" style="text-decoration:underline">sign out</button></form>'
)  # a POST form: a GET that signs out could be triggered by any link or image, even in a customer's message


def staff_header(page: str, name: str, detail: str = "") -> str:
    """The staff pages' heading as HTML: the page, who is signed in, and the sign-out button."""
    return f"<h2>FinDesk · {page}</h2><p>Signed in as <strong>{html.escape(name)}</strong> · {detail}{SIGN_OUT}</p>"


_SIGN_OUT_PAGE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>FinDesk · sign out</title>
</head><body style="font-family:system-ui,sans-serif"><p>Sign out of FinDesk? {SIGN_OUT}</p></body></html>"""


def _safe_next(target: str, role: str) -> str:
    """Only redirect to the staff page the user may open: no open redirects, no wrong-role loops."""
    for prefix, page_role in STAFF_PAGES.items():
        if target.rstrip("/") == prefix and page_role == role:
            return prefix + "/"
    return next(prefix + "/" for prefix, page_role in STAFF_PAGES.items() if page_role == role)


def login_router(
    users: UserStore,
    *,
    secure_cookies: bool | None = None,
    on_sign_out: Callable[[User], None] | None = None,
) -> APIRouter:
    """/login and /logout. `secure_cookies` None: the cookie is Secure when the request came over HTTPS (the
    scheme as ProxyHeadersMiddleware set it from a trusted proxy's X-Forwarded-Proto; see ui/app.py).
    `on_sign_out` runs for the user a sign-out ends (the desk marks an agent away)."""
    router = APIRouter(include_in_schema=False)

    def secure(request: Request) -> bool:
        return request.url.scheme == "https" if secure_cookies is None else secure_cookies

    @router.get("/login", response_class=HTMLResponse)
    def login_page(next: str = "/desk/") -> str:
        return _PAGE.format(error="", next=html.escape(next))

    @router.post("/login")
    def login(
        request: Request, username: str = Form(...), password: str = Form(...), next: str = Form("/desk/")
    ) -> Response:
        try:
            token = users.login(username.strip(), password, address=client_of(request))
        except AuthError as error:
            page = _PAGE.format(error=html.escape(str(error)), next=html.escape(next))
            if isinstance(error, LoginThrottled):
                return HTMLResponse(page, status_code=429, headers={"Retry-After": str(error.retry_after_s)})
            return HTMLResponse(page, status_code=401)
        user = users.user_for_token(token)
        assert user is not None
        response = RedirectResponse(_safe_next(next, user.role), status_code=303)
        # SameSite=Strict: a cross-site page cannot make the browser send it (other origins of the same site
        # are refused by ui.csrf); HttpOnly keeps it away from page scripts; Secure keeps it off plain HTTP.
        response.set_cookie(
            COOKIE, token, max_age=SESSION_HOURS * 3600, httponly=True, samesite="strict", secure=secure(request)
        )
        return response

    @router.get("/logout", response_class=HTMLResponse)
    def logout_page() -> str:
        """Only asks: signing out is a POST, so a link or an image pointing here does nothing."""
        return _SIGN_OUT_PAGE

    @router.post("/logout")
    def logout(request: Request) -> Response:
        token = request.cookies.get(COOKIE)
        user = users.user_for_token(token)
        if token:
            users.revoke(token)
        if user is not None and on_sign_out is not None:
            on_sign_out(user)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=secure(request))
        return response

    return router
