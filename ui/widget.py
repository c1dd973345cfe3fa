"""The embeddable chat widget: one `<script>` tag on the bank's own site adds a chat button.

    <script src="https://findesk.bank.example/widget.js" async></script>

The button opens FinDesk's customer chat (/chat/) in an iframe, loaded on the first click so page views
cost FinDesk nothing. Which sites may embed it is the one setting `web.embedding_origins`
(FINDESK_WEB__EMBEDDING_ORIGINS='["https://www.bank.example"]'): the same list that the pages'
Content-Security-Policy `frame-ancestors` allows, so the browser itself refuses the frame anywhere else.
The script checks the list too, so a site that is not on it shows no button rather than a broken frame.

Optional attributes on the tag: `data-lang="zh"` (the button's language; else the browser's),
`data-color="#0b5cad"` (the button's colour).
"""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import Response

from agent.settings import WebConfig

_SCRIPT = """(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__findeskWidget) { return; }
  window.__findeskWidget = true;
  var base = new URL(script.src).origin;
  var allowed = __ALLOWED__;
  if (allowed.indexOf(window.location.origin) < 0) {
    console.warn("FinDesk widget: " + window.location.origin + " is not an allowed embedding origin " +
      "(FINDESK_WEB__EMBEDDING_ORIGINS on the FinDesk server); no chat button is shown.");
    return;
  }
  var zh = (script.getAttribute("data-lang") || navigator.language || "en").toLowerCase().indexOf("zh") === 0;
  var words = zh ? {open: "\\ud83d\\udcac \\u5728\\u7ebf\\u5ba2\\u670d", close: "\\u2715 \\u5173\\u95ed",
                    title: "FinDesk \\u5728\\u7ebf\\u5ba2\\u670d"}
                 : {open: "\\ud83d\\udcac Chat with us", close: "\\u2715 Close chat", title: "FinDesk chat"};
  var colour = script.getAttribute("data-color") || "#1d4ed8";
  var button = document.createElement("button");
  button.id = "findesk-widget-button";
  button.type = "button";
  button.textContent = words.open;
  button.setAttribute("aria-expanded", "false");
  button.style.cssText = "position:fixed;right:20px;bottom:20px;z-index:2147483000;padding:12px 18px;" +
    "border:0;border-radius:24px;background:" + colour + ";color:#fff;font:600 15px system-ui,sans-serif;" +
    "box-shadow:0 4px 14px rgba(0,0,0,.25);cursor:pointer";
  var frame = null;
  button.addEventListener("click", function () {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.id = "findesk-widget-frame";
      frame.title = words.title;
      frame.src = base + "/chat/";
      frame.allow = "microphone";  // voice messages from inside the frame
      frame.style.cssText = "position:fixed;right:20px;bottom:76px;z-index:2147483000;" +
        "width:min(420px,calc(100vw - 40px));height:min(640px,calc(100vh - 110px));border:1px solid #d0d7e2;" +
        "border-radius:12px;background:#fff;box-shadow:0 8px 30px rgba(0,0,0,.25)";
      document.body.appendChild(frame);
    } else {
      frame.style.display = frame.style.display === "none" ? "" : "none";
    }
    var open = frame.style.display !== "none";
    button.textContent = open ? words.close : words.open;
    button.setAttribute("aria-expanded", String(open));
  });
  document.body.appendChild(button);
})();
"""


def widget_script(web: WebConfig) -> str:
    origins = sorted({origin.rstrip("/") for origin in web.embedding_origins})
    return _SCRIPT.replace("__ALLOWED__", json.dumps(origins))


def widget_router(web: WebConfig) -> APIRouter:
    router = APIRouter()
    body = widget_script(web)

    @router.get("/widget.js", include_in_schema=False)
    def widget() -> Response:
        # Short cache: a change to the allowed origins reaches the bank's pages within minutes.
        headers = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
        return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)

    return router
