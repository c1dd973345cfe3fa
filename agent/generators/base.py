"""The `Generator` interface, the stream type it returns, and the registry that builds one from settings.

Every backend streams text deltas for a `Prompt`. `stream()` returns a `GenerationStream`: an ordinary
iterator of strings that also records which generator actually wrote the text (`answered_by`) and, when a
fallback happened, why (`fallback_reason`). Those live on the stream, not on the generator, because one
generator object serves many conversations at once; read them after iterating:

    stream = generator.stream(prompt)
    for delta in stream:
        ...                                 # show the growing text
    reply_generator = stream.answered_by    # e.g. "openai:qwen2-vl" or "extractive"
    if stream.fallback_reason: ...          # put it in the turn's reason / logs
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from agent.errors import GeneratorError
from agent.prompts import Prompt
from agent.settings import AgentConfig


class GenerationStream(Iterator[str]):
    """Text deltas of one reply, plus who wrote them. Closing it stops the backend (e.g. a browser left)."""

    def __init__(self, deltas: Iterator[str], answered_by: str) -> None:
        self._deltas = deltas
        self.answered_by = answered_by
        self.fallback_reason: str | None = None

    def __next__(self) -> str:
        return next(self._deltas)

    def close(self) -> None:
        close = getattr(self._deltas, "close", None)
        if close is not None:
            close()


@runtime_checkable
class Generator(Protocol):
    """Writes a reply for a Prompt. Constructors are cheap; models load in `warm_up()` or on first use."""

    name: str  # e.g. "extractive", "transformers:Qwen/Qwen2-VL-2B-Instruct", "openai:llama3.2-vision"

    @property
    def supports_images(self) -> bool:
        """False: the screenshot is only seen through its quoted OCR text (a server may turn out text-only)."""
        ...

    def stream(self, prompt: Prompt) -> GenerationStream: ...

    def warm_up(self) -> None: ...


@dataclass(frozen=True)
class GeneratorSpec:
    """One registry entry: how to build a backend and how to describe it without loading anything."""

    create: Callable[[AgentConfig], Generator]
    describe: Callable[[AgentConfig], dict[str, Any]]


def _registry() -> dict[str, GeneratorSpec]:
    # Imported here, not at module top, so that backends may import this module; none of them imports torch
    # or transformers at import time, so this stays cheap.
    from agent.generators import extractive, openai_server, transformers_vlm

    return {
        "extractive": GeneratorSpec(extractive.ExtractiveGenerator, extractive.describe),
        "transformers": GeneratorSpec(transformers_vlm.TransformersVLMGenerator, transformers_vlm.describe),
        "openai": GeneratorSpec(openai_server.OpenAIServerGenerator, openai_server.describe),
    }


def generator_names() -> list[str]:
    return sorted(_registry())


def _spec(name: str) -> GeneratorSpec:
    registry = _registry()
    if name not in registry:
        raise GeneratorError(
            f"Unknown generator {name!r}; valid generators: {', '.join(sorted(registry))}. "
            "Set FINDESK_AGENT__GENERATOR to one of them."
        )
    return registry[name]


def create_generator(config: AgentConfig) -> Generator:
    """The generator named by `config.generator`; model backends are wrapped in the extractive fallback."""
    from agent.generators.extractive import ExtractiveGenerator
    from agent.generators.fallback import FallbackGenerator

    primary = _spec(config.generator).create(config)
    if isinstance(primary, ExtractiveGenerator) or not config.generator_fallback:
        return primary
    return FallbackGenerator(primary, ExtractiveGenerator(config), first_token_timeout_s=config.generation_timeout_s)


def describe_generator(config: AgentConfig) -> dict[str, Any]:
    """What `findesk doctor` and the UI show: the active generator, why, its fallback, and backend details."""
    spec = _spec(config.generator)
    chosen_by = (
        "default: the extractive generator needs no model weights"
        if config.generator == "extractive" and "generator" not in config.model_fields_set
        else f"settings: FINDESK_AGENT__GENERATOR={config.generator}"
    )
    fallback = "extractive" if config.generator != "extractive" and config.generator_fallback else None
    return {
        "active": config.generator,
        "why": chosen_by,
        "fallback": fallback,
        "fallback_when": (
            f"the model fails or gives no token within {config.generation_timeout_s:g} s" if fallback else None
        ),
        "backend": spec.describe(config),
    }
