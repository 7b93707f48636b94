"""The WebSocket transport judged by ai@7's real ``WebSocketChatTransport`` (client.mjs with
``transport: "websocket"``, over the ``ws`` package): the same chat path, the same core, the
same assertions as SSE, plus what only a socket has (abort frames, a dropped connection).
Frame-level details (``resume {lastSequence}``, handshake security) are in
tests/web/test_chat_socket.py."""

from __future__ import annotations

from typing import Any

from tests.conformance.harness import (
    PROFILES,
    LiveServer,
    NodeClient,
    ProviderProfile,
    assert_saved_like_client,
    assert_well_formed_streams,
    expected_input_tokens,
    expected_text,
    expected_tool_calls,
    only_assistant,
    posts,
    preset_name,
    run_client,
    slow_preset_name,
    text_of,
    tool_definitions,
    tool_parts,
)
from tests.upstream import Reply

ANTHROPIC = PROFILES["anthropic"]
SOCKET = {"transport": "websocket"}


def kinds(exchange: dict[str, Any]) -> list[str]:
    return [chunk["type"] for chunk in exchange["chunks"]]


def test_text_over_the_socket(node7: NodeClient, server: LiveServer, profile: ProviderProfile) -> None:
    preset = preset_name(profile, profile.text)
    result = run_client(node7, server, "text", blockId="ws-text", chatId="ws-chat", preset=preset, **SOCKET)
    assert result["error"] is None and result["errors"] == [] and result["status"] == "ready"
    assert result["finishReason"] == "stop"
    assert_well_formed_streams(result)
    (exchange,) = posts(result)
    assert exchange["contentType"] == "websocket" and exchange["frames"][-1] == "end"
    assistant = only_assistant(result)
    assert text_of(assistant) == expected_text(profile.folder, profile.text)
    assert assistant["metadata"]["usage"]["inputTokens"] == expected_input_tokens(profile.folder, profile.text)
    assert exchange["chunks"][0]["messageId"] == assistant["id"]
    assert_saved_like_client(server, "ws-text", result)


def test_client_tool_followup_over_the_socket(node7: NodeClient, server: LiveServer) -> None:
    """``addToolOutput`` and the automatic follow-up travel as a second ``send`` on the same socket."""
    case = ANTHROPIC.tool_call
    calls = expected_tool_calls(ANTHROPIC.folder, case)
    result = run_client(
        node7,
        server,
        "tool-followup",
        blockId="ws-followup",
        chatId="ws-followup",
        preset=preset_name(ANTHROPIC, case),
        body={"tools": tool_definitions(calls)},
        **SOCKET,
    )
    assert result["error"] is None and result["status"] == "ready"
    assert [finish["finishReason"] for finish in result["finishes"]] == ["tool-calls", "stop"]
    assert_well_formed_streams(result)
    first, second = posts(result)
    assert first["requestId"] != second["requestId"]
    assistant = only_assistant(result)
    assert second["requestBody"]["messages"][-1]["id"] == assistant["id"]
    assert all(part["state"] == "output-available" for part in tool_parts(assistant))
    assert text_of(assistant).endswith(expected_text(ANTHROPIC.folder, f"{case}_followup"))
    assert_saved_like_client(server, "ws-followup", result)


def test_error_chunk_and_refused_request_over_the_socket(node7: NodeClient, server: LiveServer) -> None:
    """A mid-stream provider error is an ``error`` chunk (the stream still ends); a request the core
    refuses before streaming is an ``error`` frame, which the chat shows as its error."""
    failed = run_client(
        node7,
        server,
        "error-chunk",
        blockId="ws-error",
        preset=preset_name(ANTHROPIC, ANTHROPIC.midstream_error),
        **SOCKET,
    )
    assert failed["status"] == "error" and "anthropic" in failed["error"]["message"].lower()
    assert "error" in kinds(posts(failed)[0])
    assert_well_formed_streams(failed)
    refused = run_client(node7, server, "text", blockId="ws-refused", preset="nope", **SOCKET)
    assert refused["status"] == "error"
    (exchange,) = posts(refused)
    assert exchange["frames"] == ["error"] and "nope" in exchange["errorText"]
    assert "nope" in refused["error"]["message"]
    assert [message["role"] for message in refused["messages"]] == ["user"]


