"""The extractive generator: no model, the FAQ's own words, cited. The default, and every model's fallback.

It answers with the best passage's answer, adds the runner-up when its score is close (two entries often
share a question: "card lost" and "card stolen"), and prefers passages in the customer's language. When the
best entry exists only in the other language it answers with it and says so, rather than say nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from agent.generators.base import GenerationStream
from agent.prompts import Prompt, normalise_language
from agent.settings import AgentConfig
from retrieval.types import Hit

_TEXT = {
    "en": {
        "lead": "Here is the answer from our FAQ:",
        "lead_other": "Our FAQ has this answer only in Chinese:",
        "also": "This may also help ({question}):",
        "unknown": (
            "I don't know the answer to that: I could not find it in our FAQ. You can rephrase your question, "
            "or ask to speak with a member of our team."
        ),
    },
    "zh": {
        "lead": "以下是常见问题中的答案：",
        "lead_other": "常见问题中只有该答案的英文版本：",
        "also": "以下内容也可能有帮助（{question}）：",
        "unknown": (
            "抱歉，我不知道这个问题的答案：常见问题中没有找到相关内容。您可以换一种方式提问，或要求转接人工客服。"
        ),
    },
}


def _pairs(hit: Hit) -> set[str]:
    return {tag for tag in hit.tags if tag.startswith("pair:")}


def choose_passages(passages: Sequence[Hit], language: str, second_ratio: float) -> list[int]:
    """Indexes (0-based, into `passages`) of the one or two passages to answer with."""
    if not passages:
        return []
    order = sorted(range(len(passages)), key=lambda i: passages[i].score, reverse=True)
    top = order[0]
    same = [i for i in order if normalise_language(passages[i].language) == language]
    if same and same[0] != top:
        # The best entry is in the other language: use its translation when retrieval also found that, or a
        # same-language entry that scored nearly as well; otherwise answer in the other language (and say so).
        paired = [i for i in same if _pairs(passages[i]) & _pairs(passages[top])]
        if paired:
            same = [paired[0], *[i for i in same if i != paired[0]]]
        elif not _close(passages[same[0]].score, passages[top].score, second_ratio):
            same = []
    candidates = same or [i for i in order if normalise_language(passages[i].language) != language]
    chosen = candidates[:1]
    if len(candidates) > 1 and _close(passages[candidates[1]].score, passages[candidates[0]].score, second_ratio):
        chosen.append(candidates[1])
    return chosen


def _close(score: float, best: float, ratio: float) -> bool:
    # Scores are higher-is-better but not always positive (raw cosine, BM25 can be 0): compare the gap to |best|.
    return score >= best - (1 - ratio) * abs(best)


class ExtractiveGenerator:
    """Answers with the best FAQ entry's answer (and a close second), cited [n], in the customer's language."""

    name = "extractive"
    supports_images = False  # it sees the screenshot only through retrieval, which used its OCR text

    def __init__(self, config: AgentConfig | None = None) -> None:
        self.second_ratio = (config or AgentConfig()).extractive_second_ratio

    def warm_up(self) -> None:
        """Nothing to load."""

    def stream(self, prompt: Prompt) -> GenerationStream:
        return GenerationStream(self._deltas(prompt), answered_by=self.name)

    def _deltas(self, prompt: Prompt) -> Iterator[str]:
        text = _TEXT[prompt.language]
        chosen = choose_passages(prompt.passages, prompt.language, self.second_ratio)
        if not chosen:
            yield text["unknown"]
            return
        first = prompt.passages[chosen[0]]
        other_language = normalise_language(first.language) != prompt.language
        yield text["lead_other" if other_language else "lead"] + "\n\n"
        yield _cited(first, chosen[0] + 1)
        for index in chosen[1:]:
            hit = prompt.passages[index]
            yield "\n\n" + text["also"].format(question=hit.question.strip()) + "\n"
            yield _cited(hit, index + 1)


def _cited(hit: Hit, n: int) -> str:
    # Chinese text puts no space before the mark: "冻结您的卡。[1]"; English does: "Freeze it. [1]".
    space = "" if normalise_language(hit.language) == "zh" else " "
    return f"{hit.answer.strip()}{space}[{n}]"


def describe(config: AgentConfig) -> dict[str, Any]:
    return {
        "generator": "extractive",
        "model": None,
        "supports_images": False,
        "ready": True,
        "detail": "answers with the best FAQ entry's own text (and a close runner-up), cited; needs no model",
    }
