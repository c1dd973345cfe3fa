"""Text written by others, as HTML that can show but not do anything.

Customers (and anyone who can start a chat) write text that agents read on the desk, so it is shown as
text: every character escaped. FAQ answers and model replies keep their Markdown (lists, bold, links), rendered
here by markdown-it-py with raw HTML off, links only to http(s), mailto and tel addresses (never to a route of
ours such as /logout), and images shown as their alt text, so no page can load a tracking pixel.

The pages' chatbots use `render_markdown=False`, so Gradio shows this HTML after its own sanitiser
(DOMPurify) instead of running its Markdown renderer, which keeps raw HTML such as forms.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

SAFE_LINK_SCHEMES = ("http://", "https://", "mailto:", "tel:")


def text_html(text: str) -> str:
    """Plain text as HTML: escaped, line breaks kept as <br>, so the result never holds a blank line (inside a
    gr.Markdown it stays one HTML block that no Markdown rule reaches)."""
    lines = html.escape(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "<br>\n".join(lines)


def _safe_link(url: str) -> bool:
    return url.strip().lower().startswith(SAFE_LINK_SCHEMES)


def _image_as_text(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    alt = self.renderInlineAsText(tokens[idx].children or [], options, env)
    return f"[{html.escape(alt)}]" if alt else ""


def _link_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    # Away from the chat in a new tab, telling the other site nothing about where the reader came from.
    tokens[idx].attrSet("target", "_blank")
    tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
    return self.renderToken(tokens, idx, options, env)


_markdown = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False}).enable(
    ["table", "strikethrough"]
)
_markdown.validateLink = _safe_link  # type: ignore[method-assign]  # markdown-it-py's documented hook
_markdown.add_render_rule("image", _image_as_text)
_markdown.add_render_rule("link_open", _link_open)


def markdown_html(text: str) -> str:
    """FAQ answers and model replies: Markdown without raw HTML, unsafe links or images."""
    return _markdown.render(text).strip()