def test_retry_after_output_over_the_socket(node7: NodeClient, server: LiveServer) -> None:
    """``reset-step`` crosses the socket like SSE: the client holds exactly the retried text."""
    server.enqueue(
        Reply.from_case(ANTHROPIC.folder, ANTHROPIC.midstream_error), Reply.from_case(ANTHROPIC.folder, ANTHROPIC.text)
    )
    result = run_client(node7, server, "text", blockId="ws-retry", preset="retry", **SOCKET)
    assert result["error"] is None and result["status"] == "ready"
    assert "reset-step" in kinds(posts(result)[0])
    assistant = only_assistant(result)
    assert [part["type"] for part in assistant["parts"]] == ["step-start", "text"]
    assert text_of(assistant) == expected_text(ANTHROPIC.folder, ANTHROPIC.text)
    assert_saved_like_client(server, "ws-retry", result)


def test_abort_frame_is_a_stop(node7: NodeClient, server: LiveServer) -> None:
    """``chat.stop()`` makes the transport send ``abort``: the server stops the answer (saved,
    ``interrupted``), as ``POST …/stop`` would; a resume on the same socket finds nothing streaming."""
    result = run_client(
        node7,
        server,
        "socket-abort",
        blockId="ws-abort",
        chatId="ws-abort",
        preset=slow_preset_name(ANTHROPIC),
        **SOCKET,
    )
    assert result["status"] == "ready" and result["error"] is None
    assert result["finishes"][-1]["isAbort"] is True
    sent, resumed = result["exchanges"]
    assert sent["aborted"] is True and resumed["frames"] == ["no-active"]
    held = text_of(only_assistant(result))
    saved = server.get_json("/api/ai/conversations/ws-abort")["messages"]
    saved_text = text_of(saved[-1])
    full = expected_text(ANTHROPIC.folder, ANTHROPIC.resume_case)
    # The server stopped the answer: saved partial, at least what the client held, not the whole answer.
    assert held and saved_text.startswith(held) and full.startswith(saved_text) and saved_text != full
    assert saved[-1]["parts"][-1]["state"] == "done"


def test_dropped_connection_then_resume_on_a_new_one(node7: NodeClient, server: LiveServer) -> None:
    """The socket dies mid-answer (no close handshake); the answer goes on (no
    --cancel-on-disconnect). A reloaded page resumes on a new connection and holds the whole answer,
    each chunk once; a resume after the end is ``no-active``."""
    result = run_client(
        node7,
        server,
        "socket-drop-resume",
        blockId="ws-drop",
        chatId="ws-drop",
        preset=slow_preset_name(ANTHROPIC),
        **SOCKET,
    )
    first, second, third = result["chats"]
    assert first["status"] == "error"  # the transport reports the lost connection
    assert result["exchanges"][0]["dropped"] is True
    assert second["status"] == "ready" and second["error"] is None
    resumed = [exchange for exchange in result["exchanges"] if exchange["frameType"] == "resume"]
    assert len(resumed) == 2 and resumed[1]["frames"] == ["no-active"]
    assert kinds(resumed[0]).count("start") == 1 and kinds(resumed[0])[-1] == "finish"
    assert_well_formed_streams(result)
    assistant = second["messages"][-1]
    assert text_of(assistant) == expected_text(ANTHROPIC.folder, ANTHROPIC.resume_case)
    assert [part["type"] for part in assistant["parts"]] == ["step-start", "text"]  # each part once
    assert text_of(assistant).startswith(text_of(result["heldByFirst"])) and text_of(result["heldByFirst"])
    assert third["status"] == "ready" and third["messages"] == second["messages"]
    saved = server.get_json("/api/ai/conversations/ws-drop")["messages"]
    assert saved == second["messages"]
