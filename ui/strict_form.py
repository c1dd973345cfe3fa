"""Multipart forms whose text fields must be real UTF-8, with a cap on the body read to check them.

Starlette decodes a form field that is not valid UTF-8 as Latin-1 instead of refusing it, so a broken
client's bytes would be stored as mojibake ("Ã©" for "é") and no later check could tell it from real text.
This route class reads the body once (refusing it with 413 past `max_bytes`, and 411 without a
Content-Length, so nothing unbounded is held in memory), checks every non-file field strictly, and answers
422 naming the field; the normal form parsing then runs on the same, cached bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header


def strict_form_route(max_bytes: int) -> type[APIRoute]:
    class StrictFormRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handle = super().get_route_handler()

            async def strict(request: Request) -> Response:
                content_type, params = parse_options_header(request.headers.get("content-type", ""))
                if content_type == b"multipart/form-data":
                    length = request.headers.get("content-length", "")
                    if not length.isdigit():
                        raise HTTPException(411, "Send the form with a Content-Length header.")
                    if int(length) > max_bytes:
                        raise HTTPException(413, f"The request is larger than the {max_bytes / 1e6:.0f} MB limit.")
                    try:
                        fields = text_fields(await request.body(), params.get(b"boundary", b""))
                    except MultipartParseError as error:  # no boundary, or a body cut short: the client's fault
                        raise HTTPException(
                            400,
                            f"The body is not a readable multipart/form-data form ({error}); send it with the "
                            "boundary its Content-Type names, as `curl -F` does.",
                        ) from None
                    for name, value in fields:
                        try:
                            value.decode("utf-8")
                        except UnicodeDecodeError:
                            raise HTTPException(422, f"The form field {name!r} is not valid UTF-8 text.") from None
                return await handle(request)

            return strict

    return StrictFormRoute


def text_fields(body: bytes, boundary: bytes) -> list[tuple[str, bytes]]:
    """The (name, raw bytes) of every form field that is not a file upload."""
    fields: list[tuple[str, bytes]] = []
    part: dict[str, Any] = {}

    def begin() -> None:
        part.clear()
        part.update(header=b"", value=b"", disposition=b"", data=bytearray(), name="", is_file=False)

    def header_end() -> None:
        if part["header"].lower() == b"content-disposition":
            part["disposition"] = part["value"]
        part["header"], part["value"] = b"", b""

    def headers_finished() -> None:
        _, options = parse_options_header(part["disposition"])
        part["name"] = options.get(b"name", b"").decode("utf-8", "replace")
        part["is_file"] = b"filename" in options

    def data(chunk: bytes, start: int, end: int) -> None:
        if not part["is_file"]:
            part["data"] += chunk[start:end]

    def end() -> None:
        if not part["is_file"]:
            fields.append((part["name"], bytes(part["data"])))

    callbacks = {
        "on_part_begin": begin,
        "on_header_field": lambda chunk, start, end: part.__setitem__("header", part["header"] + chunk[start:end]),
        "on_header_value": lambda chunk, start, end: part.__setitem__("value", part["value"] + chunk[start:end]),
        "on_header_end": header_end,
        "on_headers_finished": headers_finished,
        "on_part_data": data,
        "on_part_end": end,
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    parser.write(body)
    parser.finalize()
    return fields
