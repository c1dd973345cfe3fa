"""The operator console's Reports tab: the figures of `findesk report` as charts, with a CSV download.

The figures come from agent.reports (the same code as the CLI and GET /api/reports); this module only
draws them. Charts are matplotlib figures in gr.Plot, which Gradio sends as PNG images: its Vega-based
BarPlot/LinePlot compile expressions with eval, which the pages' Content-Security-Policy refuses. The CSV
link is the operator-only HTTP route, so no file sits in Gradio's cache.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

import gradio as gr
from matplotlib.figure import Figure

from agent.feedback import Rating
from agent.reports import build_report
from agent.services import Services
from ui.auth import UserStore
from ui.desk_assign import team_html
from ui.errors import as_gradio_error
from ui.login import require_staff
from ui.safe_html import text_html

LATEST_COMMENTS = 20  # the newest rating comments shown under the charts
NO_COMMENTS = "*No rating comments in this period.*"


class ReportHandlers:
    def __init__(self, services: Services, users: UserStore) -> None:
        self.services = services
        self.users = users

    @as_gradio_error
    def show(self, since: str, until: str, request: gr.Request) -> tuple[Any, ...]:
        """(summary, conversations by day, handoff reasons, sentiment trend, CSV link, rating comments)."""
        require_staff(request, self.users, "operator")
        low, high = _day(since, "From"), _day(until, "Until")
        if low and high and high <= low:
            raise gr.Error("'Until' must be after 'From'.")
        store = self.services.knowledge_base.store
        report = build_report(
            self.services.database, lambda entry_id: e.category if (e := store.get(entry_id)) else None, low, high
        )
        # Ratings given in the period (the report counts them by when the conversation started; close enough
        # for reading what customers wrote).
        ratings = self.services.feedback.ratings(
            low.isoformat() if low else "", (high.isoformat() if high else "\uffff")
        )
        return (
            _summary(report), _by_day(report), _reasons(report), _trend(report), _csv_link(low, high),
            _comments(ratings),
        )  # fmt: skip

    @as_gradio_error
    def team(self, request: gr.Request) -> str:
        """The agents' status and open conversations now, as the desk shows them."""
        require_staff(request, self.users, "operator")
        return team_html(self.services, self.users, me="") or "<p><em>No agents yet.</em></p>"


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
        f"CSAT **{show(report['csat_avg'])}** from {report['csat_count']} ratings · thumbs up "
        f"{report['thumbs_up']}, down {report['thumbs_down']} · unanswered questions "
        f"**{report['unanswered_questions']}**"
    )


def _comments(ratings: list[Rating]) -> str:
    """The newest comments customers sent with their rating, as escaped text (they wrote them; PII redacted)."""
    rows = [r for r in reversed(ratings) if r.comment][:LATEST_COMMENTS]
    if not rows:
        return NO_COMMENTS
    items = "".join(
        f"<li>{'★' * r.score} ({r.score}) · {text_html(r.at[:16].replace('T', ' '))} · "
        f"{text_html(r.agent or '–')}: {text_html(r.comment)}</li>"
        for r in rows
    )
    return f"<p><strong>Rating comments</strong> (newest first)</p><ul>{items}</ul>"


def _figure(title: str) -> tuple[Figure, Any]:
    figure = Figure(figsize=(6, 3.2), layout="constrained")
    axes = figure.subplots()
    axes.set_title(title)
    return figure, axes


def _by_day(report: dict[str, Any]) -> Figure:
    """Conversations per day, stacked: answered by the bot alone, handed over."""
    figure, axes = _figure("Conversations by day")
    days = list(report["by_day"])
    bot = [report["by_day"][d]["bot_resolved"] for d in days]
    handed = [report["by_day"][d]["handed_over"] for d in days]
    axes.bar(days, bot, label="bot alone", color="#4f7ee8")
    axes.bar(days, handed, bottom=bot, label="handed over", color="#f29e4c")
    axes.legend(loc="upper left")
    axes.tick_params(axis="x", labelrotation=30)
    return figure


def _reasons(report: dict[str, Any]) -> Figure:
    figure, axes = _figure("Handoff reasons")
    reasons = report["handoff_reasons"]
    axes.barh(list(reasons), list(reasons.values()), color="#f29e4c")
    axes.invert_yaxis()
    return figure


def _trend(report: dict[str, Any]) -> Figure:
    figure, axes = _figure("Customer sentiment (mean per day, -1..1)")
    trend = report["sentiment_trend"]
    axes.plot([row["day"] for row in trend], [row["mean_score"] for row in trend], marker="o", color="#4f7ee8")
    axes.axhline(0, color="#999", linewidth=0.8)
    axes.set_ylim(-1, 1)
    axes.tick_params(axis="x", labelrotation=30)
    return figure


def _csv_link(since: date | None, until: date | None) -> str:
    query = urlencode({k: v.isoformat() for k, v in (("since", since), ("until", until)) if v})
    return f"[⬇ Download as CSV](/api/reports.csv{'?' + query if query else ''})"


def reports_tab(services: Services, users: UserStore) -> None:
    """Build the tab inside the console's gr.Tabs."""
    handlers = ReportHandlers(services, users)
    with gr.Tab("Reports", id="reports"):
        with gr.Row():
            since = gr.Textbox(label="From (YYYY-MM-DD, UTC)", placeholder="the beginning", elem_id="report-since")
            until = gr.Textbox(label="Until, not included", placeholder="now", elem_id="report-until")
            refresh = gr.Button("Show report", variant="primary", elem_id="report-show")
        team = gr.Markdown(elem_id="report-team")
        summary = gr.Markdown(elem_id="report-summary")
        csv_link = gr.Markdown()  # not gr.HTML: Gradio 6 compiles its templates with eval (see ui/desk_page.py)
        with gr.Row():
            by_day = gr.Plot(label="Conversations by day", elem_id="report-by-day")
            reasons = gr.Plot(label="Handoff reasons", elem_id="report-reasons")
        trend = gr.Plot(label="Customer sentiment", elem_id="report-trend")
        comments = gr.Markdown(elem_id="report-comments")
    refresh.click(
        handlers.show,
        [since, until],
        [summary, by_day, reasons, trend, csv_link, comments],
        api_visibility="private",
    )
    refresh.click(handlers.team, None, [team], api_visibility="private")
