"""Provider ``openai-chat`` (Chat Completions and compatible servers) as the registry sees it,
without importing the ``openai`` SDK (~50 MB): ``create`` imports the implementation
(``openai_chat.py``) on first use. The preset's options and the history-shaping rules they
select live here because validating a preset must not need the SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.providers.base import ChatModel, ProviderConfig, ProviderSpec
from backend.providers.tls import prepare_client_stack

PROVIDER: Final = "openai-chat"

SystemPlacement = Literal["first", "in-place"]
EmptyContent = Literal["empty-string", "null"]
ReasoningField = Literal["reasoning_content", "reasoning"]


@dataclass(frozen=True, slots=True)
class MessageRules:
    """How the history is shaped for the server's chat template (the preset's options).

    ``system``: ``first`` merges every system text into one first message (what strict
    templates accept); ``in-place`` keeps history system messages where they are (OpenAI).
    ``empty_content``: the ``content`` of an assistant message that has only tool calls.
    ``alternate_roles``: merge consecutive user (or assistant) messages, for templates that
    raise "Conversation roles must alternate user/assistant/user/assistant/...".
    ``reasoning_field``: send reasoning text back on assistant messages under this name
    (DeepSeek's thinking mode with tool calls requires ``reasoning_content`` back).
    """

    system: SystemPlacement = "first"
    empty_content: EmptyContent = "empty-string"
    alternate_roles: bool = False
    reasoning_field: ReasoningField | None = None


class ForcedTool(BaseModel):
    """``tool_choice = { name = "weather" }``: the model must call this tool."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)


class OpenAIChatOptions(BaseModel):
    """The ``[openai-chat]`` table of a preset. ``max_tokens_field``: ``max_completion_tokens`` for
    OpenAI's reasoning models; ``extra_body``: merged into the request as is (OpenRouter ``reasoning``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    # Some compatible servers reject stream_options; turn usage reporting off for them.
    include_usage: bool = True
    extra_body: dict[str, Any] | None = None
    # How the history is shaped for the server's chat template (see MessageRules).
    system_messages: SystemPlacement = "first"
    empty_content: EmptyContent = "empty-string"
    alternate_roles: bool = False
    send_reasoning_as: ReasoningField | None = None
    # Sent only with tools. llama-cpp-python forces only a named tool (it ignores "required").
    tool_choice: Literal["auto", "none", "required"] | ForcedTool | None = None
    # A stream that closes before its first chunk is asked again without streaming (one token)
    # to learn why; llama-cpp-python reports its errors only that way.
    explain_empty_stream: bool = True

    def message_rules(self) -> MessageRules:
        return MessageRules(
            system=self.system_messages,
            empty_content=self.empty_content,
            alternate_roles=self.alternate_roles,
            reasoning_field=self.send_reasoning_as,
        )


def load() -> None:
    import backend.providers.openai_chat  # noqa: F401  (imports the SDK)

    prepare_client_stack()


def create(config: ProviderConfig) -> ChatModel:
    """The registry's factory for provider ``openai-chat``."""
    from backend.providers.openai_chat import OpenAIChatModel

    return OpenAIChatModel(config)


SPEC = ProviderSpec(name=PROVIDER, create=create, options=OpenAIChatOptions, table=PROVIDER, load=load)
