"""The in-process VLM generator, end to end, with a tiny randomly initialised Idefics3 (SmolVLM's architecture).

No real VLM weights can be had on these machines, so a session fixture builds a real Idefics3 model from a
config with tiny dimensions, a byte-level BPE tokenizer trained here on a few English and Chinese sentences,
SmolVLM's chat template and `Idefics3ImageProcessor`, saves them with `save_pretrained`, and the generator loads
that folder through its real loading code (`AutoProcessor` + `AutoModelForImageTextToText`, the same path a hub
id takes). What this does NOT prove: anything about answer quality, citation discipline or language (the
weights are random, the text is gibberish), nor that Qwen2-VL (the default, whose processor needs torchvision)
loads here; it proves loading, chat-template and image wiring, threaded streaming, cancellation and errors.
"""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from agent.errors import GeneratorError
from agent.generators import create_generator
from agent.generators import transformers_vlm as vlm
from agent.generators.fallback import FALLBACK_NOTE
from agent.generators.transformers_vlm import TransformersVLMGenerator, prepare_inputs
from agent.prompts import ChatTurn, build_prompt
from agent.settings import AgentConfig
from retrieval.types import Hit

PASSAGE = Hit("pin-en", "How do I reset my PIN?", "How do I reset my PIN?", "Cards > PIN.", "cards", "en", 0.8)
# SmolVLM-Instruct's chat template (an image part renders as <image>).
CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{message['role'].capitalize()}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
IMAGE_SEQ_LEN = 4  # (32 px tile / 8 px patches)^2 / scale_factor^2 = 16 / 4


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved, randomly initialised Idefics3 folder (about 1 MB) with its tokenizer and image processor."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessor,
        Idefics3Processor,
        PreTrainedTokenizerFast,
    )

    folder = tmp_path_factory.mktemp("tiny-idefics3")
    specials = ["<|endoftext|>", "<|im_start|>", "<end_of_utterance>", "<fake_token_around_image>", "<image>"]
    specials += ["<global-img>"] + [f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    sentences = ["How do I reset my card PIN?", "Freeze your card in the app.", "如何重置我的银行卡密码？", "转账失败"]
    bpe.train_from_iterator(sentences, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<|im_start|>", eos_token="<end_of_utterance>", pad_token="<|endoftext|>"
    )
    image_processor = Idefics3ImageProcessor(size={"longest_edge": 64}, max_image_size={"longest_edge": 32})
    processor = Idefics3Processor(image_processor, tokenizer, image_seq_len=IMAGE_SEQ_LEN, chat_template=CHAT_TEMPLATE)
    config = Idefics3Config(
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        scale_factor=2,
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        text_config={
            "model_type": "llama",
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "max_position_embeddings": 1024,
            "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        },
    )
    torch.manual_seed(0)  # random weights, but the same ones every run: greedy output is then reproducible
    Idefics3ForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def png(color: tuple[int, int, int], size: tuple[int, int] = (120, 80)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def prompt(image: bytes | None) -> object:
    history = [ChatTurn("user", "hi"), ChatTurn("assistant", "Hello!")]
    return build_prompt("如何重置 PIN?", [PASSAGE], language="zh", history=history, ocr_text="PIN 错误", image=image)


@pytest.fixture(scope="session")
def generator(tiny_vlm: Path) -> TransformersVLMGenerator:
    return TransformersVLMGenerator(AgentConfig(generator="transformers", vlm_model=str(tiny_vlm), max_new_tokens=16))


def test_streams_text_from_a_prompt_with_an_image(generator: TransformersVLMGenerator) -> None:
    stream = generator.stream(prompt(png((200, 30, 30))))
    deltas = list(stream)
    assert len(deltas) >= 2 and all(deltas)  # streamed in pieces; empty decoder flushes are not passed on
    assert stream.answered_by.startswith("transformers:") and stream.answered_by.endswith("tiny-idefics30")


def test_the_image_reaches_the_model(generator: TransformersVLMGenerator) -> None:
    processor, model = generator._load()
    with_image = prepare_inputs(processor, prompt(png((10, 200, 10), size=(1000, 500))), max_image_side=64)
    image_token = model.config.image_token_id
    assert "pixel_values" in with_image
    # 64 px longest side -> 2x1 tiles of 32 px plus the global view: 3 crops of IMAGE_SEQ_LEN image tokens each.
    assert with_image["pixel_values"].shape[1] == 3
    assert int((with_image["input_ids"] == image_token).sum()) == 3 * IMAGE_SEQ_LEN
    text_only = prepare_inputs(processor, prompt(None), max_image_side=64)
    assert "pixel_values" not in text_only and int((text_only["input_ids"] == image_token).sum()) == 0
    decoded = processor.tokenizer.decode(text_only["input_ids"][0])
    assert "System: 你是 FinDesk" in decoded and "User: hi" in decoded and "[1] (entry pin-en)" in decoded
    assert decoded.endswith("Assistant:")
    assert "".join(generator.stream(prompt(None)))  # text-only turns generate too


def test_loads_once_even_when_threads_race(tiny_vlm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real_load = vlm.load_vlm
    monkeypatch.setattr(vlm, "load_vlm", lambda *args: calls.append(args) or real_load(*args))
    fresh = TransformersVLMGenerator(AgentConfig(generator="transformers", vlm_model=str(tiny_vlm)))
    threads = [threading.Thread(target=fresh.warm_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fresh.warm_up()
    assert len(calls) == 1


def test_closing_the_stream_stops_generation(generator: TransformersVLMGenerator) -> None:
    _, model = generator._load()
    # Make an uncancelled run long (no end-of-reply token, 800 new tokens: a minute or more on 2 busy cores)
    # so that the lock coming free within seconds can only be the cancellation's doing.
    eos, max_new_tokens = model.generation_config.eos_token_id, generator.max_new_tokens
    model.generation_config.eos_token_id, generator.max_new_tokens = None, 800
    try:
        stream = generator.stream(prompt(png((0, 0, 255))))
        next(stream)
        started = time.perf_counter()
        stream.close()  # the reader went away
        assert generator._generate_lock.acquire(timeout=10), "generation kept running after the stream was closed"
        generator._generate_lock.release()
        assert time.perf_counter() - started < 10
    finally:
        model.generation_config.eos_token_id, generator.max_new_tokens = eos, max_new_tokens


def test_missing_model_folder_is_a_clear_error_and_falls_back(tmp_path: Path) -> None:
    config = AgentConfig(generator="transformers", vlm_model=str(tmp_path / "no-such-model"))
    with pytest.raises(GeneratorError, match="Could not load the vision-language model .*FINDESK_AGENT__VLM_MODEL"):
        TransformersVLMGenerator(config).warm_up()
    stream = create_generator(config).stream(build_prompt("PIN?", [PASSAGE], language="en"))
    text = "".join(stream)
    assert text.startswith(FALLBACK_NOTE["en"]) and "Cards > PIN. [1]" in text
    assert stream.answered_by == "extractive" and "Could not load" in (stream.fallback_reason or "")


def test_undecodable_screenshot_is_a_clear_error(generator: TransformersVLMGenerator) -> None:
    with pytest.raises(GeneratorError, match="could not be decoded"):
        list(generator.stream(prompt(b"not an image")))
