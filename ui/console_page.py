"""The operator console (role operator): FAQ table and forms, import/export, index status, query lab, gaps.

Every handler starts with `require_staff(request, users, "operator")`. Edits go through the knowledge
base, which updates its indexes live, so a customer finds a new entry on their next question.
Export is a link to the token/cookie-protected HTTP route, so the file never sits in Gradio's cache.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import gradio as gr

from agent.language import detect_language
from agent.policy import History, decide
from agent.services import Services
from agent.unanswered import group_unanswered, threshold_for, unanswered_messages
from retrieval.embedders import Embedder
from retrieval.errors import ImportRejected
from retrieval.types import FaqEntry
from ui.auth import UserStore
from ui.console_canned import canned_tab
from ui.console_reports import reports_tab
from ui.errors import as_gradio_error
from ui.login import require_staff, staff_header
from ui.uploads import FAQ_FILE_TYPES, Uploads

FAQ_HEADERS = ["id", "question", "category", "language", "version", "updated"]
HIT_HEADERS = ["rank", "entry", "question", "language", "dense", "lexical", "fused"]
GAP_HEADERS = ["count", "sessions", "question", "other phrasings", "routes", "last asked"]
EMPTY_FORM = ("", "", "", "", "", "en", "", None)  # id, question, answer, alternates, category, language, tags, ver


def _lines(value: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in value.splitlines() if line.strip())


def _tags(value: str) -> tuple[str, ...]:
    return tuple(tag.strip() for tag in value.split(",") if tag.strip())


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


class ConsoleHandlers:
    def __init__(self, services: Services, users: UserStore, uploads: Uploads) -> None:
        self.services = services
        self.users = users
        self.uploads = uploads

    def _operator(self, request: gr.Request) -> str:
        return require_staff(request, self.users, "operator").name

    @property
    def kb(self):  # noqa: ANN201 - the KnowledgeBase; built lazily by Services
        return self.services.knowledge_base

    @cached_property
    def gap_embedder(self) -> Embedder:
        """The knowledge base's own embedder: the model is already loaded for search."""
        return self.services.knowledge_base.embedders[self.services.settings.retrieval.embedder]

    # --- the FAQ table and form ------------------------------------------------------------------

    @as_gradio_error
    def table(self, text: str, category: str | None, language: str | None, request: gr.Request) -> tuple[Any, ...]:
        """(header, table rows, category choices): entries matching the filters."""
        name = self._operator(request)
        entries = self.kb.list_entries(text=text.strip() or None, category=category or None, language=language or None)
        rows = [[e.id, e.question, e.category, e.language, e.version, e.updated_at[:19]] for e in entries]
        categories = sorted({e.category for e in self.kb.list_entries() if e.category})
        header = staff_header("operator console", name)
        return header, rows, gr.Dropdown(choices=["", *categories], value=category or "")

    @as_gradio_error
    def pick(self, evt: gr.SelectData, request: gr.Request) -> tuple[Any, ...]:
        """A click on a table row loads that entry into the form."""
        self._operator(request)
        row = evt.row_value or []
        entry = self.kb.get(str(row[0])) if row else None
        if entry is None:
            raise gr.Error("That entry no longer exists; refresh the table.")
        return (entry.id, entry.question, entry.answer, "\n".join(entry.alternates), entry.category, entry.language,
                ", ".join(entry.tags), entry.version)  # fmt: skip

    @as_gradio_error
    def add(self, question: str, answer: str, alternates: str, category: str, language: str, tags: str,
            request: gr.Request) -> tuple[Any, ...]:  # fmt: skip
        """Save the form as a new entry (a fresh id); returns the form showing the saved entry."""
        entry = FaqEntry(id="", question=question.strip(), answer=answer.strip(), alternates=_lines(alternates),
                         category=category.strip(), language=language or "en", tags=_tags(tags))  # fmt: skip
        saved = self.kb.add(entry, actor=self._operator(request))
        gr.Info(f"Added {saved.id}: customers can find it now.")
        return saved.id, saved.version

    @as_gradio_error
    def save(self, entry_id: str, question: str, answer: str, alternates: str, category: str, language: str,
             tags: str, version: int | None, request: gr.Request) -> int:  # fmt: skip
        """Save edits to the loaded entry; refused if someone else changed it since it was loaded."""
        if not entry_id:
            raise gr.Error("Load an entry from the table first, or use 'Add as new entry'.")
        saved = self.kb.update(
            entry_id, actor=self._operator(request), expected_version=version, question=question.strip(),
            answer=answer.strip(), alternates=_lines(alternates), category=category.strip(), language=language,
            tags=_tags(tags),
        )  # fmt: skip
        gr.Info(f"Saved {saved.id} (version {saved.version}).")
        return saved.version

    @as_gradio_error
    def delete(self, entry_id: str, request: gr.Request) -> tuple[Any, ...]:
        if not entry_id:
            raise gr.Error("Load an entry from the table first.")
        self.kb.delete(entry_id, actor=self._operator(request))
        gr.Info(f"Deleted {entry_id}.")
        return EMPTY_FORM

    # --- import, status, query lab, gaps -----------------------------------------------------------

    @as_gradio_error
    def import_file(self, path: str | None, request: gr.Request, progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008
        """(summary, per-row problems): the whole file is imported, or nothing and every bad row listed."""
        actor = self._operator(request)
        if not path:
            raise gr.Error("Choose a JSONL, CSV or Markdown file first.")
        progress(0, desc="Checking the file")
        limit = self.services.settings.retrieval.max_import_bytes
        try:
            with self.uploads.claim(path, request, allowed=FAQ_FILE_TYPES, max_bytes=limit) as upload:
                report = self.kb.import_file(upload, actor=actor, progress=lambda done, total: progress(
                    (done, total), desc="Importing and indexing", unit="entries"))  # fmt: skip
        except ImportRejected as rejected:
            rows = [[p.line if p.line is not None else "", p.reason] for p in rejected.problems]
            return f"**Nothing was imported**: {len(rows)} problem(s) in {Path(path).name}. Fix them and retry.", rows
        summary = f"**Imported {Path(path).name}**: {report.added} added, {report.updated} updated, "
        return summary + f"{report.unchanged} unchanged.", []

    @as_gradio_error
    def status(self, request: gr.Request) -> str:
        self._operator(request)
        s = self.kb.status()
        rows = [("FAQ entries", s.entries), ("vectors", s.vectors), ("embedding model", s.embedder),
                ("index type", s.index_type), ("store version", s.store_version),
                ("index version", s.index_version), ("last index update", s.last_update or "–")]  # fmt: skip
        return "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)

    @as_gradio_error
    def try_query(self, query: str, request: gr.Request) -> tuple[str, list[list[Any]]]:
        """(route and reason, hits with their dense, lexical and fused scores) for a first-turn question."""
        self._operator(request)
        if not query.strip():
            raise gr.Error("Type a question to try.")
        result = self.kb.search(query.strip())
        sentiment = self.services.sentiment.score(query, detect_language(query), history=[])
        decision = decide(query, result, sentiment, History(), self.services.settings.agent)
        probability = "not fitted yet" if result.probability is None else f"{result.probability:.2f}"
        verdict = (
            f"**Route: {decision.route}** (priority {decision.priority}) · {decision.reason}\n\n"
            f"search route: {result.route} · P(top entry answers it): {probability} · {result.reason} · "
            f"sentiment {sentiment.label} {sentiment.score:+.2f}"
        )
        rows = [[n, h.entry_id, h.question, h.language, _score(h.dense_score), _score(h.lexical_score),
                 f"{h.score:.4f}"] for n, h in enumerate(result.hits, start=1)]  # fmt: skip
        return verdict, rows

    @as_gradio_error
    def gaps(self, threshold: float, request: gr.Request) -> tuple[list[list[Any]], list[list[str]]]:
        """(report rows, group state): unanswered customer messages grouped by similarity, biggest first."""
        self._operator(request)
        messages = unanswered_messages(self.services.conversations, self.services.feedback)
        groups = group_unanswered(messages, self.gap_embedder, threshold=threshold or None)
        rows = [[g.count, g.sessions, g.question, " | ".join(g.examples[1:]), ", ".join(g.routes), g.last_at[:16]]
                for g in groups]  # fmt: skip
        return rows, [list(g.examples) for g in groups]

    @as_gradio_error
    def draft_from_gap(self, evt: gr.SelectData, groups: list[list[str]], request: gr.Request) -> tuple[Any, ...]:
        """One click on a gap: a new-entry form with its question and phrasings, and the FAQ tab opened."""
        self._operator(request)
        row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        examples = groups[row] if 0 <= row < len(groups) else []
        if not examples:
            raise gr.Error("Refresh the report; that group is gone.")
        gr.Info("Write the answer, then press 'Add as new entry'.")
        return ("", examples[0], "", "\n".join(examples[1:]), "", "en", "", None, gr.Tabs(selected="faq"))

    @as_gradio_error
    def default_threshold(self, request: gr.Request) -> float:
        self._operator(request)
        return threshold_for(self.services.settings.retrieval.embedder)


def build_console_page(services: Services, users: UserStore, uploads: Uploads, **blocks: Any) -> gr.Blocks:
    h = ConsoleHandlers(services, users, uploads)
    hidden: dict[str, Any] = {"api_visibility": "private"}
    with gr.Blocks(title="FinDesk · operator console", **blocks) as page:
        header = gr.Markdown("<h2>FinDesk · operator console</h2>")
        with gr.Tabs() as tabs:
            with gr.Tab("FAQ", id="faq"):
                with gr.Row():
                    search = gr.Textbox(label="Search (Enter)", placeholder="words in question, phrasings or answer",
                                        scale=3, elem_id="faq-search")  # fmt: skip
                    category = gr.Dropdown(label="Category", choices=[""], value="", scale=1)
                    language = gr.Dropdown(label="Language", choices=["", "en", "zh"], value="", scale=1)
                table = gr.Dataframe(headers=FAQ_HEADERS, interactive=False, label="FAQ entries (click to edit)",
                                     wrap=True, max_height=380, elem_id="faq-table",
                                     column_widths=["24%", "46%", "9%", "7%", "6%", "8%"])  # fmt: skip
                with gr.Group():
                    with gr.Row():
                        entry_id = gr.Textbox(label="Entry id (empty for a new entry)", interactive=False, scale=2,
                                              elem_id="faq-id")  # fmt: skip
                        lang_in = gr.Dropdown(label="Language", choices=["en", "zh"], value="en",
                                              allow_custom_value=True, scale=1)  # fmt: skip
                        cat_in = gr.Textbox(label="Category", scale=1)
                        tags_in = gr.Textbox(label="Tags (comma-separated)", scale=2)
                    question = gr.Textbox(label="Question", elem_id="faq-question")
                    answer = gr.Textbox(label="Answer", lines=5, elem_id="faq-answer")
                    alternates = gr.Textbox(label="Other phrasings (one per line)", lines=3)
                version = gr.State(None)
                with gr.Row():
                    add = gr.Button("Add as new entry", variant="primary", elem_id="faq-add")
                    save = gr.Button("Save changes", elem_id="faq-save")
                    delete = gr.Button("Delete", variant="stop", elem_id="faq-delete")
                    clear = gr.Button("Clear form")
            with gr.Tab("Import / export", id="import"):
                upload = gr.File(label="FAQ file (JSONL, CSV or Markdown)", file_types=list(FAQ_FILE_TYPES))
                run_import = gr.Button("Import", variant="primary")
                import_summary = gr.Markdown()
                problems = gr.Dataframe(headers=["line", "problem"], interactive=False, label="Per-row problems")
                gr.Markdown('<a href="/api/faq/export" download="faq.jsonl">⬇ Download the whole FAQ as JSONL</a>')
            with gr.Tab("Index status", id="status"):
                status = gr.Markdown()
                refresh_status = gr.Button("Refresh")
            with gr.Tab("Try a query", id="query"):
                query = gr.Textbox(label="A customer question", elem_id="lab-query")
                run_query = gr.Button("Search", variant="primary")
                verdict = gr.Markdown()
                hits = gr.Dataframe(headers=HIT_HEADERS, interactive=False, label="Hits")
            with gr.Tab("Unanswered questions", id="gaps"):
                threshold = gr.Slider(0.3, 0.99, value=0.6, step=0.01, label="Group messages more similar than")
                refresh_gaps = gr.Button("Refresh report")
                gaps = gr.Dataframe(headers=GAP_HEADERS, interactive=False, wrap=True,
                                    label="Unanswered, grouped (click a row to draft an FAQ entry)")  # fmt: skip
                gap_groups = gr.State([])
            reports_tab(services, users)
            canned_listing = canned_tab(services, users, uploads)

        form = [entry_id, question, answer, alternates, cat_in, lang_in, tags_in, version]
        filters = [search, category, language]
        listing = {"fn": h.table, "inputs": filters, "outputs": [header, table, category], **hidden}
        page.load(**listing)
        page.load(**canned_listing)
        page.load(h.status, None, [status], **hidden)
        page.load(h.default_threshold, None, [threshold], **hidden)
        search.submit(**listing)
        category.input(**listing)
        language.input(**listing)
        table.select(h.pick, None, form, **hidden)
        add.click(h.add, form[1:7], [entry_id, version], **hidden).then(**listing)
        save.click(h.save, form, [version], **hidden).then(**listing)
        delete.click(h.delete, [entry_id], form, **hidden).then(**listing)
        clear.click(lambda: EMPTY_FORM, None, form, **hidden)
        run_import.click(h.import_file, [upload], [import_summary, problems], **hidden).then(**listing)
        refresh_status.click(h.status, None, [status], **hidden)
        run_query.click(h.try_query, [query], [verdict, hits], **hidden)
        query.submit(h.try_query, [query], [verdict, hits], **hidden)
        refresh_gaps.click(h.gaps, [threshold], [gaps, gap_groups], **hidden)
        gaps.select(h.draft_from_gap, [gap_groups], [*form, tabs], **hidden)
    return page
