"""The embeddable widget's script: served to any site, carrying the one list of allowed embedding origins."""

from __future__ import annotations

from agent.settings import WebConfig
from tests.ui.conftest import LiveApp
from ui.widget import widget_script


def test_the_script_carries_the_embedding_origins_setting() -> None:
    script = widget_script(WebConfig(embedding_origins=("https://www.bank.example/", "https://help.bank.example")))
    assert 'var allowed = ["https://help.bank.example", "https://www.bank.example"];' in script
    assert 'frame.src = base + "/chat/"' in script


def test_no_origin_allowed_means_no_button_anywhere() -> None:
    assert "var allowed = [];" in widget_script(WebConfig())


def test_widget_js_is_served_as_javascript(live_app: LiveApp) -> None:
    response = live_app.client.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "findesk-widget-button" in response.text
