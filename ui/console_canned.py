"""The operator console's Canned responses tab: the team's shared replies, per language (agent.canned).

Add, edit and delete one at a time; import a JSONL or CSV file, or paste JSONL (all or nothing); export as
a JSONL download from the operator-only HTTP route. Placeholders: {customer_name}, {agent_name}.
The file goes through the upload gate like every other file input (ui/uploads.py): only a file this operator's
browser uploaded, of an accepted kind and size, is read, and it is deleted at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from agent.canned import MAX_IMPORT_BYTES, Canned, CannedError
from agent.services import Services
from ui.auth import UserStore
from ui.errors import as_gradio_error
from ui.login import require_staff
from ui.uploads import CANNED_FILE_TYPES, Uploads

HEADERS = ["shortcut", "language", "title", "text", "updated by"]
EMPTY = ("", "en", "", "")


class CannedHandlers:
    def __init__(self, services: Services, users: UserStore, uploads: Uploads) -> None:
        self.services = services
        self.users = users
        self.uploads = uploads

    def _operator(self, request: gr.Request) -> str:
        return require_staff(request, self.users, "operator").name

    @as_gradio_error
    def table(self, request: gr.Request) -> list[list[str]]:
        self._operator(request)
        return [[c.shortcut, c.language, c.title, c.text, c.updated_by] for c in self.services.canned.list()]

    @as_gradio_error
    def pick(self, evt: gr.SelectData, rows: Any, request: gr.Request) -> tuple[str, ...]:
        """One click on a row puts that response in the form."""
        self._operator(request)
        row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        values = rows.values.tolist() if hasattr(rows, "values") else rows
        shortcut, language, title, text, _ = values[row]
        return shortcut, language, title, text

    @as_gradio_error
    def add(self, shortcut: str, language: str, title: str, text: str, request: gr.Request) -> str:
        return self._save(Canned(shortcut, language, title, text), request, new=True)

    @as_gradio_error
    def save(self, shortcut: str, language: str, title: str, text: str, request: gr.Request) -> str:
        return self._save(Canned(shortcut, language, title, text), request, new=False)

    def _save(self, canned: Canned, request: gr.Request, *, new: bool) -> str:
        saved = self.services.canned.save(canned, actor=self._operator(request), new=new)
        gr.Info(f"Saved /{saved.shortcut} ({saved.language}).")
        return saved.shortcut

    @as_gradio_error
    def delete(self, shortcut: str, language: str, request: gr.Request) -> tuple[str, ...]:
        self._operator(request)
        self.services.canned.delete(shortcut.strip().lstrip("/"), language)
        gr.Info(f"Deleted /{shortcut} ({language}).")
        return EMPTY

    @as_gradio_error
    def import_jsonl(self, data: str, request: gr.Request) -> str:
        name = self._operator(request)
        count = self.services.canned.import_jsonl(data, actor=name)
        return f"Imported {count} canned responses."

    @as_gradio_error
    def import_canned_file(self, path: str | None, request: gr.Request) -> str:
        """A JSONL or CSV file of canned responses, imported all or nothing."""
        name = self._operator(request)
        if not path:
            raise gr.Error("Choose a JSONL or CSV file of canned responses first.")
        shown = Path(path).name
        data = self.uploads.take(path, request, allowed=CANNED_FILE_TYPES, max_bytes=MAX_IMPORT_BYTES)
        try:
            text = data.decode("utf-8-sig")  # a BOM, as spreadsheet programs write one, is not part of the header
        except UnicodeDecodeError as error:
            raise CannedError(f"{shown} is not UTF-8 text (byte {error.start}); save it as UTF-8 and retry.") from error
        try:
            count = self.services.canned.import_text(text, Path(path).suffix.lower().lstrip("."), actor=name)
        except CannedError as error:
            raise CannedError(f"{shown}: {error}") from error
        return f"Imported {count} canned responses from {shown}."


def canned_tab(services: Services, users: UserStore, uploads: Uploads) -> dict[str, Any]:
    """Build the tab inside the console's gr.Tabs; returns the table's refresh event (for page.load)."""
    h = CannedHandlers(services, users, uploads)
    hidden: dict[str, Any] = {"api_visibility": "private"}
    with gr.Tab("Canned responses", id="canned"):
        table = gr.Dataframe(headers=HEADERS, interactive=False, wrap=True, label="Click a row to edit",
                             elem_id="canned-table")  # fmt: skip
        with gr.Row():
            shortcut = gr.Textbox(label="Shortcut (typed as /shortcut)", elem_id="canned-shortcut")
            language = gr.Dropdown(label="Language", choices=["en", "zh"], value="en", elem_id="canned-language")
            title = gr.Textbox(label="Title", elem_id="canned-title")
        text = gr.Textbox(label="Text ({customer_name} and {agent_name} are filled in)", lines=4, elem_id="canned-text")
        with gr.Row():
            add = gr.Button("Add", variant="primary", elem_id="canned-add")
            save = gr.Button("Save changes", elem_id="canned-save")
            delete = gr.Button("Delete", variant="stop", elem_id="canned-delete")
        with gr.Accordion("Import / export", open=False):
            upload = gr.File(label="Canned responses file: JSONL, or CSV with columns shortcut, language, title, text",
                             file_types=list(CANNED_FILE_TYPES), elem_id="canned-file")  # fmt: skip
            run_file_import = gr.Button("Import the file (all or nothing)", elem_id="canned-import-file")
            pasted = gr.Textbox(label="Paste JSONL: one {shortcut, language, title, text} per line", lines=4)
            run_import = gr.Button("Import (all or nothing)")
            imported = gr.Markdown()
            gr.Markdown('<a href="/api/canned/export" download="canned.jsonl">⬇ Download all as JSONL</a>')
    form = [shortcut, language, title, text]
    listing = {"fn": h.table, "inputs": None, "outputs": [table], **hidden}
    table.select(h.pick, [table], form, **hidden)
    add.click(h.add, form, [shortcut], **hidden).then(**listing)
    save.click(h.save, form, [shortcut], **hidden).then(**listing)
    delete.click(h.delete, [shortcut, language], form, **hidden).then(**listing)
    run_import.click(h.import_jsonl, [pasted], [imported], **hidden).then(**listing)
    run_file_import.click(h.import_canned_file, [upload], [imported], api_name="import_canned_file", **hidden).then(
        **listing
    )
    return listing
