"""Real offline-pack embedders, loaded once per test session (module-level cache shared by test files)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pytest

from retrieval.embedders import Embedder, EmbedKind, load_embedder
from retrieval.types import FaqEntry


@functools.cache
def _pack_model(name: str) -> Embedder:
    try:
        embedder = load_embedder(name)
        embedder.warm_up()
    except Exception as error:  # the offline pack is part of the test install; say so when it is missing
        pytest.skip(f"{name} offline pack not usable here: {error}")
    return embedder


def minilm() -> Embedder:
    return _pack_model("all-MiniLM-L6-v2")


def e5() -> Embedder:
    return _pack_model("multilingual-e5-small")


def use() -> Embedder:
    return _pack_model("universal-sentence-encoder-multilingual-3")


class CountingEmbedder:
    """The real embedder, counting the texts it embeds: proves what was (not) re-embedded."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.languages = inner.languages
        self.passages = 0

    @property
    def dim(self) -> int:
        return self.inner.dim

    def warm_up(self) -> None:
        self.inner.warm_up()

    def embed(self, texts: Sequence[str], *, kind: EmbedKind) -> np.ndarray:
        if kind == "passage":
            self.passages += len(texts)
        return self.inner.embed(texts, kind=kind)


def small_faq() -> list[FaqEntry]:
    """Eight hand-written entries, English and Chinese, enough to tell topics apart."""
    rows = [
        (
            "card-lost",
            "en",
            "My card is lost or stolen, what should I do?",
            ["I lost my debit card", "block my stolen card"],
            "Freeze the card in the app, then call us to cancel it.",
        ),
        (
            "transfer-intl",
            "en",
            "How long does an international transfer take?",
            ["when will my SWIFT payment arrive"],
            "International transfers usually arrive within 1-3 business days.",
        ),
        (
            "password-reset",
            "en",
            "How do I reset my online banking password?",
            ["forgot my password", "can't log in"],
            "Tap 'Forgot password' on the login screen and follow the SMS code.",
        ),
        (
            "fees-atm",
            "en",
            "Do you charge for cash withdrawals at other banks' ATMs?",
            ["ATM withdrawal fee"],
            "Domestic ATM withdrawals are free; abroad we charge 2%.",
        ),
        (
            "card-lost-zh",
            "zh",
            "银行卡丢了或被偷了怎么办？",
            ["我的借记卡找不到了", "怎么挂失银行卡"],
            "请立即在 App 里冻结该卡，然后致电客服挂失。",
        ),
        (
            "transfer-intl-zh",
            "zh",
            "国际汇款要多久到账？",
            ["跨境汇款什么时候到"],
            "国际汇款通常 1 到 3 个工作日到账。",
        ),
        (
            "password-reset-zh",
            "zh",
            "网银密码忘了怎么重置？",
            ["忘记登录密码", "登录不上"],
            "在登录页点“忘记密码”，按短信验证码重置。",
        ),
        (
            "mortgage-rate",
            "en",
            "What is the interest rate on a fixed-rate mortgage?",
            ["mortgage interest"],
            "Rates depend on term and loan-to-value; see the Mortgages page for today's rates.",
        ),
    ]
    return [
        FaqEntry(id=i, question=q, alternates=tuple(a), answer=ans, category=i.split("-")[0], language=lang)
        for i, lang, q, a, ans in rows
    ]
