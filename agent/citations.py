"""Keep the [n] citations that point at passages the model was actually given; drop the invented ones.

Models write citations in several shapes: [1], [1][2], [1, 2], [1，2], 【1】 and the full-width ［1］.
Every group is rewritten as ASCII [n] marks (so the UI has one form to link), invalid numbers are removed
from the text, and the valid ones map to `Citation`s in order of first use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.types import Citation
from retrieval.types import Hit

_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
# An opening bracket, numbers separated by commas (ASCII, full-width, ideographic) or spaces, a closing bracket.
# Leading horizontal space is captured so that dropping a whole group does not leave a double space.
_GROUP = re.compile(r"(?P<space>[ \t]*)[\[［【]\s*(?P<numbers>[0-9０-９]+(?:\s*[,，、;；]?\s*[0-9０-９]+)*)\s*[\]］】]")
_NUMBER = re.compile(r"[0-9０-９]+")


def check_citations(text: str, passages: Sequence[Hit]) -> tuple[str, list[Citation]]:
    """Return the text with only valid citation marks left, and the citations it uses (first use first)."""
    used: dict[int, Citation] = {}

    def rewrite(match: re.Match[str]) -> str:
        numbers = [int(n.translate(_DIGITS)) for n in _NUMBER.findall(match.group("numbers"))]
        valid: list[int] = []
        for n in numbers:
            if 1 <= n <= len(passages) and n not in valid:
                valid.append(n)
        if not valid:
            return ""
        for n in valid:
            if n not in used:
                hit = passages[n - 1]
                used[n] = Citation(n=n, entry_id=hit.entry_id, question=hit.question)
        return match.group("space") + "".join(f"[{n}]" for n in valid)

    cleaned = _GROUP.sub(rewrite, text)
    return cleaned, list(used.values())
