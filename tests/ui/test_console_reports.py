"""The console's Reports tab: operators get the figures as charts and a CSV link; nobody else gets anything."""

from __future__ import annotations

import gradio as gr
import pandas as pd
import pytest

from tests.ui.conftest import LiveApp, as_client
from ui.console_reports import ReportHandlers


@pytest.fixture()
def reports(live_app: LiveApp) -> ReportHandlers:
    return ReportHandlers(live_app.services, live_app.users)


def test_operator_sees_the_report_as_charts(reports: ReportHandlers, live_app: LiveApp) -> None:
    live_app.client.post("/api/chat", data={"text": "Why was my card declined?"})
    summary, by_day, reasons, trend, link = reports.show("", "", as_client("olga"))
    assert "conversations" in summary and "deflection" in summary
    assert isinstance(by_day, pd.DataFrame) and set(by_day["outcome"]) == {"bot alone", "handed over"}
    assert by_day["conversations"].sum() >= 1
    assert list(reasons.columns) == ["reason", "handoffs"] and list(trend.columns) == ["day", "mean_score", "messages"]
    assert 'href="/api/reports.csv"' in link
    _, _, _, _, link = reports.show("2026-01-01", "2027-01-01", as_client("olga"))
    assert 'href="/api/reports.csv?since=2026-01-01&until=2027-01-01"' in link


@pytest.mark.parametrize("who", [None, "alice"])  # anonymous, and an agent
def test_nobody_but_an_operator_gets_the_report(reports: ReportHandlers, who: str | None) -> None:
    with pytest.raises(gr.Error):
        reports.show("", "", as_client(who))


@pytest.mark.parametrize(("since", "until"), [("yesterday", ""), ("2026-12-02", "2026-12-01")])
def test_bad_days_get_a_clear_message(reports: ReportHandlers, since: str, until: str) -> None:
    with pytest.raises(gr.Error, match="YYYY-MM-DD|after"):
        reports.show(since, until, as_client("olga"))
