"""The optional chat model behind LLM answers: built lazily, once, through LangChain.

`settings.llm` is "<provider>:<model>" ("openai:gpt-4o-mini", "ollama:llama3.2", "openai:smollm2"
with NEWSBOT_LLM_BASE_URL=http://127.0.0.1:8080/v1 for any OpenAI-compatible server). Every
failure (missing provider package, bad configuration, connection refused, timeout, HTTP error,
empty reply) surfaces as LLMError with a short one-line `reason`; the caller decides what to do.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from bot.config import AnswerSettings

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

log = logging.getLogger(__name__)

__all__ = ["ChatLLM", "LLMError", "describe_llm_error", "parse_llm_setting"]

MAX_ANSWER_TOKENS = 400
# Providers whose LangChain class takes the OpenAI-style options (timeout, max_retries, ...).
_OPENAI_STYLE = {
    "openai", "azure_openai", "deepseek", "xai", "groq", "together", "fireworks", "mistralai",
    "openrouter", "perplexity", "anthropic",
}  # fmt: skip


class LLMError(Exception):
    """The chat model could not produce a reply. `reason` is one short line for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_llm_setting(value: str) -> tuple[str, str]:
    """ "openai:gpt-4o-mini" → ("openai", "gpt-4o-mini"). Raises LLMError for other forms."""
    provider, sep, model = value.strip().partition(":")
    provider, model = provider.strip().lower(), model.strip()
    if not sep or not provider or not model:
        raise LLMError(f"NEWSBOT_LLM must look like '<provider>:<model>', not {value!r}")
    return provider, model


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen and len(seen) < 10:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def describe_llm_error(exc: BaseException, timeout: float | None = None) -> str:
    """A short, secret-free reason: "connection refused", "timed out after 5s", "HTTP 500"."""
    chain = _chain(exc)
    names = {type(e).__name__ for e in chain}
    text = " ".join(str(e) for e in chain).lower()
    if isinstance(exc, ImportError):
        return str(exc).splitlines()[0] if str(exc) else "a provider package is missing"
    if (
        names & {"APITimeoutError", "ReadTimeout", "ConnectTimeout", "TimeoutException"}
        or any(isinstance(e, TimeoutError) for e in chain)
        or "timed out" in text
    ):
        return f"timed out after {timeout:g}s" if timeout else "timed out"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "connection refused" in text:
        return "connection refused"
    for e in chain:
        status = getattr(e, "status_code", None)
        if isinstance(status, int):
            return f"HTTP {status}"
    if names & {"APIConnectionError", "ConnectError", "RemoteProtocolError"}:
        return "cannot connect"
    first = str(exc).splitlines()[0][:120] if str(exc) else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


class ChatLLM:
    """One chat model per process, built on first use. Thread-safe."""

    def __init__(self, settings: AnswerSettings, *, max_tokens: int = MAX_ANSWER_TOKENS) -> None:
        self.settings = settings
        self.name = settings.llm
        self.max_tokens = max_tokens
        self._model: BaseChatModel | None = None
        self._build_error: LLMError | None = None
        self._lock = threading.Lock()

    def _kwargs(self, provider: str) -> dict[str, Any]:
        s = self.settings
        kw: dict[str, Any] = {"temperature": s.llm_temperature}
        key = s.llm_api_key.get_secret_value() if s.llm_api_key else None
        if provider == "ollama":
            if s.llm_base_url:
                kw["base_url"] = s.llm_base_url
            kw["num_predict"] = self.max_tokens
            kw["client_kwargs"] = {"timeout": s.llm_timeout}
            return kw
        if s.llm_base_url:
            kw["base_url"] = s.llm_base_url
        if key:
            kw["api_key"] = key
        elif provider == "openai" and s.llm_base_url:
            kw["api_key"] = "not-needed"  # local OpenAI-compatible servers ignore the key
        if provider in _OPENAI_STYLE:
            kw["timeout"] = s.llm_timeout
            kw["max_retries"] = 0
            kw["max_tokens"] = self.max_tokens
        if provider == "openai" and s.llm_base_url:
            # langchain-openai sends only `max_completion_tokens`, which OpenAI-compatible
            # servers such as llama.cpp ignore (they then generate up to the context size).
            kw["extra_body"] = {"max_tokens": self.max_tokens}
        return kw

    def model(self) -> BaseChatModel:
        """The chat model, built once; a build failure is remembered and raised as LLMError."""
        with self._lock:
            if self._model is not None:
                return self._model
            if self._build_error is not None:
                raise self._build_error
            try:
                provider, model_name = parse_llm_setting(self.name)
                from langchain.chat_models import init_chat_model  # lazy: start-up time

                self._model = init_chat_model(
                    model_name, model_provider=provider, **self._kwargs(provider)
                )
            except LLMError as e:
                self._build_error = e
                raise
            except ImportError as e:
                self._build_error = LLMError(describe_llm_error(e))
                log.warning("cannot build chat model %s: %s", self.name, self._build_error.reason)
                raise self._build_error from e
            except Exception as e:  # unsupported provider, missing key, bad option
                first = str(e).strip().splitlines()[0][:160] if str(e).strip() else ""
                self._build_error = LLMError(f"cannot set up {self.name}: {first or type(e)}")
                log.warning("cannot build chat model %s", self.name, exc_info=True)
                raise self._build_error from e
            log.info("chat model ready: %s (base_url=%s)", self.name, self.settings.llm_base_url)
            return self._model

    def complete(self, system: str, user: str) -> str:
        """One reply to a system + user message. Raises LLMError on any failure."""
        from langchain_core.messages import (  # lazy: start-up time, only with an LLM
            HumanMessage,
            SystemMessage,
        )

        model = self.model()
        try:
            reply = model.invoke([SystemMessage(content=system), HumanMessage(content=user)])
        except Exception as e:
            raise LLMError(describe_llm_error(e, self.settings.llm_timeout)) from e
        content = reply.content
        if isinstance(content, str):
            text = content
        else:  # a list of content blocks
            text = "".join(
                b if isinstance(b, str) else str(b.get("text", "")) if isinstance(b, dict) else ""
                for b in content
            )
        text = text.strip()
        if not text:
            raise LLMError("empty reply")
        return text
