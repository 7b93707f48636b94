"""A turn: one request's answer, decided and ready to run.

:class:`TurnRequest` is what a front door hands the core (already parsed from its wire);
:class:`Turn` is what ``prepare.prepare_turn`` decided from it (preset, history, tools, keys,
retry policy). ``Turn.events`` runs it: the user's approval answers first (their results come
before the next ``start-step``), then the model loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from typing import Any

from backend.aisdk.assemble import UIMessageAssembler
from backend.aisdk.convert import to_model_messages
from backend.aisdk.protocol import ProtocolMajor
from backend.aisdk.request import UIMessage
from backend.chat.model_pool import ModelPool
from backend.chat.rate_limits import TokenCharge
from backend.errors import ProviderError
from backend.events import ChatEvent, Usage
from backend.loop import Fallbacks, RetryPolicy, run_chat
from backend.messages import ApprovalAnswer, Message, ToolChoice, ToolDefinition, ToolResultContent
from backend.providers.base import ChatModel, ModelCall, ProviderConfig
from backend.resolve import ResolvedPreset
from backend.tools.runner import ServerToolRunner
from backend.upstream_wait import UpstreamTimeouts
from backend.users import IMPLICIT_USER, User


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """A chat request as any front door parsed it.

    ``messages`` are the UIMessages as sent (plain JSON objects: they are saved exactly as the
    client sent them). A stateless front door (an OpenAI- or Anthropic-compatible endpoint)
    sends ``model_messages`` instead: a provider-neutral history it converted from its own wire,
    which is answered but neither loaded, continued nor saved. ``options`` are the request
    layer's overrides. ``client_tools`` is ``None`` when the request declared none (then any
    tool the server does not own is the client's, as with ``useChat``'s default).

    ``server_tools`` false: the preset's server tools are not offered (an API caller's tools
    are all its own, as with the OpenAI and Anthropic APIs). ``stop_sequences``,
    ``tool_choice`` and ``parallel_tool_calls`` go to the model call as they are.
    """

    block_id: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    model_messages: tuple[Message, ...] | None = None
    chat_id: str | None = None
    url_preset: str | None = None
    options: Mapping[str, Any] | None = None
    # A third-party UI's request settings (assistant-ui): below ``options`` in the request layer.
    call_settings: Mapping[str, Any] | None = None
    system: str | None = None
    client_tools: tuple[ToolDefinition, ...] | None = None
    load_history: bool = False
    # Who is asking, for per-client limits (a front door decides: a token's hash, a remote address).
    client_id: str | None = None
    front_door: str = "chat"
    protocol: int | None = None  # the client's ai major, if the request said (docs/api.md)
    server_tools: bool = True
    # A stateless front door's caller asked to keep the conversation in ``block_id`` (the UI and
    # useChat can then open it): the history and the answer are saved there.
    keep_in_block: bool = False
    # False for a wire that cannot take back streamed output (OpenAI, Anthropic APIs): no retry or
    # fallback after output has started; the error ends the answer instead.
    resettable: bool = True
    stop_sequences: tuple[str, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    # Who is asking (issue 19): the owner of the block, its settings and approvals, and whose
    # allowlist and budgets apply. A front door takes it from authentication, never from the body.
    user: User = IMPLICIT_USER


@dataclass(frozen=True, slots=True)
class Turn:
    block_id: str
    chat_id: str
    message_id: str
    metadata: dict[str, Any]
    history: list[dict[str, Any]]  # the UIMessages before the answer, saved with it
    base_message: dict[str, Any] | None  # the assistant message being continued, if any
    continued: UIMessage | None  # ... validated, converted once its approvals are answered
    call: ModelCall  # its messages: the history before the continued message
    provider_config: ProviderConfig
    policy: RetryPolicy
    max_steps: int
    resolved: ResolvedPreset
    runner: ServerToolRunner
    approvals: tuple[ApprovalAnswer, ...]
    previous_usage: Usage  # what the continued message already cost (the client deep-merges usage)
    continued_index: int = 0  # the continued message's index in the history, for error paths
    stateless: bool = False  # nothing is saved (a stateless front door's turn)
    timeouts: UpstreamTimeouts = field(default_factory=UpstreamTimeouts)
    front_door: str = "chat"
    charges: tuple[TokenCharge, ...] = ()  # what a stateless turn was charged (corrected at its end)
    resettable: bool = True  # the front door's wire can take back streamed output (reset-step)
    models: ModelPool = field(default_factory=ModelPool)  # the app's provider clients
    fallbacks: Fallbacks = field(default_factory=Fallbacks)  # who answers when the preset's provider gives up
    protocol: ProtocolMajor = 7  # the UI message stream major the client accepts
    user: User = IMPLICIT_USER  # whose turn it is: its block, approvals and budgets are theirs

    def assembler(self) -> UIMessageAssembler:
        return UIMessageAssembler(self.message_id, self.base_message)

    def open_model(self) -> AbstractAsyncContextManager[ChatModel]:
        return self.models.open(self.provider_config)

    async def events(
        self, model: ChatModel, on_retry: Callable[[ProviderError], None] | None = None
    ) -> AsyncIterator[ChatEvent]:
        """Answered approvals first, then the loop. Usage is cumulative over the continued message."""
        messages: tuple[Message, ...] = self.call.messages
        if self.continued is not None:
            results: dict[str, ToolResultContent] = {}
            if self.approvals:
                events, results = await self.runner.resolve_approvals(self.approvals)
                for event in events:
                    yield event
            messages += to_model_messages([self.continued], results, first_index=self.continued_index)
        # (``replace`` copies every field: skipped when nothing was added, the usual first turn)
        call = self.call if messages is self.call.messages else replace(self.call, messages=messages)
        async for event in run_chat(
            model,
            call,
            policy=self.policy,
            tools=self.runner,
            max_steps=self.max_steps,
            usage=self.previous_usage,
            timeouts=self.timeouts,
            on_retry=on_retry,
            fallbacks=self.fallbacks,
            resettable=self.resettable,
        ):
            yield event
