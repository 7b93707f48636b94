"""``ModelCall`` → google-genai ``generate_content_stream`` arguments, including the history.

Rules (../shared/provider-wire/README.md §3.2 and §3.4, https://ai.google.dev/gemini-api/docs/thought-signatures,
the AI SDK's ``packages/google/src/convert-to-google-generative-ai-messages.ts``):

* A model turn goes back with its parts in their original order and every ``thoughtSignature``
  on the SAME part it arrived with (text, thought or functionCall). For parallel calls only the
  first functionCall carries one; the others stay unsigned, exactly as received.
* Only our own ``{"google": {"thoughtSignature"}}`` metadata is read. Reasoning without it (another
  provider's, or a Gemini thought that came unsigned) is dropped: a thought part is only useful to
  Gemini together with its signature, and foreign reasoning must never pose as Gemini's own.
* Gemini 3 rejects a step whose first functionCall is unsigned (400 INVALID_ARGUMENT, fixture
  ``error_400_invalid_argument.json``). Tool calls that another provider made have no signature,
  so such a step gets Google's documented placeholder ``skip_thought_signature_validator``
  (thought-signatures FAQ; gemini-cli does the same) instead of being rewritten as prose: the
  model keeps seeing real structured calls and results, and the turn stays valid.
* All tool results of a step go back in ONE user turn of ``functionResponse`` parts, with
  ``response = {"output": ...}`` or ``{"error": ...}`` (the keys ``FunctionResponse.response``
  documents).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Final, assert_never

from google.genai import types

from backend.errors import ProviderError
from backend.events import JsonValue, ProviderMetadata
from backend.messages import (
    AssistantContent,
    AssistantMessage,
    FileContent,
    Message,
    ProviderToolResultContent,
    ReasoningContent,
    SystemMessage,
    TextContent,
    ToolCallContent,
    ToolChoice,
    ToolMessage,
    ToolResultContent,
    UserMessage,
)
from backend.providers.base import ModelCall, ThinkingSettings, read_options
from backend.providers.google_spec import DEFAULT_API_VERSION, PROVIDER, GoogleOptions

# The wire string must be exactly "skip_thought_signature_validator". The SDK holds signatures as
# bytes and sends them URL-safe base64 encoded, and this string is valid URL-safe base64 (32
# characters, no padding), so its decoded bytes go back out as the same string.
SKIP_SIGNATURE_VALIDATOR: Final = base64.urlsafe_b64decode("skip_thought_signature_validator")

# ThinkingSettings.effort → ThinkingLevel. Gemini has no level above XHIGH.
_EFFORT_LEVELS: Final[Mapping[str, types.ThinkingLevel]] = {
    "minimal": types.ThinkingLevel.MINIMAL,
    "low": types.ThinkingLevel.LOW,
    "medium": types.ThinkingLevel.MEDIUM,
    "high": types.ThinkingLevel.HIGH,
    "xhigh": types.ThinkingLevel.XHIGH,
    "max": types.ThinkingLevel.XHIGH,
}
# https://ai.google.dev/gemini-api/docs/document-processing and .../image|audio|video-understanding
_MEDIA_PREFIXES: Final = ("image/", "audio/", "video/", "text/")
_MEDIA_TYPES: Final = frozenset(
    {
        "application/pdf",
        "application/json",
        "application/rtf",
        "application/xml",
        "application/x-javascript",
        "application/x-typescript",
        "application/x-python-code",
    }
)
_URL_SCHEMES: Final = ("https://", "http://", "gs://")


def to_google_config(call: ModelCall) -> types.GenerateContentConfigDict:
    """The ``config`` argument: system text, limits, tools, thinking and the API version.

    Raises ``RequestError`` for an invalid ``[google]`` option, before any I/O.
    """
    options = read_options(call, PROVIDER, GoogleOptions)
    config: types.GenerateContentConfigDict = {
        "max_output_tokens": call.max_tokens,
        # The loop runs the tools; the SDK must never call anything itself.
        "automatic_function_calling": {"disable": True},
        "http_options": {"api_version": options.api_version or DEFAULT_API_VERSION},
    }
    system = system_text(call)
    if system:
        config["system_instruction"] = system
    if call.temperature is not None:
        config["temperature"] = call.temperature
    if call.top_p is not None:
        config["top_p"] = call.top_p
    if call.tools:
        declarations: list[types.FunctionDeclarationDict] = [
            {"name": tool.name, "description": tool.description, "parameters_json_schema": tool.input_schema}
            for tool in call.tools
        ]
        config["tools"] = [{"function_declarations": declarations}]
        if call.tool_choice is not None:
            config["tool_config"] = {"function_calling_config": _function_calling(call.tool_choice)}
    if call.stop_sequences:
        config["stop_sequences"] = list(call.stop_sequences)
    if call.thinking.enabled:
        config["thinking_config"] = _thinking_config(call.thinking, options)
    return config


def _function_calling(choice: ToolChoice) -> types.FunctionCallingConfigDict:
    # Gemini has no switch for parallel calls; ANY + one allowed name forces that tool.
    match choice.mode:
        case "auto":
            return {"mode": types.FunctionCallingConfigMode.AUTO}
        case "none":
            return {"mode": types.FunctionCallingConfigMode.NONE}
        case "required":
            return {"mode": types.FunctionCallingConfigMode.ANY}
        case "tool":
            return {"mode": types.FunctionCallingConfigMode.ANY, "allowed_function_names": [choice.tool_name or ""]}
        case _:
            assert_never(choice.mode)


def system_text(call: ModelCall) -> str:
    """``call.system`` plus any system messages, in order (Gemini has one system instruction)."""
    texts = [call.system] if call.system else []
    for message in call.messages:
        if isinstance(message, SystemMessage) and message.text and message.text not in texts:
            texts.append(message.text)
    return "\n\n".join(texts)


def _thinking_config(thinking: ThinkingSettings, options: GoogleOptions) -> types.ThinkingConfigDict:
    # The API rejects a budget and a level together, so exactly one is sent: the explicit
    # `[google] thinking_level` first (the most specific knob), then budget_tokens, then effort.
    config: types.ThinkingConfigDict = {"include_thoughts": True}
    level = options.thinking_level
    if level is not None:
        config["thinking_level"] = _EFFORT_LEVELS[level.lower()]
    elif thinking.budget_tokens is not None:
        config["thinking_budget"] = thinking.budget_tokens
    elif thinking.effort is not None:
        config["thinking_level"] = _EFFORT_LEVELS[thinking.effort]
    return config


# ---------------------------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------------------------


def to_google_contents(messages: Sequence[Message]) -> list[types.ContentDict]:
    """The ``contents`` argument. System messages are skipped (see ``system_text``).

    Raises ``RequestError`` naming the part for a file Gemini cannot read.
    """
    contents: list[types.ContentDict] = []
    for message in messages:
        parts: list[types.PartDict]
        match message:
            case SystemMessage():
                continue
            case UserMessage(content=user_content):
                parts = [_user_part(item) for item in user_content if isinstance(item, FileContent) or item.text]
                role = "user"
            case AssistantMessage(content=assistant_content):
                parts = _model_parts(assistant_content)
                role = "model"
            case ToolMessage(results=results):
                parts = [_function_response_part(result) for result in results]
                role = "user"
            case _:
                assert_never(message)
        if parts:  # Gemini rejects a turn without parts
            contents.append({"role": role, "parts": parts})
    return contents


def _user_part(item: TextContent | FileContent) -> types.PartDict:
    return _file_part(item) if isinstance(item, FileContent) else {"text": item.text}


def _model_parts(content: Sequence[AssistantContent]) -> list[types.PartDict]:
    parts: list[types.PartDict] = []
    first_call: types.PartDict | None = None
    for item in content:
        part: types.PartDict
        match item:
            case TextContent(text=text, provider_metadata=metadata):
                signature = thought_signature(metadata)
                if not text and signature is None:
                    continue
                part = {"text": text}
            case ReasoningContent(text=text, provider_metadata=metadata):
                if metadata is None or PROVIDER not in metadata:
                    continue  # another provider's reasoning (see the module docstring)
                signature = thought_signature(metadata)
                part = {"text": text, "thought": True}
            case ToolCallContent(provider_executed=True) | ProviderToolResultContent():
                continue  # another provider's server tool (web search...): Gemini has no such call
            case ToolCallContent(tool_call_id=call_id, tool_name=name, input=arguments, provider_metadata=metadata):
                signature = thought_signature(metadata)
                # `args` must be an object; a non-object input (invalid JSON kept as text) is wrapped.
                args = arguments if isinstance(arguments, dict) else ({} if arguments is None else {"input": arguments})
                # The id always goes back: Gemini 3 issues its own; for Gemini 2.5 (no ids) the API
                # accepts the one we generated (recorded thinking_function_call_followup request).
                part = {"function_call": {"id": call_id, "name": name, "args": args}}
                first_call = part if first_call is None else first_call
            case FileContent():
                signature = None
                part = _file_part(item)
            case _:
                assert_never(item)
        if signature is not None:
            part["thought_signature"] = signature
        parts.append(part)
    if first_call is not None and "thought_signature" not in first_call:
        first_call["thought_signature"] = SKIP_SIGNATURE_VALIDATOR
    return parts


def thought_signature(metadata: ProviderMetadata | None) -> bytes | None:
    """The signature bytes from our own ``{"google": {"thoughtSignature": base64}}`` metadata."""
    if metadata is None:
        return None
    own = metadata.get(PROVIDER)
    value = own.get("thoughtSignature") if own is not None else None
    if not isinstance(value, str) or not value:
        return None
    try:
        # Accepts both alphabets: we store standard base64, the SDK itself writes URL-safe.
        return base64.urlsafe_b64decode(value.replace("+", "-").replace("/", "_"))
    except (binascii.Error, ValueError):
        return None  # a damaged signature is as good as none; Gemini would reject it with a 400


def _function_response_part(result: ToolResultContent) -> types.PartDict:
    response: dict[str, JsonValue]
    if result.kind == "output":
        response = {"output": result.output}
    elif result.kind == "error":
        response = {"error": result.output if result.output is not None else "The tool failed."}
    else:
        reason = f" Reason: {result.output}" if result.output else ""
        response = {"error": f"The user denied this tool call.{reason}"}
    return {"function_response": {"id": result.tool_call_id, "name": result.tool_name, "response": response}}


def _file_part(file: FileContent) -> types.PartDict:
    media_type = file.media_type.split(";", 1)[0].strip().lower()
    if media_type.startswith(_MEDIA_PREFIXES) or media_type in _MEDIA_TYPES:
        if file.inline:
            # The SDK takes bytes and encodes them itself: a base64 payload is decoded here (docs/benchmarks.md).
            return {"inline_data": {"mime_type": media_type, "data": file.payload()}}
        if file.url is not None and file.url.startswith(_URL_SCHEMES):
            return {"file_data": {"mime_type": media_type, "file_uri": file.url}}
    raise ProviderError.unsupported_input(
        PROVIDER,
        f"Gemini models cannot read the file at {file.part_path} ({file.media_type}"
        f"{'' if file.inline else ', by URL'}).",
    )
