"""The one settings object: environment (FINDESK_*), an optional TOML file, then CLI flags.

Each package owns its own section (retrieval.config, speech.config); this module composes them.
Nested fields use a double underscore: FINDESK_RETRIEVAL__EMBEDDER=multilingual-e5-small.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import platformdirs
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource
from sqlalchemy.engine import make_url

from agent.opening_hours import OpeningHours
from agent.webhooks import WebhookConfig
from retrieval.config import RetrievalConfig
from retrieval.database import Database, PoolLimits, database_url, open_database
from speech.config import SpeechConfig


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("findesk", appauthor=False))


class AgentConfig(BaseModel):
    """Answer generation, sentiment, routing and upload limits (FINDESK_AGENT__*)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    generator: str = Field("extractive", description="'extractive', 'transformers' or 'openai'.")
    vlm_model: str = Field(
        "Qwen/Qwen2-VL-2B-Instruct",
        description="Hub id or local folder for the transformers generator (why this default: agent/generators/"
        "transformers_vlm.py).",
    )
    openai_base_url: str = Field("http://127.0.0.1:8000/v1", description="OpenAI-compatible server base URL.")
    openai_model: str = Field("", description="Model name on the OpenAI-compatible server.")
    openai_api_key_env: str = Field("FINDESK_OPENAI_API_KEY", description="Environment variable holding the API key.")
    generation_timeout_s: float = Field(60.0, gt=0, description="Give up on a model after this many seconds.")
    max_new_tokens: int = Field(400, ge=16, description="Longest generated reply, in tokens.")
    # Answer generation (agent/generators/, agent/prompts.py).
    generator_fallback: bool = Field(
        True, description="Answer extractively when the configured model fails or gives no token in time."
    )
    vlm_device: str = Field("cpu", description="torch device for the transformers generator, e.g. 'cpu', 'cuda'.")
    vlm_max_image_side: int = Field(
        768, ge=32, description="Screenshots are shrunk to this longest side (pixels) before the VLM sees them."
    )
    openai_connect_timeout_s: float = Field(5.0, gt=0, description="Seconds to wait for the model server to accept.")
    openai_max_retries: int = Field(
        2, ge=0, description="Retries after a connection error or 5xx/429, only before any token arrived."
    )
    openai_retry_backoff_s: float = Field(0.5, ge=0, description="First retry delay in seconds; doubles each retry.")
    openai_send_images: bool = Field(
        True, description="Send screenshots to the model server (as data URLs); off keeps images on this machine."
    )
    extractive_second_ratio: float = Field(
        0.9, gt=0, le=1, description="Extractive answers add the runner-up scoring at least this share of the best."
    )
    prompt_max_passages: int = Field(5, ge=1, description="FAQ passages numbered in the prompt.")
    prompt_history_turns: int = Field(4, ge=0, description="Earlier conversation turns shown to the model.")
    sentiment_model: str = Field("", description="Optional transformers sentiment classifier id or path.")
    sentiment_analyzer: str = Field(
        "auto",
        description="Sentiment analyser: 'offline' (embeddings + lexicon + cues), 'lexicon' (VADER/snownlp + cues), "
        "'transformers' (sentiment_model), or 'auto' ('transformers' when sentiment_model is set, else 'offline').",
    )
    sentiment_fusion_weight: float = Field(
        0.3, ge=0, le=1, description="Share given to a VLM/server model's own reading of the customer's tone."
    )
    voice_tone_weight: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Share of an agitated voice in a voice message's sentiment (agent/sentiment/voice_fusion.py); "
        "0 keeps the words' reading (the tone is still shown to agents).",
    )
    voice_agitated_at: float = Field(
        0.5, ge=0, le=1, description="Voice agitation (0-1, against the customer's earlier voice) that counts as upset."
    )
    max_message_chars: int = Field(
        4_000, ge=1, description="Longest customer message, in characters (the API, the chat page and the pipeline)."
    )
    max_image_bytes: int = Field(10_000_000, gt=0, description="Largest accepted screenshot upload, in bytes.")
    # 16 MP fits every phone screen (a 1440x3200 screen is 4.6 MP), 5K desktop screenshots (14.7 MP) and long
    # scrolling captures (1290x12000); a few KB of PNG declaring 40 MP used to cost 2-7 s of CPU before OCR.
    max_image_pixels: int = Field(
        16_000_000, gt=0, description="Largest accepted screenshot, in pixels (read from its header, before decoding)."
    )
    ocr_engine: str = Field("rapidocr", description="OCR engine for screenshots: 'rapidocr'.")
    ocr_max_pixels: int = Field(
        4_000_000,
        gt=0,
        description="Screenshots larger than this (pixels) are downscaled before OCR; it keeps OCR fast.",
    )
    ocr_max_chars: int = Field(
        2000, ge=100, description="Longest screenshot text quoted to the model or added to the query, in characters."
    )
    # Routing policy (agent/policy.py).
    negative_score: float = Field(-0.3, le=0, description="A turn scoring at or below this is negative.")
    negative_turns_for_handoff: int = Field(
        3, ge=1, description="Hand over after this many consecutive negative customer turns."
    )
    upset_turns_for_handoff: int = Field(
        2, ge=1, description="...or after this many when the latest shows an upset cue (shouting, profanity, ...)."
    )
    no_answer_turns_for_handoff: int = Field(
        2, ge=1, description="Hand over after this many consecutive turns the FAQ could not answer."
    )
    clarify_margin: float = Field(
        0.0, ge=0, description="Offer choices when the top two topics differ by less than this fused score (0: never)."
    )


