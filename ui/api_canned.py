"""The canned-responses HTTP API, for staff only: agents read them, operators keep them.

    GET    /api/canned[?language=en]           list (agents and operators)
    GET    /api/canned/{language}/{shortcut}   one (agents and operators)
    POST   /api/canned                         add (operators; 409 if the shortcut exists in that language)
    PUT    /api/canned/{language}/{shortcut}   replace its title and text (operators; 404 if there is none)
    DELETE /api/canned/{language}/{shortcut}   delete (operators)
    GET    /api/canned/export                  all as JSONL, the console's import format (operators)

Authentication is the staff one of the whole API (`Authorization: Bearer <token>`, or a staff session cookie
that ui/csrf.py only accepts from FinDesk's own pages); a customer's X-Session-Token opens none of these.
Bad input gets 422 with what to fix (agent/canned.py checks shortcut, language, placeholders and length).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from agent.canned import Canned, CannedNotFound
from agent.services import Services
from ui.api_models import CannedIn, CannedOut, CannedUpdate
from ui.auth import User


def add_canned_routes(router: APIRouter, services: Services, staff_user: Any, operator_user: Any) -> None:
    """`staff_user` / `operator_user`: the API's Depends(...) role checks."""
    store = lambda: services.canned  # noqa: E731 - built on first use

    @router.get("/canned/export", tags=["canned"], response_class=PlainTextResponse)
    def canned_export(_user: User = operator_user) -> PlainTextResponse:
        """The team's canned responses as JSONL (the console's import format)."""
        attachment = {"Content-Disposition": 'attachment; filename="canned.jsonl"'}
        return PlainTextResponse(store().export_jsonl(), media_type="application/x-ndjson", headers=attachment)

    @router.get("/canned", tags=["canned"], response_model=list[CannedOut])
    def canned_list(language: Literal["en", "zh"] | None = None, _user: User = staff_user) -> list[CannedOut]:
        return [CannedOut.model_validate(c) for c in store().list(language)]

    @router.get("/canned/{language}/{shortcut}", tags=["canned"], response_model=CannedOut)
    def canned_get(language: str, shortcut: str, _user: User = staff_user) -> CannedOut:
        found = next((c for c in store().list(language) if c.shortcut == shortcut), None)  # no other language
        if found is None:
            raise CannedNotFound(f"No canned response /{shortcut} in {language}.")
        return CannedOut.model_validate(found)

    @router.post("/canned", tags=["canned"], response_model=CannedOut, status_code=201)
    def canned_add(body: CannedIn, user: User = operator_user) -> CannedOut:
        canned = Canned(body.shortcut, body.language, body.title, body.text)
        return CannedOut.model_validate(store().save(canned, actor=user.name, new=True))

    @router.put("/canned/{language}/{shortcut}", tags=["canned"], response_model=CannedOut)
    def canned_update(language: str, shortcut: str, body: CannedUpdate, user: User = operator_user) -> CannedOut:
        canned = Canned(shortcut, language, body.title, body.text)
        return CannedOut.model_validate(store().update(canned, actor=user.name))

    @router.delete("/canned/{language}/{shortcut}", tags=["canned"], status_code=204)
    def canned_delete(language: str, shortcut: str, _user: User = operator_user) -> None:
        store().delete(shortcut, language)
