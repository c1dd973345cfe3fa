"""The JSON HTTP API: a chat turn for anyone, the handoff queue for agents, FAQ editing for operators.

Staff endpoints take `Authorization: Bearer <token>` (from `findesk user token NAME`) or the browser's
session cookie. A customer's conversation is opened by the server (`POST /api/chat` without `session_id`),
whose reply carries `session_id` and a secret `session_token`; every later call for that conversation sends
the token in `X-Session-Token`, so knowing an id (the desk shows them) reads or writes nothing.
User-facing errors from agent/retrieval/speech become 4xx JSON `{"error": message}`;
anything else is logged and answered with a generic 500, never a stack trace.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from itertools import chain
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, File, Form, Header, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.security import HTTPBearer
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent.canned import CannedExists, CannedNotFound
from agent.conversations import ConversationNotFound, HandoffStateError
from agent.errors import AgentError, GeneratorError
from agent.feedback import AlreadyRated
from agent.reports import build_report, report_csv
from agent.services import Services
from agent.types import Reply, ReplyDelta, Turn
from retrieval.errors import (
    EntryExists,
    EntryNotFound,
    ImportRejected,
    RetrievalError,
    StoreUnavailable,
    VersionConflict,
)
from retrieval.types import FaqEntry
from speech.errors import SpeechError
from ui.api_canned import add_canned_routes
from ui.api_models import (
    AgentReplyIn,
    AgentStatusIn,
    AgentStatusOut,
    AssignIn,
    CsatIn,
    CsatOut,
    CustomerMessageOut,
    FaqEntryIn,
    FaqEntryOut,
    FaqEntryPatch,
    HandoffOut,
    HandoffStatusOut,
    ImportReportOut,
    IndexStatusOut,
    MessageOut,
    ReplyOut,
    ThumbIn,
    handoff_out,
)
from ui.auth import User, UserStore
from ui.errors import GENERIC, customer_message
from ui.login import request_user
from ui.rate_limits import RateLimited, RateLimits
from ui.strict_form import strict_form_route
from ui.uploads import client_of

log = logging.getLogger("findesk.api")
# Ids and offsets are 64-bit integers in the database; a larger number overflows the query (a 500 on SQLite).
INT64_MAX = 2**63 - 1
AfterId = Annotated[int, Query(ge=0, le=INT64_MAX, description="Only messages newer than this id (for polling).")]
MessageId = Annotated[int, PathParam(ge=0, le=INT64_MAX, description="turn_id from the reply.")]
NO_SESSION = "Unknown conversation or wrong X-Session-Token: send the session_token from the reply that started it."
_STATUS = {
    EntryNotFound: 404, ConversationNotFound: 404, EntryExists: 409, VersionConflict: 409, HandoffStateError: 409,
    AlreadyRated: 409, CannedExists: 409, CannedNotFound: 404, GeneratorError: 503, StoreUnavailable: 503,
}  # fmt: skip
# Declares the scheme for /docs ("Authorize" button); the check itself is `request_user`.
bearer = HTTPBearer(auto_error=False, description="A token from `findesk user token NAME`.")


def _category(entry: FaqEntry | None) -> str | None:
    return entry.category if entry else None


def _status_for(error: Exception) -> int:
    return next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 422)


def _field_problem(detail: dict[str, Any]) -> str:
    """ "stream: Input should be a valid boolean" from FastAPI's {"loc": ["body", "stream"], "msg": ...}."""
    where = [str(part) for part in detail.get("loc", ()) if part not in ("body", "query", "path", "header")]
    if detail.get("type") == "json_invalid":  # loc ends with the character offset of the syntax error
        reason = (detail.get("ctx") or {}).get("error", "")
        return f"the body is not valid JSON (at character {where[-1] if where else '?'}: {reason})"
    return f"{'.'.join(where) or 'the body'}: {detail.get('msg', 'invalid')}"