def _rate(value: str) -> str:
    """A rate such as "20/minute" or "5 per 10 minutes" (the `limits` package's notation), checked at load."""
    from limits import parse

    try:
        parse(value)
    except ValueError as error:
        raise ValueError(f"{value!r} is not a rate; write it like '20/minute' or '3 per 10 minutes'") from error
    return value


Rate = Annotated[str, AfterValidator(_rate)]


class SecurityConfig(BaseModel):
    """Sign-in throttling, token lifetimes and rate limits on anonymous requests (FINDESK_SECURITY__*).

    Counts are per client address as the server sees it: behind a reverse proxy, list it in
    FINDESK_WEB__TRUSTED_PROXIES so its X-Forwarded-For is believed, or every customer shares its address.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_token_days: int = Field(90, ge=1, description="API tokens (`findesk user token`) expire after this many days.")
    login_window_s: int = Field(900, ge=1, description="Failed sign-ins are counted over this many seconds.")
    login_failures_per_account: int = Field(
        5, ge=1, description="Refuse (429) sign-ins to an account after this many failures in the window."
    )
    login_failures_per_address: int = Field(
        20, ge=1, description="Refuse (429) sign-ins from a client address after this many failures in the window."
    )
    chat_turns_per_session: Rate = Field("20/minute", description="Customer turns one conversation may send.")
    chat_turns_per_address: Rate = Field("60/minute", description="Customer turns one client address may send.")
    handoffs_per_session: Rate = Field("3/hour", description="'Talk to a person' requests per conversation.")
    handoffs_per_address: Rate = Field("20/hour", description="'Talk to a person' requests per client address.")


def _presence_timeout(seconds: float) -> float:
    if seconds != 0 and not 15 <= seconds <= 86400:
        raise ValueError("presence_timeout_s must be 0 (never skip an agent) or from 15 to 86400 seconds")
    return seconds


PresenceTimeout = Annotated[float, AfterValidator(_presence_timeout)]


class DeskConfig(BaseModel):
    """The agent desk as a team (FINDESK_DESK__*): round-robin assignment, agent/assignment.py."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent_capacity: int = Field(
        3,
        ge=1,
        le=100,
        description="Most open conversations handed to one available agent at a time by round-robin assignment "
        "(claiming or reassigning by hand may go past it). Chat desks commonly give an agent 2-4 chats at once.",
    )
    presence_timeout_s: PresenceTimeout = Field(
        120.0,
        description="Round-robin skips an available agent whose desk has not been seen for this many seconds (the "
        "open desk refreshes every 3 s; browsers slow timers in background tabs to about once a minute). 0: never "
        "skip, for teams whose agents take chats only through the HTTP API.",
    )


