"""The operator console's Reports tab: the figures of `findesk report` as charts, with a CSV download.

The figures come from agent.reports (the same code as the CLI and GET /api/reports); this module only
turns them into Gradio plots. The CSV link is the operator-only HTTP route, so no file sits in Gradio's cache.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

import gradio as gr
import pandas as pd

from agent.reports import build_report
from agent.services import Services
from ui.auth import UserStore
from ui.errors import as_gradio_error
from ui.login import require_staff


class ReportHandlers:
    def __init__(self, services: Services, users: UserStore) -> None:
        self.services = services
        self.users = users

    @as_gradio_error
    def show(self, since: str, until: str, request: gr.Request) -> tuple[Any, ...]:
        """(summary, conversations by day, handoff reasons, sentiment trend, CSV link)."""
        require_staff(request, self.users, "operator")
        low, high = _day(since, "From"), _day(until, "Until")
        if low and high and high <= low:
            raise gr.Error("'Until' must be after 'From'.")
        store = self.services.knowledge_base.store
        report = build_report(
            self.services.database, lambda entry_id: e.category if (e := store.get(entry_id)) else None, low, high
        )
        return (
            _summary(report),
            _by_day(report),
            pd.DataFrame(
                [{"reason": reason, "handoffs": count} for reason, count in report["handoff_reasons"].items()],
                columns=["reason", "handoffs"],
            ),
            pd.DataFrame(report["sentiment_trend"], columns=["day", "mean_score", "messages"]),
            _csv_link(low, high),
        )


def _day(value: str, label: str) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise gr.Error(f"{label}: write the day as YYYY-MM-DD, e.g. 2026-12-01 (got {value!r}).") from error


def _summary(report: dict[str, Any]) -> str:
    def show(value: Any) -> str:
        return "–" if value is None else str(value)

    first, resolution = report["first_response_time_s"], report["resolution_time_s"]
    return (
        f"**{report['conversations']}** conversations · **{report['bot_resolved']}** answered by the bot alone · "
        f"**{report['handed_over']}** handed over · deflection **{report['deflection_rate']:.0%}**\n\n"
        f"First response p50 {show(first['p50'])} s, p90 {show(first['p90'])} s · resolution p50 "
        f"{show(resolution['p50'])} s, p90 {show(resolution['p90'])} s\n\n"
        f"CSAT **{show(report['csat_avg'])}** from {report['csat_count']} ratings · 👍 {report['thumbs_up']} · "
        f"👎 {report['thumbs_down']} · unanswered questions **{report['unanswered_questions']}**"
    )


def _by_day(report: dict[str, Any]) -> pd.DataFrame:
    rows = [
        {"day": day, "outcome": outcome, "conversations": figures[key]}
        for day, figures in report["by_day"].items()
        for key, outcome in (("bot_resolved", "bot alone"), ("handed_over", "handed over"))
    ]
    return pd.DataFrame(rows, columns=["day", "outcome", "conversations"])


def _csv_link(since: date | None, until: date | None) -> str:
    query = urlencode({k: v.isoformat() for k, v in (("since", since), ("until", until)) if v})
    return f'<p><a href="/api/reports.csv{"?" + query if query else ""}" download>⬇ Download as CSV</a></p>'


def reports_tab(services: Services, users: UserStore) -> None:
    """Build the tab inside the console's gr.Tabs."""
    handlers = ReportHandlers(services, users)
    with gr.Tab("Reports", id="reports"):
        with gr.Row():
            since = gr.Textbox(label="From (YYYY-MM-DD, UTC)", placeholder="the beginning", elem_id="report-since")
            until = gr.Textbox(label="Until, not included", placeholder="now", elem_id="report-until")
            refresh = gr.Button("Show report", variant="primary", elem_id="report-show")
        summary = gr.Markdown(elem_id="report-summary")
        with gr.Row():
            by_day = gr.BarPlot(x="day", y="conversations", color="outcome", title="Conversations by day")
            reasons = gr.BarPlot(x="reason", y="handoffs", title="Handoff reasons")
        trend = gr.LinePlot(x="day", y="mean_score", title="Customer sentiment (mean per day, -1..1)")
        csv_link = gr.HTML()
    refresh.click(handlers.show, [since, until], [summary, by_day, reasons, trend, csv_link], api_visibility="private")
