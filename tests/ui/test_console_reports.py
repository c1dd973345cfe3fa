"""The console's Reports tab: operators get the figures as charts and a CSV link; nobody else gets anything."""

from __future__ import annotations

import gradio as gr
import pytest
from matplotlib.figure import Figure

from tests.ui.conftest import LiveApp, as_client
from ui.console_reports import ReportHandlers


@pytest.fixture()
def reports(live_app: LiveApp) -> ReportHandlers:
    return ReportHandlers(live_app.services, live_app.users)


def test_operator_sees_the_report_as_charts(reports: ReportHandlers, live_app: LiveApp) -> None:
    live_app.client.post("/api/chat", data={"text": "Why was my card declined?"})
    summary, by_day, reasons, trend, link, comments = reports.show("", "", as_client("olga"))
    assert "conversations" in summary and "deflection" in summary
    for figure in (by_day, reasons, trend):
        assert isinstance(figure, Figure) and figure.axes
    bars = by_day.axes[0].patches  # one "bot alone" and one "handed over" bar per day
    assert sum(bar.get_height() for bar in bars) >= 1
    assert [t.get_text() for t in by_day.axes[0].get_legend().get_texts()] == ["bot alone", "handed over"]
    assert "(/api/reports.csv)" in link
    _, _, _, _, link, _ = reports.show("2026-01-01", "2027-01-01", as_client("olga"))
    assert "(/api/reports.csv?since=2026-01-01&until=2027-01-01)" in link


def test_operator_reads_the_comments_customers_sent_with_their_rating(
    reports: ReportHandlers, live_app: LiveApp
) -> None:
    services = live_app.services
    session, _token = services.conversations.open_session()
    services.conversations.add_message(session, "customer", "My transfer is late")
    services.agent.request_human(session)
    services.conversations.resolve(session, "alice")
    services.feedback.rate(session, 2, "Took <b>two</b> days; call me on +44 7700 900123")
    comments = reports.show("", "", as_client("olga"))[5]
    assert "★★ (2)" in comments and "alice" in comments
    assert "Took &lt;b&gt;two&lt;/b&gt; days" in comments  # shown as text, never as markup
    assert "7700 900123" not in comments  # redacted when it was stored
    assert reports.show("2000-01-01", "2000-01-02", as_client("olga"))[5] == "*No rating comments in this period.*"


@pytest.mark.parametrize("who", [None, "alice"])  # anonymous, and an agent
def test_nobody_but_an_operator_gets_the_report(reports: ReportHandlers, who: str | None) -> None:
    with pytest.raises(gr.Error):
        reports.show("", "", as_client(who))


@pytest.mark.parametrize(("since", "until"), [("yesterday", ""), ("2026-12-02", "2026-12-01")])
def test_bad_days_get_a_clear_message(reports: ReportHandlers, since: str, until: str) -> None:
    with pytest.raises(gr.Error, match="YYYY-MM-DD|after"):
        reports.show(since, until, as_client("olga"))
