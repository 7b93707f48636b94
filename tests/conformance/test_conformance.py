"""Protocol conformance judged by the real AI SDK client (``ai`` from npm, driven from Node).

One server (``create_app`` + a ``FakeUpstream`` replaying recorded provider bodies on
127.0.0.1) and one Node worker serve the whole suite (``conftest.py``); each test runs one
scenario of ``client.mjs`` (``AbstractChat`` + ``DefaultChatTransport``, what ``useChat`` runs)
with the real client of each major (ai@5, ai@6, ai@7) and asserts on its report. The SDK's own
schema and state-machine checks judge our stream: any ``AI_TypeValidationError`` /
``AI_UIMessageStreamError`` / ``AI_JSONParseError`` fails the test.

Scenarios are parametrized over providers; expectations (text, reasoning, tool calls, usage,
signatures) are read from the fixtures' ``.meta.json`` ``expect`` blocks, so adding a provider is
one ``ProviderProfile``. See README.md.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from tests.conformance.harness import (
    FOLLOWUP_CASES,
    PROFILES,
    SECRETS,
    TOOL_RESULT_MARKERS,
    LiveServer,
    NodeClient,
    ProviderProfile,
    answer_text,
    assert_saved_like_client,
    assert_well_formed_streams,
    error_chunk_text,
    expected_input_tokens,
    expected_reasoning,
    expected_signature,
    expected_text,
    expected_tool_calls,
    only_assistant,
    parts_of,
    posts,
    preset_name,
    run_client,
    run_node,
    signature_sent_back,
    slow_preset_name,
    text_of,
    tool_definitions,
    tool_parts,
)
from tests.upstream import Reply

# ---------------------------------------------------------------------------------------------
# Scenarios


def test_text(node: NodeClient, server: LiveServer, profile: ProviderProfile) -> None:
    preset = preset_name(profile, profile.text)
    result = run_client(node, server, "text", blockId="block-text", chatId="chat-text", preset=preset, text="hi")
    assert result["error"] is None and result["errors"] == []
    assert result["status"] == "ready"
    assert result["finishReason"] == "stop"
    assert_well_formed_streams(result)
    assistant = only_assistant(result)
    assert text_of(assistant) == expected_text(profile.folder, profile.text)
    assert all(part["state"] == "done" for part in parts_of(assistant, "text"))
    metadata = assistant["metadata"]
    assert (metadata["preset"], metadata["provider"], metadata["model"]) == (preset, profile.provider, profile.model)
    assert metadata["usage"]["inputTokens"] == expected_input_tokens(profile.folder, profile.text)
    assert metadata["usage"]["outputTokens"] > 0
    assert posts(result)[0]["chunks"][0].get("messageId") == assistant["id"]
    assert_saved_like_client(server, "block-text", result)


def test_reasoning(node: NodeClient, server: LiveServer, profile: ProviderProfile) -> None:
    case = profile.reasoning
    result = run_client(node, server, "reasoning", blockId="block-reasoning", preset=preset_name(profile, case))
    assert result["error"] is None and result["status"] == "ready"
    assert result["finishReason"] == "stop"
    assert_well_formed_streams(result)
    assistant = only_assistant(result)
    reasoning = parts_of(assistant, "reasoning")
    assert reasoning, assistant["parts"]
    assert "".join(part["text"] for part in reasoning) == expected_reasoning(profile.folder, case)
    assert all(part["state"] == "done" for part in reasoning)
    assert text_of(assistant) == expected_text(profile.folder, case)
    if profile.reasoning_metadata is not None:
        part_type, key, field = profile.reasoning_metadata
        values = [part.get("providerMetadata", {}).get(key, {}).get(field) for part in parts_of(assistant, part_type)]
        signature = expected_signature(profile.folder, case)
        if signature is not None:
            assert signature in values, values
        else:
            assert any(values), assistant["parts"]
    assert_saved_like_client(server, "block-reasoning", result)


def test_tool_call(node: NodeClient, server: LiveServer, profile: ProviderProfile) -> None:
    case = profile.tool_call
    calls = expected_tool_calls(profile.folder, case)
    result = run_client(
        node,
        server,
        "tool-call",
        blockId="block-tool",
        preset=preset_name(profile, case),
        text="Use the tools, please.",
        body={"tools": tool_definitions(calls)},
    )
    assert result["error"] is None and result["status"] == "ready"
    assert result["finishReason"] == "tool-calls"
    assert_well_formed_streams(result)
    parts = tool_parts(only_assistant(result))
    assert [(part["type"], part["input"]) for part in parts] == [(f"tool-{call.name}", call.input) for call in calls]
    assert all(part["state"] == "input-available" for part in parts)
    ids = [part["toolCallId"] for part in parts]
    assert len(set(ids)) == len(ids) and all(ids)
    for part, call in zip(parts, calls, strict=True):
        if call.id is not None:
            assert part["toolCallId"] == call.id


@pytest.mark.parametrize(("provider", "case"), FOLLOWUP_CASES)
def test_client_tool_followup(node: NodeClient, server: LiveServer, provider: str, case: str) -> None:
    profile = PROFILES[provider]
    calls = expected_tool_calls(profile.folder, case)
    result = run_client(
        node,
        server,
        "tool-followup",
        blockId="block-followup",
        chatId="chat-followup",
        preset=preset_name(profile, case),
        text="Use the tools, please.",
        body={"tools": tool_definitions(calls)},
    )
    assert result["error"] is None and result["errors"] == []
    assert result["status"] == "ready"
    assert [finish["finishReason"] for finish in result["finishes"]] == ["tool-calls", "stop"]
    assert_well_formed_streams(result)

    # One assistant message: the follow-up continued it (same id), it did not add a second one.
    assistant = only_assistant(result)
    first, second = posts(result)
    assert first["chunks"][0].get("messageId") == assistant["id"]
    assert second["chunks"][0].get("messageId", assistant["id"]) == assistant["id"]
    assert second["requestBody"]["messageId"] == assistant["id"]
    assert second["requestBody"]["messages"][-1]["role"] == "assistant"

    parts = tool_parts(assistant)
    outputs = {output["toolCallId"]: output["output"] for output in result["toolOutputs"]}
    assert [part["type"] for part in parts] == [f"tool-{call.name}" for call in calls]
    assert all(part["state"] == "output-available" for part in parts), parts
    assert {part["toolCallId"]: part["output"] for part in parts} == outputs
    kinds = [part["type"] for part in assistant["parts"]]
    assert kinds.count("step-start") == 2, kinds
    second_step = assistant["parts"][len(kinds) - 1 - kinds[::-1].index("step-start") :]
    followup_text = expected_text(profile.folder, f"{case}_followup")
    assert "".join(part["text"] for part in second_step if part["type"] == "text") == followup_text
    assert max(kinds.index(part["type"]) for part in parts) < kinds.index("step-start", 1)

    # The provider got the tool results (and its opaque reasoning state) back.
    upstream = server.upstream_requests(profile.folder, case)
    assert len(upstream) == 2, [request.path for request in upstream]
    followup_body = upstream[1].body.decode()
    assert any(marker in followup_body for marker in TOOL_RESULT_MARKERS)
    for output in outputs.values():
        assert output["marker"] in followup_body
    signature = expected_signature(profile.folder, case)
    if signature is not None:
        assert signature_sent_back(signature, followup_body)
    assert_saved_like_client(server, "block-followup", result)


def test_error_chunk_midstream(node: NodeClient, server: LiveServer, profile: ProviderProfile) -> None:
    case = profile.midstream_error
    result = run_client(node, server, "error-chunk", blockId="block-error", preset=preset_name(profile, case))
    assert result["status"] == "error"
    error_text = error_chunk_text(result)
    assert result["error"]["message"] == error_text
    assert profile.family in error_text.lower()
    assert result["finishes"][-1]["isError"] is True
    assistant = only_assistant(result)
    partial = expected_text(profile.folder, case)
    # A retryable failure is retried (reset-step) until the attempts are spent: the client holds
    # the last attempt's partial text (ai@5/6 also the earlier ones, before reset markers).
    assert answer_text(assistant) == partial
    if node.major == 7:
        assert text_of(assistant) == partial
    assert_well_formed_streams(result)
    if partial:  # an answer that failed before any part is not saved (docs/persistence.md)
        assert_saved_like_client(server, "block-error", result)


def test_error_chunk_upstream_auth(node: NodeClient, server: LiveServer, profile: ProviderProfile) -> None:
    case = profile.auth_error
    result = run_client(node, server, "error-chunk", blockId="block-auth", preset=preset_name(profile, case))
    assert result["status"] == "error"
    error_text = error_chunk_text(result)
    assert result["error"]["message"] == error_text
    assert profile.family in error_text.lower()
    assert "authentication" in error_text.lower()
    everything = json.dumps(result)
    assert not any(secret in everything for secret in SECRETS.values())
    assert text_of(only_assistant(result)) == ""
    assert_well_formed_streams(result)


def test_http_error_unknown_preset(node: NodeClient, server: LiveServer) -> None:
    result = run_client(node, server, "http-error", blockId="block-http", preset="nope")
    assert result["status"] == "error"
    if node.major == 7:
        assert result["error"]["name"] == "AI_APICallError"
        assert result["error"]["statusCode"] == 400
    else:  # ai@5/6 throw a plain Error whose message is the response body
        assert result["error"]["name"] == "Error"
    body = json.loads(result["error"]["message"])
    assert "nope" in body["error"]["message"]
    assert [message["role"] for message in result["messages"]] == ["user"]


def test_http_error_invalid_block_id(node: NodeClient, server: LiveServer) -> None:
    result = run_client(node, server, "http-error", blockId="bad id!", preset="default")
    assert result["status"] == "error"
    if node.major == 7:
        assert result["error"]["statusCode"] == 400
    assert json.loads(result["error"]["message"])["error"]["code"] == "invalid_block_id"
    assert [message["role"] for message in result["messages"]] == ["user"]


def test_resume_replays_whole_message(node: NodeClient, server: LiveServer, profile: ProviderProfile) -> None:
    result = run_client(
        node, server, "resume", blockId="block-resume", chatId="chat-resume", preset=slow_preset_name(profile)
    )
    first, resumed, after_end = result["chats"]
    assert result["statusOfFirstWhenResuming"] == "streaming"
    for chat in (first, resumed, after_end):
        assert chat["status"] == "ready" and chat["error"] is None, chat
    post, resume_get, late_get = result["exchanges"]
    assert (post["method"], resume_get["method"], late_get["method"]) == ("POST", "GET", "GET")
    assert resume_get["url"].startswith(f"{server.url}/api/ai/chat/block-resume/chat-resume/stream?preset=")
    # 200, not 204: the stream was still live when B asked; B got every chunk A got, from `start`.
    assert resume_get["status"] == 200
    assert resume_get["chunks"] == post["chunks"]
    assert "streaming" in resumed["statusHistory"]
    assert resumed["messages"] == first["messages"]
    assert text_of(resumed["messages"][-1]) == expected_text(profile.folder, profile.resume_case)
    # After the end nothing streams: 204, and the chat stays ready without a request status flash.
    assert late_get["status"] == 204
    # (ai@5 shows `submitted` for the request that gets the 204; ai@6+ does not.)
    assert after_end["statusHistory"] == (["ready"] if node.major >= 6 else ["ready", "submitted", "ready"])
    assert after_end["messages"] == resumed["messages"]
    assert_well_formed_streams(result)


def test_resume_with_nothing_streaming_is_204(node: NodeClient, server: LiveServer) -> None:
    result = run_client(node, server, "resume-idle", blockId="block-idle", chatId="chat-idle", preset="default")
    (exchange,) = result["exchanges"]
    assert exchange["method"] == "GET" and exchange["status"] == 204
    assert result["status"] == "ready" and result["error"] is None
    assert result["statusHistory"] == (["ready"] if node.major >= 6 else ["ready", "submitted", "ready"])
    assert result["messages"] == []


# ---------------------------------------------------------------------------------------------
# Negative control: the harness really reports what the SDK rejects

BAD_STREAMS = {
    "unknown-finish-reason": (
        'data: {"type":"start"}\n\ndata: {"type":"finish","finishReason":"end_turn"}\n\n',
        "AI_TypeValidationError",
    ),
    "null-optional": ('data: {"type":"start","messageId":null}\n\n', "AI_TypeValidationError"),
    "delta-before-start": (
        'data: {"type":"start"}\n\ndata: {"type":"text-delta","id":"0","delta":"x"}\n\n',
        "AI_UIMessageStreamError",
    ),
    "invalid-json": ('data: {"type":"start"\n\n', "AI_JSONParseError"),
}


@pytest.mark.parametrize("name", list(BAD_STREAMS))
def test_harness_reports_sdk_validation_errors(node7: NodeClient, server: LiveServer, name: str) -> None:
    """Served straight from the fake upstream (a queued reply answers any path), not by Chatwire."""
    body, error_name = BAD_STREAMS[name]

    async def enqueue() -> None:
        server.upstream.enqueue(Reply.sse(body + "data: [DONE]\n\n"))

    server.call(enqueue())
    result = run_node(node7, server.upstream.url, "text", blockId="block-bad")
    assert result["status"] == "error"
    assert [error["name"] for error in result["validationErrors"]] == [error_name]


def run_thinking_tool_round_trip(node: NodeClient, server: LiveServer, block_id: str) -> dict[str, Any]:
    """A tool round trip whose first call reports thinking tokens and whose answer does not.

    Real trigger: with thinking on, Anthropic reports ``output_tokens_details.thinking_tokens``
    when the model thought (as in anthropic/thinking_text); the answer after the tool result does
    not think. The first reply is thinking_tool_use with that field added to its usage.
    """
    profile = PROFILES["anthropic"]
    case = profile.tool_call
    first = Reply.from_case(profile.folder, case)
    thinking_usage = first.body.replace(
        b'"output_tokens":119}', b'"output_tokens":119,"output_tokens_details":{"thinking_tokens":61}}'
    )
    assert thinking_usage != first.body

    async def enqueue() -> None:
        server.upstream.enqueue(
            dataclasses.replace(first, body=thinking_usage), Reply.from_case(profile.folder, f"{case}_followup")
        )

    server.call(enqueue())
    result = run_client(
        node,
        server,
        "tool-followup",
        blockId=block_id,
        preset=preset_name(profile, case),
        text="Use the tools, please.",
        body={"tools": tool_definitions(expected_tool_calls(profile.folder, case))},
    )
    assert result["status"] == "ready" and result["error"] is None
    return result


def test_followup_metadata_is_saved_as_the_client_merges_it(node7: NodeClient, server: LiveServer) -> None:
    """The client deep-merges ``messageMetadata`` across the two responses of a round trip
    (``ai/src/util/merge-objects.ts``); the saved message must hold the same metadata."""
    result = run_thinking_tool_round_trip(node7, server, "block-merge")
    assert_saved_like_client(server, "block-merge", result)


def test_followup_usage_is_consistent_after_the_client_merge(node7: NodeClient, server: LiveServer) -> None:
    """After the deep merge, ``usage`` must still add up (AI SDK ``LanguageModelUsage``:
    ``outputTokens = textTokens + reasoningTokens``). Omitting a count in the second response
    leaves the first response's count in place next to the second response's totals."""
    result = run_thinking_tool_round_trip(node7, server, "block-usage")
    usage = only_assistant(result)["metadata"]["usage"]
    details = usage["outputTokenDetails"]
    assert details.get("textTokens", 0) + details.get("reasoningTokens", 0) == usage["outputTokens"], usage


@pytest.mark.parametrize("approve", [True, False], ids=["approve", "deny"])
def test_tool_approval(node: NodeClient, server: LiveServer, approve: bool) -> None:
    """Approval request → addToolApprovalResponse → automatic follow-up continuing the same message."""
    result = run_client(
        node, server, "approval", blockId="block-approval", chatId="chat-approval", preset="approval", approve=approve
    )
    if node.major == 5:
        assert_approval_reaches_ai5(server, result)
        return
    requested = [
        part
        for message in result["afterRequest"]
        for part in message["parts"]
        if part.get("state") == "approval-requested"
    ]
    assert len(requested) == 1 and requested[0]["type"] == "tool-current_time"
    assert result["approvalId"].startswith("apr-")
    assert result["status"] == "ready", result["error"]
    assistants = [message for message in result["messages"] if message["role"] == "assistant"]
    assert len(assistants) == 1  # the follow-up continued the same message
    part = next(part for part in assistants[0]["parts"] if part["type"] == "tool-current_time")
    if approve:
        assert part["state"] == "output-available" and "Europe/Paris" in json.dumps(part["output"])
    else:
        assert part["state"] == "output-denied"
    kinds = [part["type"] for part in assistants[0]["parts"]]
    assert kinds.count("step-start") == 2 and kinds[-1] == "text"
    upstream = server.upstream_requests("anthropic", "composed_current_time_call")
    assert len(upstream) == 2
    result_block = upstream[1].json()["messages"][-1]["content"][0]
    assert result_block["type"] == "tool_result" and result_block.get("is_error", False) is (not approve)


def assert_approval_reaches_ai5(server: LiveServer, result: dict[str, Any]) -> None:
    """ai@5 has no approvals: the request arrives as a ``data-tool-approval-request`` part (signed),
    the tool part waits in ``input-available``, and the tool has not run."""
    assert result["status"] == "ready" and result["error"] is None
    assistant = only_assistant(result)
    (marker,) = parts_of(assistant, "data-tool-approval-request")
    assert marker["data"]["approvalId"].startswith("apr-") and marker["data"]["signature"]
    (part,) = tool_parts(assistant)
    assert part["state"] == "input-available" and marker["data"]["toolCallId"] == part["toolCallId"]
    assert len(server.upstream_requests("anthropic", "composed_current_time_call")) == 1
    assert_saved_like_client(server, "block-approval", result)


def test_forged_approval_leaves_the_client_valid(node: NodeClient, server: LiveServer) -> None:
    """Issue 11: the client approves an approval id the server never issued. The tool must not run,
    and the client's messages must stay valid under the SDK's own ``validateUIMessages``."""
    if node.major == 5:
        pytest.skip("ai@5 has no tool approvals: it cannot hold or answer an approval part")
    forged_part = {
        "type": "tool-current_time",
        "toolCallId": "toolu_forged_1",
        "state": "approval-requested",
        "input": {"timezone": "Europe/Paris"},
        "approval": {"id": "apr-forged"},
    }
    messages = [
        {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "What time is it?"}]},
        {"id": "a1", "role": "assistant", "parts": [{"type": "step-start"}, forged_part]},
    ]
    result = run_client(
        node,
        server,
        "approval",
        blockId="block-forged",
        chatId="chat-forged",
        preset="approval",
        approve=True,
        messages=messages,
    )
    assert result["messagesValid"], result["messagesValidationError"]
    assert result["status"] == "ready", result["error"]
    part = next(part for part in result["messages"][-1]["parts"] if part["type"] == "tool-current_time")
    assert part["state"] == "output-error" and "not run" in part["errorText"]
    assert part["approval"]["approved"] is True
    upstream = server.upstream_requests("anthropic", "composed_current_time_call")
    tool_result = upstream[-1].json()["messages"][-1]["content"][0]
    assert tool_result["type"] == "tool_result" and tool_result["is_error"] is True
    assert "output" not in part  # the tool never ran
