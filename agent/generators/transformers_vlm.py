"""The in-process vision-language generator: any transformers image-text-to-text model, hub id or local folder.

Default model: Qwen/Qwen2-VL-2B-Instruct. Why it, for a bank's customer service on CPU:
- Chinese and English. Its Qwen2 language model was trained on both, so a Chinese customer gets fluent Chinese.
  SmolVLM-256M/500M-Instruct are 5-10x smaller and faster, but their SmolLM2 backbone is English-centric:
  fine for an English-only desk (set FINDESK_AGENT__VLM_MODEL=HuggingFaceTB/SmolVLM-500M-Instruct), not here.
- It reads screenshots: it sees images at their own resolution (no fixed 384x384 squash), which is what app
  error dialogs and small print need, and its model card reports strong document-reading results.
- Apache-2.0. Qwen2.5-VL-3B-Instruct is stronger but ships under the Qwen Research License (non-commercial),
  which a bank cannot deploy without a separate agreement; the 7B models are too slow for CPU.
- Cost: 2.2 B parameters, so about 9 GB of RAM in float32 on CPU; expect single-digit tokens per second on
  a CPU (not measured here: no weights can be had on FinDesk's build machines).
  Screenshots are shrunk to `vlm_max_image_side` first, because its visual token count grows with pixels.
  For more throughput, serve a bigger model with vLLM and use the OpenAI-compatible generator instead.
- Its processor needs torchvision (for its video processor) in transformers 5: `pip install torchvision`
  matching your torch. FinDesk's own test machines cannot import torchvision, so the test suite exercises this
  exact loading code with a tiny random Idefics3 (the SmolVLM architecture) saved to a local folder.

The model loads once, lazily (first `warm_up()` or `stream()`), under a lock; generation runs in a thread and
streams through `TextIteratorStreamer`. Greedy decoding: a customer-service answer should be reproducible.
Generations are serialised, because two at once on a CPU only make both slower; a turn waiting behind another
may hit the first-token timeout and get the extractive fallback, which is the intended behaviour under load.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agent.errors import GeneratorError
from agent.generators.base import GenerationStream
from agent.prompts import Prompt
from agent.settings import AgentConfig


def chat_messages(prompt: Prompt, *, with_image: bool) -> list[dict[str, Any]]:
    """The prompt in the transformers chat format; the image placeholder goes before the user text."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": [{"type": "text", "text": prompt.system}]}]
    for turn in prompt.history:
        messages.append({"role": turn.role, "content": [{"type": "text", "text": turn.text}]})
    user: list[dict[str, Any]] = [{"type": "image"}] if with_image else []
    user.append({"type": "text", "text": prompt.user_text()})
    messages.append({"role": "user", "content": user})
    return messages


def load_vlm(model_id: str, device: str) -> tuple[Any, Any]:
    """(processor, model) for a hub id or local folder, on `device`, in eval mode."""
    try:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor
    except ImportError as e:
        raise GeneratorError(
            "The transformers generator needs torch and transformers: pip install torch 'transformers>=5.23'."
        ) from e
    # float32 on CPU: bfloat16 matrix products are several times slower on CPUs without AMX/AVX512-BF16.
    dtype = torch.float32 if device == "cpu" else "auto"
    try:
        processor = AutoProcessor.from_pretrained(model_id)
        model = AutoModelForImageTextToText.from_pretrained(model_id, dtype=dtype)
    except ImportError as e:
        raise GeneratorError(
            f"Loading the vision-language model {model_id!r} needs a package that is not installed: {e}"
        ) from e
    except (OSError, ValueError, KeyError) as e:
        raise GeneratorError(
            f"Could not load the vision-language model {model_id!r}: {e}. Download it on a machine with internet "
            f"access (`hf download {model_id}`), or set FINDESK_AGENT__VLM_MODEL to a local model folder, "
            "or use FINDESK_AGENT__GENERATOR=extractive."
        ) from e
    try:
        # transformers wraps `.to` in functools.wraps, which mypy does not bind as a method (stub limitation).
        model.to(device)  # type: ignore[arg-type]
    except (RuntimeError, AssertionError) as e:
        raise GeneratorError(f"Cannot run the model on device {device!r}: {e}. Set FINDESK_AGENT__VLM_DEVICE.") from e
    model.eval()
    return processor, model


