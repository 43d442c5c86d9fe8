"""The language-model providers, as a registry: name, package, how its model is built, its failures.

Kept apart from `qa/llm.py` so that settings can list and check provider names without
importing LangChain (read-only commands stay fast); a provider's package and LangChain are
imported only when its model is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from errors import StatementbotError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


class LLMSetupError(StatementbotError):
    """The configured language model cannot be used (missing package, model or key)."""


@dataclass(frozen=True)
class LLMConfig:
    """What `make_chat_model` needs; `bot.runtime` builds it from the settings."""

    provider: str  # one of PROVIDERS
    model: str | None = None  # model name, or the GGUF file for llamacpp
    base_url: str | None = None
    api_key: SecretStr | None = None
    temperature: float = 0.0
    timeout_s: float = 30.0  # per call, enforced as a hard deadline
    max_tokens: int = 400
    max_retries: int = 1  # client retries inside the deadline (openai)


FailureTypes = Sequence[tuple[type[BaseException] | tuple[type[BaseException], ...], str]]


@dataclass(frozen=True)
class Provider:
    """A chat-model provider: its name (STATEMENTBOT_LLM_PROVIDER), the extra and package it needs,
    how its model is built, and how its client's errors map to failures."""

    name: str
    package: str  # imported before building; missing -> "pip install 'statementbot[<extra>]'"
    build: Callable[[Any, LLMConfig], BaseChatModel]  # (the imported package, config) -> model
    failure_types: Callable[[], FailureTypes] = tuple  # (exception type, reason) pairs, first match wins
    model_hint: str = "the model name the server knows."
    extra: str = ""  # defaults to the name

    @property
    def extra_name(self) -> str:
        return self.extra or self.name


PROVIDERS: dict[str, Provider] = {}


def register_provider(provider: Provider) -> Provider:
    """Make `provider` selectable by its name (a later registration with the same name replaces it)."""
    PROVIDERS[provider.name] = provider
    return provider


def provider_names() -> tuple[str, ...]:
    """Every registered provider's name, for settings and messages ("none" is the extractive answerer)."""
    return tuple(PROVIDERS)


def require_package(module: str, provider: Provider) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise LLMSetupError(
            f"STATEMENTBOT_LLM_PROVIDER={provider.name} needs the Python package {module!r}, which is not installed.",
            hint=f"Install it with `pip install 'statementbot[{provider.extra_name}]'`, "
            "or set STATEMENTBOT_LLM_PROVIDER=none.",
        ) from error


def provider_for(name: str) -> Provider:
    """The registered provider called `name`; LLMSetupError naming the choices otherwise."""
    provider = PROVIDERS.get(name)
    if provider is None:
        raise LLMSetupError(
            f"Unknown language model provider {name!r}.",
            hint=f"Set STATEMENTBOT_LLM_PROVIDER to one of: none, {', '.join(PROVIDERS)}.",
        )
    return provider


def make_chat_model(config: LLMConfig) -> BaseChatModel:
    """The LangChain chat model for `config`; raises LLMSetupError with what to do."""
    provider = provider_for(config.provider)
    package = require_package(provider.package, provider)
    if not config.model:
        raise LLMSetupError(
            f"STATEMENTBOT_LLM_PROVIDER={config.provider} needs STATEMENTBOT_LLM_MODEL.",
            hint=f"Set it to {provider.model_hint}",
        )
    return provider.build(package, config)


# The providers ---------------------------------------------------------------------------
def _httpx_failures() -> FailureTypes:
    import httpx

    return (
        (httpx.TimeoutException, "timeout"),
        (httpx.TransportError, "connection"),
        (httpx.DecodingError, "malformed"),
    )


def _build_openai(package: Any, config: LLMConfig) -> BaseChatModel:
    api_key = config.api_key
    if api_key is None:
        if not config.base_url:
            raise LLMSetupError(
                "The openai provider needs an API key or a local OpenAI-compatible server.",
                hint="Set STATEMENTBOT_LLM_API_KEY, or STATEMENTBOT_LLM_BASE_URL for a local server.",
            )
        api_key = SecretStr("unused")  # local OpenAI-compatible servers take any key
    chat_openai: Any = package.ChatOpenAI
    model: BaseChatModel = chat_openai(
        model=config.model,
        base_url=config.base_url,
        api_key=api_key,
        temperature=config.temperature,
        timeout=config.timeout_s,
        max_tokens=config.max_tokens,
        max_retries=config.max_retries,
    )
    return model


def _openai_failures() -> FailureTypes:
    import openai

    # The timeout error is a connection error in openai's hierarchy: it comes first.
    return (
        (openai.APITimeoutError, "timeout"),
        (openai.RateLimitError, "rate_limit"),
        (openai.APIConnectionError, "connection"),
        (openai.APIResponseValidationError, "malformed"),
        *_httpx_failures(),
    )


def _build_ollama(package: Any, config: LLMConfig) -> BaseChatModel:
    chat_ollama: Any = package.ChatOllama
    model: BaseChatModel = chat_ollama(
        model=config.model,
        base_url=config.base_url,
        temperature=config.temperature,
        num_predict=config.max_tokens,
        client_kwargs={"timeout": config.timeout_s},
    )
    return model


def _build_llamacpp(package: Any, config: LLMConfig) -> BaseChatModel:
    from pathlib import Path

    from qa.llm import LlamaCppChat

    assert config.model is not None  # checked by make_chat_model
    if not Path(config.model).is_file():
        raise LLMSetupError(
            f"No GGUF model file at {config.model}.", hint="Set STATEMENTBOT_LLM_MODEL to the path of a .gguf file."
        )
    return LlamaCppChat(model_path=config.model, temperature=config.temperature, max_tokens=config.max_tokens)


register_provider(Provider("openai", "langchain_openai", _build_openai, _openai_failures))
# The ollama client talks httpx; a refused connection is the builtin ConnectionError.
register_provider(Provider("ollama", "langchain_ollama", _build_ollama, _httpx_failures))
register_provider(Provider("llamacpp", "llama_cpp", _build_llamacpp, model_hint="the path of a .gguf file."))
