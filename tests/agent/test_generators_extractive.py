"""The extractive generator (no model) and the generator registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.citations import check_citations
from agent.errors import GeneratorError
from agent.generators import create_generator, describe_generator, generator_names
from agent.generators.extractive import ExtractiveGenerator, choose_passages
from agent.generators.fallback import FallbackGenerator
from agent.prompts import build_prompt
from agent.settings import AgentConfig
from retrieval.types import Hit


def hit(entry_id: str, question: str, answer: str, language: str, score: float, *tags: str) -> Hit:
    return Hit(entry_id, question, question, answer, "cards", language, score, tags=tags)


LOST_EN = hit("lost-en", "My card is lost", "Freeze your card in the app under Cards > Freeze.", "en", 0.9, "pair:lost")
LOST_ZH = hit("lost-zh", "银行卡丢失怎么办", "请在应用的“卡片 > 冻结”中冻结您的卡。", "zh", 0.6, "pair:lost")
STOLEN_EN = hit("stolen-en", "My card was stolen", "Call 95588 at once; we block the card.", "en", 0.85)
FEES_EN = hit("fees-en", "What are the fees?", "Transfers are free.", "en", 0.2)


def answer(passages: list[Hit], language: str, message: str = "help") -> tuple[str, list[int]]:
    text = "".join(ExtractiveGenerator().stream(build_prompt(message, passages, language=language)))
    checked, citations = check_citations(text, passages)
    assert checked == text  # the extractive generator never cites a passage it was not given
    return text, [c.n for c in citations]


def test_english_answer_with_close_runner_up() -> None:
    text, cited = answer([LOST_EN, STOLEN_EN, FEES_EN], "en")
    assert text.startswith("Here is the answer from our FAQ:")
    assert "Freeze your card in the app under Cards > Freeze. [1]" in text
    assert "This may also help (My card was stolen):\nCall 95588 at once; we block the card. [2]" in text
    assert "Transfers are free" not in text
    assert cited == [1, 2]


def test_single_answer_when_runner_up_is_far() -> None:
    text, cited = answer([LOST_EN, FEES_EN], "en")
    assert cited == [1] and "may also help" not in text


def test_chinese_customer_gets_the_chinese_entry_of_the_pair() -> None:
    # Retrieval ranked the English entry first; its Chinese translation (same pair tag) answers instead.
    text, cited = answer([LOST_EN, STOLEN_EN, LOST_ZH], "zh", "我的卡丢了")
    assert text.startswith("以下是常见问题中的答案：")
    assert "请在应用的“卡片 > 冻结”中冻结您的卡。[3]" in text
    assert cited == [3]


def test_only_the_other_language_exists_says_so() -> None:
    text, cited = answer([STOLEN_EN], "zh", "卡被偷了")
    assert text.startswith("常见问题中只有该答案的英文版本：")
    assert "Call 95588 at once; we block the card. [1]" in text and cited == [1]
    text, cited = answer([LOST_ZH], "en")
    assert text.startswith("Our FAQ has this answer only in Chinese:") and cited == [1]


def test_no_passages_says_it_does_not_know() -> None:
    text, cited = answer([], "en")
    assert text.startswith("I don't know") and cited == []
    text, cited = answer([], "zh")
    assert "我不知道" in text and cited == []


def test_choose_passages_handles_non_positive_scores() -> None:
    a = hit("a", "q", "a", "en", -0.10)
    b = hit("b", "q", "b", "en", -0.105)
    c = hit("c", "q", "c", "en", -0.5)
    assert choose_passages([c, a, b], "en", 0.9) == [1, 2]


def test_stream_reports_extractive_as_author() -> None:
    stream = ExtractiveGenerator().stream(build_prompt("x", [LOST_EN], language="en"))
    assert len(list(stream)) >= 2  # streamed in pieces, not one blob
    assert stream.answered_by == "extractive" and stream.fallback_reason is None


def test_registry_lists_backends_and_refuses_unknown_names() -> None:
    assert generator_names() == ["extractive", "openai", "transformers"]
    with pytest.raises(GeneratorError, match="valid generators: extractive, openai, transformers"):
        create_generator(AgentConfig(generator="gpt-5"))
    with pytest.raises(GeneratorError, match="valid generators"):
        describe_generator(AgentConfig(generator="llama"))


def test_factory_wraps_models_in_the_extractive_fallback() -> None:
    assert isinstance(create_generator(AgentConfig()), ExtractiveGenerator)
    wrapped = create_generator(AgentConfig(generator="transformers", vlm_model="/nonexistent/model"))
    assert isinstance(wrapped, FallbackGenerator) and wrapped.name == "transformers:/nonexistent/model"
    bare = create_generator(AgentConfig(generator="transformers", generator_fallback=False))
    assert not isinstance(bare, FallbackGenerator)


def test_building_and_describing_generators_does_not_import_torch() -> None:
    code = (
        "import sys; from agent.generators import create_generator, describe_generator; "
        "from agent.settings import AgentConfig; c = AgentConfig(generator='transformers'); "
        "create_generator(c); describe_generator(c); "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_describe_says_what_is_active_and_why() -> None:
    default = describe_generator(AgentConfig())
    assert default["active"] == "extractive" and default["why"].startswith("default") and default["fallback"] is None
    chosen = describe_generator(AgentConfig(generator="transformers", vlm_model="/nonexistent/model"))
    assert chosen["why"] == "settings: FINDESK_AGENT__GENERATOR=transformers"
    assert chosen["fallback"] == "extractive"
    assert chosen["backend"]["ready"] is False and "fall back" in chosen["backend"]["detail"]
    server = describe_generator(AgentConfig(generator="openai", openai_model="qwen2-vl"))
    assert server["backend"]["base_url"] == "http://127.0.0.1:8000/v1" and "api_key_set" in server["backend"]


def test_openai_generator_without_a_model_name_says_what_to_set() -> None:
    with pytest.raises(GeneratorError, match="FINDESK_AGENT__OPENAI_MODEL"):
        create_generator(AgentConfig(generator="openai"))