def decode_image(png: bytes, max_side: int) -> Any:
    """The screenshot as an RGB PIL image no larger than max_side on its longest edge."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(png)).convert("RGB")
    except (UnidentifiedImageError, OSError) as e:
        raise GeneratorError("The screenshot could not be decoded for the model; send it again as PNG.") from e
    image.thumbnail((max_side, max_side))
    return image


def prepare_inputs(processor: Any, prompt: Prompt, max_image_side: int) -> Any:
    """Token ids (and pixel values when there is a screenshot) for `model.generate`, via the chat template."""
    image = decode_image(prompt.image, max_image_side) if prompt.image else None
    text = processor.apply_chat_template(
        chat_messages(prompt, with_image=image is not None), add_generation_prompt=True, tokenize=False
    )
    return processor(text=text, images=[image] if image is not None else None, return_tensors="pt")


class TransformersVLMGenerator:
    """Streams a reply from a transformers vision-language model that runs in this process."""

    supports_images = True

    def __init__(self, config: AgentConfig) -> None:
        self.model_id = config.vlm_model
        self.device = config.vlm_device
        self.max_new_tokens = config.max_new_tokens
        self.max_image_side = config.vlm_max_image_side
        self.name = f"transformers:{self.model_id}"
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None

    def warm_up(self) -> None:
        self._load()

    def _load(self) -> tuple[Any, Any]:
        with self._load_lock:
            if self._loaded is None:
                self._loaded = load_vlm(self.model_id, self.device)
            return self._loaded

    def stream(self, prompt: Prompt) -> GenerationStream:
        return GenerationStream(self._deltas(prompt), answered_by=self.name)

    def _deltas(self, prompt: Prompt) -> Iterator[str]:
        from transformers import StoppingCriteria, TextIteratorStreamer

        processor, model = self._load()
        inputs = prepare_inputs(processor, prompt, self.max_image_side).to(model.device)

        stop = threading.Event()  # set when the reader goes away: generation stops at the next token

        class _StopWhenAsked(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                import torch

                return torch.full((input_ids.shape[0],), stop.is_set(), dtype=torch.bool, device=input_ids.device)

        streamer = TextIteratorStreamer(processor.tokenizer, skip_prompt=True, skip_special_tokens=True)
        errors: list[BaseException] = []

        def generate() -> None:
            finished = False
            try:
                with self._generate_lock:
                    if not stop.is_set():
                        model.generate(
                            **inputs,
                            streamer=streamer,
                            max_new_tokens=self.max_new_tokens,
                            do_sample=False,
                            stopping_criteria=[_StopWhenAsked()],
                        )
                        finished = True  # generate() ended the streamer itself
            except Exception as e:
                errors.append(e)
            finally:
                if not finished:
                    streamer.end()  # unblock the reader

        thread = threading.Thread(target=generate, name="findesk-vlm-generate", daemon=True)
        thread.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
            thread.join()
        finally:
            stop.set()
        if errors:
            raise GeneratorError(f"The vision-language model {self.model_id!r} failed: {errors[0]}") from errors[0]


def _source(model_id: str) -> tuple[str, bool]:
    """Where the weights would come from, and whether they are on this machine (without loading them)."""
    if Path(model_id).expanduser().is_dir():
        return "local folder", (Path(model_id).expanduser() / "config.json").is_file()
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return "hub", False
    try:
        cached = try_to_load_from_cache(model_id, "config.json")
    except ValueError:  # not a valid hub id (and not an existing folder either)
        return "neither a local folder nor a valid hub id", False
    return ("hub cache", True) if isinstance(cached, str) else ("hub (not downloaded)", False)


def describe(config: AgentConfig) -> dict[str, Any]:
    source, ready = _source(config.vlm_model)
    return {
        "generator": "transformers",
        "model": config.vlm_model,
        "source": source,
        "device": config.vlm_device,
        "supports_images": True,
        "ready": ready,
        "detail": "in-process vision-language model; sees the screenshot as an image"
        + ("" if ready else "; weights not found on this machine, answers will fall back to extractive"),
    }