class WebConfig(BaseModel):
    """The web server's protections (FINDESK_WEB__*): cookies, proxies, embedding and upload limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secure_cookies: bool | None = Field(
        None,
        description="Mark the staff session cookie Secure. Empty: on when the request came over HTTPS (directly, or "
        "from a trusted proxy that says so in X-Forwarded-Proto).",
    )
    trusted_proxies: tuple[str, ...] = Field(
        ("127.0.0.1", "::1"),
        description="Addresses or networks (e.g. 10.0.0.0/8) of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed; from anyone else those headers are ignored. () trusts nobody.",
    )
    embedding_origins: tuple[str, ...] = Field(
        (),
        description="Origins (e.g. https://www.bank.example) allowed to show FinDesk pages in a frame, besides "
        "FinDesk itself (Content-Security-Policy frame-ancestors).",
    )
    upload_ttl_s: int = Field(
        300, ge=10, description="Uploads never sent with a message are deleted this many seconds after upload."
    )
    upload_window_s: int = Field(600, ge=1, description="The window, in seconds, the per-client upload limits count.")
    uploads_per_window: int = Field(30, ge=1, description="Most uploads one client (address) may make per window.")
    upload_bytes_per_window: int = Field(
        200_000_000, ge=1, description="Most bytes one client (address) may upload per window."
    )


class Settings(BaseSettings):
    """Everything FinDesk can be configured with. `findesk doctor` prints the resolved values."""

    model_config = SettingsConfigDict(
        env_prefix="FINDESK_", env_nested_delimiter="__", extra="forbid", frozen=True, toml_file=None
    )

    data_dir: Path = Field(default_factory=default_data_dir, description="Where the database and index files live.")
    database_url: SecretStr = Field(
        SecretStr(""),
        description="PostgreSQL shared by several replicas, e.g. postgresql://findesk:secret@db:5432/findesk "
        "(FINDESK_DATABASE_URL); empty: SQLite in data_dir. Index files always stay in data_dir.",
    )
    database_pool_size: int = Field(5, ge=1, description="Database connections each process keeps open.")
    database_max_overflow: int = Field(10, ge=0, description="Extra connections a process may open under bursts.")
    database_timeout_s: float = Field(
        10.0, gt=0, description="Seconds to wait for the database server or a free pooled connection."
    )
    host: str = Field("127.0.0.1", description="Address `findesk serve` listens on.")
    port: int = Field(7860, ge=0, le=65535, description="Port `findesk serve` listens on.")
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    speech: SpeechConfig = Field(default_factory=SpeechConfig)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    opening_hours: OpeningHours = Field(default_factory=OpeningHours)
    webhooks: WebhookConfig = Field(default_factory=WebhookConfig)
    desk: DeskConfig = Field(default_factory=DeskConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    web: WebConfig = Field(default_factory=WebConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence, highest first: explicit arguments (CLI flags), environment, TOML file.
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = os.environ.get("FINDESK_CONFIG")
        if toml_path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(toml_path)))
        return tuple(sources)

    @property
    def database_path(self) -> Path:
        """The SQLite file used when no database_url is set."""
        return self.data_dir / "findesk.sqlite3"

    @property
    def database_location(self) -> str:
        """Where the database is, without its password (for `findesk doctor` and logs)."""
        url = database_url(self.database_url.get_secret_value(), self.data_dir)
        return make_url(url).render_as_string(hide_password=True)

    def open_database(self) -> Database:
        """The one place FinDesk connects to its database (and migrates it): shared by every store."""
        limits = PoolLimits(self.database_pool_size, self.database_max_overflow, self.database_timeout_s)
        return open_database(database_url(self.database_url.get_secret_value(), self.data_dir), pool=limits)

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"


def load_settings(**overrides: Any) -> Settings:
    """Build settings from TOML (FINDESK_CONFIG), environment and the given overrides (CLI flags)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