def install_error_handlers(app: FastAPI) -> None:
    async def user_error(request: Request, error: Exception) -> JSONResponse:
        customer = request.url.path.startswith("/api/chat")
        body: dict[str, object] = {"error": customer_message(error) if customer else str(error)}
        if isinstance(error, ImportRejected):
            body["problems"] = [{"line": p.line, "reason": p.reason} for p in error.problems]
        return JSONResponse(body, status_code=_status_for(error))

    async def http_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        return JSONResponse({"error": error.detail}, status_code=error.status_code, headers=error.headers)

    async def invalid_request(_request: Request, error: Exception) -> JSONResponse:
        # One error shape for every refusal: a readable `error`, plus FastAPI's per-field `detail` for tools.
        assert isinstance(error, RequestValidationError)
        details = jsonable_encoder(error.errors())
        body = {
            "error": "The request is not valid: " + "; ".join(_field_problem(d) for d in details),
            "detail": details,
        }
        return JSONResponse(body, status_code=422)

    async def too_many(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RateLimited)
        headers = {"Retry-After": str(error.retry_after_s)}
        return JSONResponse({"error": str(error)}, status_code=429, headers=headers)

    async def bug(_request: Request, error: Exception) -> JSONResponse:
        log.error("unexpected error in an API request", exc_info=error)
        return JSONResponse({"error": GENERIC["en"]}, status_code=500)

    for kind in (AgentError, RetrievalError, SpeechError):
        app.add_exception_handler(kind, user_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(RateLimited, too_many)
    app.add_exception_handler(Exception, bug)


def _role(users: UserStore, *roles: str) -> Callable[..., User]:
    def dependency(request: Request, _scheme: object = Depends(bearer)) -> User:
        user = request_user(request, users)
        if user is None:
            raise HTTPException(401, "Send `Authorization: Bearer <token>`; create one with `findesk user token NAME`.")
        if user.role not in roles:
            raise HTTPException(403, f"This needs the {' or '.join(roles)} role; {user.name} is an {user.role}.")
        return user

    return dependency


def _read_upload(upload: UploadFile | None, max_bytes: int, what: str) -> bytes | None:
    """The upload's bytes, reading at most one byte past the limit so a huge body is never held whole."""
    if upload is None or not upload.filename:
        return None
    data = upload.file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise HTTPException(413, f"The {what} is larger than the {max_bytes / 1e6:.0f} MB limit.")
    return data


def _ndjson(first: ReplyDelta | Reply, rest: Iterator[ReplyDelta | Reply], token: str | None) -> Iterator[bytes]:
    """One JSON object per line: {"type": "delta", "text"} ..., then {"type": "reply", ...} or "error"."""
    try:
        for event in chain([first], rest):
            if isinstance(event, ReplyDelta):
                yield (json.dumps({"type": "delta", "text": event.text}, ensure_ascii=False) + "\n").encode()
            else:
                body = {"type": "reply", **ReplyOut.of(event, session_token=token).model_dump()}
                yield (json.dumps(body, ensure_ascii=False) + "\n").encode()
    except (AgentError, RetrievalError, SpeechError) as error:
        body = {"type": "error", "error": customer_message(error)}
        yield (json.dumps(body, ensure_ascii=False) + "\n").encode()
    except Exception:
        log.exception("chat stream failed")
        yield (json.dumps({"type": "error", "error": GENERIC["en"]}) + "\n").encode()


def api_router(services: Services, users: UserStore, limits: RateLimits) -> APIRouter:
    settings = services.settings
    # Every multipart body is capped and its text fields checked as UTF-8 (ui/strict_form.py).
    max_body = max(settings.agent.max_image_bytes + settings.speech.max_bytes, settings.retrieval.max_import_bytes)
    router = APIRouter(prefix="/api", route_class=strict_form_route(max_body + 1_000_000))
    agent_user, operator_user = Depends(_role(users, "agent")), Depends(_role(users, "operator"))
    staff_user = Depends(_role(users, "agent", "operator"))

    def customer_session(session_id: str, token: str | None) -> str:
        """The conversation if `token` is its secret; one 401 for unknown ids and wrong tokens alike."""
        if not services.conversations.token_matches(session_id, token):
            raise HTTPException(401, NO_SESSION)
        return session_id

    # For routes with {session_id} in the path: every customer call after the first one.
    def session_in_path(
        session_id: str, x_session_token: Annotated[str | None, Header(description="From the first reply.")] = None
    ) -> str:
        return customer_session(session_id, x_session_token)

    own_session = Depends(session_in_path)

    # --- customers ---------------------------------------------------------------------------------

    @router.post("/chat", tags=["chat"], response_model=ReplyOut,
                 responses={200: {"content": {"application/x-ndjson": {}},
                                  "description": "With stream=true: NDJSON deltas, then the reply."}})  # fmt: skip
    def chat(
        request: Request,
        session_id: Annotated[
            str | None, Form(description="Empty starts a conversation; to continue one, also send X-Session-Token.")
        ] = None,
        text: Annotated[str, Form()] = "",
        language: Annotated[str | None, Form(description="'en' or 'zh'; detected when empty.")] = None,
        stream: Annotated[bool, Form(description="NDJSON: deltas as written, then the final reply.")] = False,
        image: Annotated[UploadFile | None, File(description="A screenshot (PNG, JPEG, WebP).")] = None,
        audio: Annotated[UploadFile | None, File(description="A voice message (wav, ogg, webm, mp3...).")] = None,
        x_session_token: Annotated[str | None, Header(description="With session_id: from the first reply.")] = None,
    ):  # noqa: ANN202 - JSON or a stream
        new_token = None
        if session_id:
            customer_session(session_id, x_session_token)
        limits.hit("chat_turn", session_id=session_id or "", address=client_of(request))
        if not session_id:  # opened only once the address may send another turn; this is its first
            session_id, new_token = services.conversations.open_session()
            limits.hit("chat_turn", session_id=session_id)
        turn = Turn(
            session_id=session_id,
            text=text,
            image=_read_upload(image, settings.agent.max_image_bytes, "image"),
            audio=_read_upload(audio, settings.speech.max_bytes, "audio clip"),
            language=language or None,
        )
        events = services.agent.stream(turn)
        first = next(events)  # errors before the first event (bad input) become a plain 4xx response
        if not stream:
            reply = first if isinstance(first, Reply) else next(e for e in events if isinstance(e, Reply))
            return ReplyOut.of(reply, session_token=new_token)
        return StreamingResponse(_ndjson(first, events, new_token), media_type="application/x-ndjson")

    @router.get("/chat/{session_id}/messages", tags=["chat"], response_model=list[CustomerMessageOut])
    def chat_messages(session_id: str = own_session, after_id: AfterId = 0) -> list[CustomerMessageOut]:
        """The customer's own conversation (poll with after_id for human agents' replies)."""
        return [CustomerMessageOut.of(m) for m in services.conversations.messages(session_id, after_id=after_id)]

    @router.post("/chat/{session_id}/handoff", tags=["chat"], response_model=HandoffStatusOut)
    def chat_handoff(request: Request, session_id: str = own_session) -> HandoffStatusOut:
        """The "talk to a person" button."""
        limits.hit("handoff", session_id=session_id, address=client_of(request))
        handoff = services.agent.request_human(session_id)
        queue = services.agent.queue_status(handoff.session_id)
        return HandoffStatusOut(
            session_id=handoff.session_id,
            status=handoff.status,
            queue_position=queue.position,
            replies_from=queue.opens_at,
        )

    @router.post("/chat/{session_id}/csat", tags=["chat"], response_model=CsatOut, status_code=201,
                 responses={409: {"description": "Already rated."},
                            422: {"description": "Not resolved by a person yet, or a bad score."}})  # fmt: skip
    def chat_csat(body: CsatIn, session_id: str = own_session) -> CsatOut:
        """Rate the conversation (once), after a member of our team resolved it."""
        rating = services.feedback.rate(session_id, body.score, body.comment)
        return CsatOut(session_id=rating.session_id, score=rating.score, comment=rating.comment, at=rating.at)

    @router.put("/chat/{session_id}/messages/{message_id}/thumb", tags=["chat"], status_code=204)
    def chat_thumb(message_id: MessageId, body: ThumbIn, session_id: str = own_session) -> None:
        """Thumbs up or down on one of the bot's answers (a thumbs down counts it as not answered)."""
        services.feedback.thumb(session_id, message_id, body.value)

    # --- agents --------------------------------------------------------------------------------------

    @router.get("/handoffs", tags=["handoffs"], response_model=list[HandoffOut])
    def handoffs(
        _user: User = agent_user, status: Annotated[list[str] | None, Query()] = None
    ) -> list[HandoffOut]:  # fmt: skip
        """Open handoffs, most urgent first, then longest waiting."""
        return [handoff_out(h) for h in services.conversations.queue(tuple(status or ("waiting", "claimed")))]

    @router.get("/handoffs/{session_id}/messages", tags=["handoffs"], response_model=list[MessageOut])
    def handoff_messages(session_id: str, after_id: AfterId = 0, _user: User = agent_user) -> list[MessageOut]:
        return [MessageOut.model_validate(m) for m in services.conversations.messages(session_id, after_id=after_id)]

    @router.post("/handoffs/{session_id}/claim", tags=["handoffs"], response_model=HandoffOut)
    def claim(session_id: str, user: User = agent_user) -> HandoffOut:
        return handoff_out(services.conversations.claim(session_id, user.name))

    @router.post("/handoffs/{session_id}/resolve", tags=["handoffs"], response_model=HandoffOut)
    def resolve(session_id: str, user: User = agent_user) -> HandoffOut:
        return handoff_out(services.conversations.resolve(session_id, user.name))

    @router.post("/handoffs/{session_id}/reply", tags=["handoffs"], response_model=MessageOut)
    def reply(session_id: str, body: AgentReplyIn, user: User = agent_user) -> MessageOut:
        """Post a message into the customer's chat (claims the conversation if it was waiting)."""
        return MessageOut.model_validate(services.conversations.add_agent_reply(session_id, user.name, body.text))

    @router.post("/handoffs/{session_id}/assign", tags=["handoffs"], response_model=HandoffOut)
    def assign(session_id: str, body: AssignIn, _user: User = agent_user) -> HandoffOut:
        """Give an open conversation to another agent, or back to the unassigned queue with `"agent": ""`."""
        if body.agent and ((target := users.get(body.agent)) is None or target.role != "agent"):
            raise HTTPException(422, f"{body.agent!r} is not an agent.")
        return handoff_out(services.conversations.reassign(session_id, body.agent))

    @router.put("/agents/me/status", tags=["handoffs"], response_model=AgentStatusOut)
    def my_status(body: AgentStatusIn, user: User = agent_user) -> AgentStatusOut:
        """Available: new handoffs are assigned to you in turn (up to desk.agent_capacity); away: none are.

        Each call also says you are here: a client that takes chats without the desk page sends it again at least
        every desk.presence_timeout_s (120 s), or round-robin skips you until it does."""
        assigned = services.team.set_status(user.name, body.status)
        me = next(a for a in services.team.statuses([user.name]) if a.name == user.name)
        return AgentStatusOut(name=me.name, status=me.status, open=me.open, capacity=services.team.capacity,
                              assigned=assigned)  # fmt: skip

    # --- operators -----------------------------------------------------------------------------------

    @router.get("/reports", tags=["reports"])
    def reports(
        since: date | None = None, until: date | None = None, _user: User = operator_user
    ) -> dict[str, Any]:  # fmt: skip
        """Conversations that started in [since, until) (UTC days): the figures of `findesk report --json`."""
        return _report(since, until)

    @router.get("/reports.csv", tags=["reports"], response_class=PlainTextResponse)
    def reports_csv(
        since: date | None = None, until: date | None = None, _user: User = operator_user
    ) -> PlainTextResponse:
        attachment = {"Content-Disposition": 'attachment; filename="findesk-report.csv"'}
        return PlainTextResponse(report_csv(_report(since, until)), media_type="text/csv", headers=attachment)

    add_canned_routes(router, services, staff_user, operator_user)

    def _report(since: date | None, until: date | None) -> dict[str, Any]:
        if since and until and until <= since:
            raise HTTPException(422, "until must be after since.")
        store = services.knowledge_base.store
        return build_report(services.database, lambda entry_id: _category(store.get(entry_id)), since, until)

    kb = lambda: services.knowledge_base  # noqa: E731 - built on first use, not at startup

    @router.get("/faq", tags=["faq"], response_model=list[FaqEntryOut])
    def faq_list(
        q: str | None = None, category: str | None = None, language: str | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100, offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
        _user: User = operator_user,
    ) -> list[FaqEntryOut]:  # fmt: skip
        entries = kb().list_entries(text=q, category=category, language=language, limit=limit, offset=offset)
        return [FaqEntryOut.model_validate(e) for e in entries]

    @router.get("/faq/status", tags=["faq"], response_model=IndexStatusOut)
    def faq_status(_user: User = operator_user) -> IndexStatusOut:
        return IndexStatusOut.model_validate(kb().status())

    @router.get("/faq/export", tags=["faq"], response_class=FileResponse)
    def faq_export(_user: User = operator_user) -> FileResponse:
        """The whole FAQ as JSONL (the import format), straight from the store."""
        folder = Path(tempfile.mkdtemp(prefix="findesk-export-"))
        path = folder / "faq.jsonl"
        kb().export_jsonl(path)
        cleanup = BackgroundTask(lambda: (path.unlink(missing_ok=True), folder.rmdir()))
        return FileResponse(path, media_type="application/x-ndjson", filename="faq.jsonl", background=cleanup)

    @router.post("/faq/import", tags=["faq"], response_model=ImportReportOut)
    def faq_import(
        file: Annotated[UploadFile, File(description="JSONL, CSV or Markdown")], user: User = operator_user
    ) -> ImportReportOut:
        """All or nothing: a refused file changes nothing and lists every bad row (422, `problems`)."""
        data = _read_upload(file, settings.retrieval.max_import_bytes, "FAQ file") or b""
        folder = Path(tempfile.mkdtemp(prefix="findesk-import-"))
        path = folder / Path(file.filename or "faq.jsonl").name  # the extension names the format
        try:
            path.write_bytes(data)
            return ImportReportOut.model_validate(kb().import_file(path, actor=user.name))
        except ImportRejected as rejected:  # name the operator's file, not our temporary copy of it
            raise ImportRejected(rejected.problems, source=path.name) from None
        finally:
            path.unlink(missing_ok=True)
            folder.rmdir()

    @router.get("/faq/{entry_id}", tags=["faq"], response_model=FaqEntryOut)
    def faq_get(entry_id: str, _user: User = operator_user) -> FaqEntryOut:
        entry = kb().get(entry_id)
        if entry is None:
            raise EntryNotFound(f"No FAQ entry {entry_id!r}.")
        return FaqEntryOut.model_validate(entry)

    @router.post("/faq", tags=["faq"], response_model=FaqEntryOut, status_code=201)
    def faq_add(body: FaqEntryIn, user: User = operator_user) -> FaqEntryOut:
        return FaqEntryOut.model_validate(kb().add(body.entry(), actor=user.name))

    @router.patch("/faq/{entry_id}", tags=["faq"], response_model=FaqEntryOut)
    def faq_edit(entry_id: str, body: FaqEntryPatch, user: User = operator_user) -> FaqEntryOut:
        saved = kb().update(entry_id, actor=user.name, expected_version=body.expected_version, **body.changes())
        return FaqEntryOut.model_validate(saved)

    @router.delete("/faq/{entry_id}", tags=["faq"], status_code=204)
    def faq_delete(entry_id: str, user: User = operator_user) -> None:
        kb().delete(entry_id, actor=user.name)

    return router
