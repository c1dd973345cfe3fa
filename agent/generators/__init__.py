"""Answer generators: extractive (no model), transformers VLM in-process, OpenAI-compatible server.

Build one with `create_generator(config.agent)`; see base.py for the interface and how to read which
generator answered.
"""

from __future__ import annotations

from agent.generators.base import GenerationStream, Generator, create_generator, describe_generator, generator_names

__all__ = ["GenerationStream", "Generator", "create_generator", "describe_generator", "generator_names"]
