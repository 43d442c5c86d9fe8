"""Typed settings: one env prefix (STATEMENTBOT_), every field documented.

Secrets come from the environment only. Unknown STATEMENTBOT_* variables are
rejected, because a typo such as STATEMENTBOT_DATADIR silently falling back to
the default data directory is worse than an error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from errors import StatementbotError

ENV_PREFIX = "STATEMENTBOT_"


def _default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("statementbot"))


def _default_sample_dir() -> Path:
    # The bundled sample statements ship as package data (bot/samples/), so a normal,
    # non-editable install finds them too. Installed packages are directories on disk
    # (wheels are unpacked), so the traversable is a real path.
    from importlib.resources import files

    return Path(str(files("bot") / "samples"))


class SettingsError(StatementbotError):
    """The environment holds an invalid or unknown setting."""


class Settings(BaseSettings):
    """Everything statementbot can be configured with (env: STATEMENTBOT_<NAME>)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where the embedded Chroma store, lexical cache and feedback live.",
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (e.g. http://127.0.0.1:8000); unset = embedded store in data_dir.",
    )
    chroma_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="Seconds to connect to, and to wait for each answer from, a Chroma server before giving up.",
    )
    collection: str = Field(
        default="statementbot",
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,40}[a-zA-Z0-9]$",
        description="Prefix of the Chroma collections, to keep several corpora on one server apart.",
    )
    sample_dir: Path = Field(
        default_factory=_default_sample_dir,
        description="Statements ingested automatically the first time the store is empty.",
    )
    embed_backend: Literal["onnx", "torch"] = Field(
        default="onnx",
        description="What embeds statements at ingest: 'onnx' (ONNX Runtime, about 1.5x faster on CPU; the model "
        "is exported once and checked against sentence-transformers) or 'torch' (sentence-transformers).",
    )
    resident_vectors_mb: float = Field(
        default=512.0,
        ge=0,
        le=65536,
        description="Memory a long-running bot (and `eval`) may fill with every sentence vector, read once when it "
        "warms up, so that no question reads its candidates' vectors from Chroma (the whole archive needs about "
        "290 MB); 0 keeps none. A one-shot `ask` never reads them.",
    )
    max_file_mb: float = Field(default=20.0, gt=0, le=1024, description="Largest statement file accepted, in MB.")
    max_question_chars: int = Field(default=1000, ge=20, le=20000, description="Longest question accepted.")
    abstain_threshold: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Override the calibrated evidence threshold below which the bot says the statements don't "
        "cover a question (see README).",
    )
    llm_provider: str = Field(
        default="none",
        description="Chat model used to write answers: 'none' = extractive answers, no LLM; otherwise the name "
        "of a provider registered in qa/llm.py",
    )
    llm_base_url: str | None = Field(default=None, description="Endpoint of the LLM server (openai, ollama).")
    llm_model: str | None = Field(default=None, description="Model name, or the GGUF file path for llamacpp.")
    llm_api_key: SecretStr | None = Field(default=None, description="API key for the LLM endpoint (env only).")
    llm_temperature: float = Field(default=0.0, ge=0, le=2, description="Sampling temperature for the LLM.")
    llm_timeout_s: float = Field(default=30.0, gt=0, le=600, description="Seconds before an LLM call is abandoned.")
    llm_max_tokens: int = Field(default=400, ge=16, le=8192, description="Most tokens an LLM answer may use.")
    discord_admin_role: str | None = Field(
        default=None, description="Role name allowed to /ingest and /remove besides Manage Server holders."
    )
    discord_guild_id: int | None = Field(
        default=None, description="Sync slash commands to this guild only (instant) instead of globally."
    )
    discord_cooldown_s: float = Field(default=5.0, ge=0, le=3600, description="Per-user seconds between questions.")
    allow_url_ingest: bool = Field(default=False, description="Let admins /ingest a URL (the host must allow it).")
    feedback_days: int = Field(
        default=180, ge=1, le=3650, description="Days a Discord vote (and the answer it rates) is kept."
    )
    feedback_key: SecretStr | None = Field(
        default=None,
        description="Key for the voters' keyed hashes (env only); unset = a random key in data_dir/feedback.key.",
        repr=False,
    )
    discord_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("DISCORD_TOKEN"),
        description="Bot token, from the DISCORD_TOKEN environment variable only.",
        exclude=True,
        repr=False,
    )

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_environment(cls, values: object) -> object:
        known = {ENV_PREFIX + name.upper() for name in cls.model_fields}
        unknown = sorted(k for k in os.environ if k.upper().startswith(ENV_PREFIX) and k.upper() not in known)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        return values

    @field_validator("llm_provider")
    @classmethod
    def _registered_provider(cls, name: str) -> str:
        # The registry is only imported when a model is configured (it pulls in the answering layer).
        if name != "none" and name not in _provider_names():
            raise ValueError(f"unknown provider {name!r}; choose one of: none, {', '.join(_provider_names())}.")
        return name

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)


def _provider_names() -> tuple[str, ...]:
    from qa.providers import provider_names

    return provider_names()


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with CLI flags as overrides; errors are user-facing."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as error:
        problems = "; ".join(
            (f"{ENV_PREFIX}{'_'.join(str(p) for p in e['loc']).upper()}: " if e["loc"] else "") + e["msg"]
            for e in error.errors()
        )
        raise SettingsError(f"Invalid settings: {problems}", hint="See the Settings table in README.md.") from None


def settings_table() -> list[tuple[str, str, str]]:
    """(env name, default, description) for the README and `statementbot settings`."""
    rows = []
    for name, field in Settings.model_fields.items():
        env = "DISCORD_TOKEN" if name == "discord_token" else ENV_PREFIX + name.upper()
        default = "" if field.default_factory else repr(field.default)
        description = field.description or ""
        if name == "llm_provider":
            description += f" ({', '.join(_provider_names())})"
        rows.append((env, default, description))
    return rows
