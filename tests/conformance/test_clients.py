"""Issue 14 with the real clients: retries after partial output (``reset-step``), fallback presets
across providers, a server-side stop, and signed approvals, each judged by ai@5, ai@6 and ai@7
(``node``; see conftest.py). What each major accepts: backend/aisdk/protocol.py."""

from __future__ import annotations

from typing import Any

from backend.tools.approval_signing import ApprovalSigner
from tests.conformance.harness import (
    APPROVAL_SECRET,
    PROFILES,
    LiveServer,
    NodeClient,
    answer_text,
    assert_saved_like_client,
    assert_well_formed_streams,
    expected_text,
    only_assistant,
    parts_of,
    posts,
    run_client,
    run_node,
    slow_preset_name,
    text_of,
)
from tests.upstream import Reply

ANTHROPIC = PROFILES["anthropic"]
OPENAI_CHAT = PROFILES["openai-chat"]


def chunk_types(result: dict[str, Any]) -> list[str]:
    return [chunk["type"] for exchange in posts(result) for chunk in exchange["chunks"]]


def test_overload_mid_stream_then_a_successful_retry(node: NodeClient, server: LiveServer) -> None:
    """Anthropic streams part of an answer, then ``overloaded_error``; the retry answers in full.
    The client ends with exactly the retried text, no error, and one step-start (ai@7 keeps it
    through ``reset-step``; a second ``start-step`` would duplicate it)."""
    server.enqueue(
        Reply.from_case(ANTHROPIC.folder, ANTHROPIC.midstream_error), Reply.from_case(ANTHROPIC.folder, ANTHROPIC.text)
    )
    result = run_client(node, server, "text", blockId="block-retry", preset="retry", text="hi")
    assert result["status"] == "ready" and result["error"] is None and result["errors"] == []
    assert result["finishReason"] == "stop"
    assert_well_formed_streams(result)
    kinds = chunk_types(result)
    assert "error" not in kinds and kinds.count("start-step") == 1
    assistant = only_assistant(result)
    retried = expected_text(ANTHROPIC.folder, ANTHROPIC.text)
    partial = expected_text(ANTHROPIC.folder, ANTHROPIC.midstream_error)
    assert partial and retried != partial
    assert answer_text(assistant) == retried
    if node.major == 7:
        assert "reset-step" in kinds
        assert [part["type"] for part in assistant["parts"]] == ["step-start", "text"]
        assert text_of(assistant) == retried
    else:  # the abandoned attempt stays, ended, before the marker (ai@5/6 cannot drop parts)
        assert "reset-step" not in kinds
        types = [part["type"] for part in assistant["parts"]]
        assert types == ["step-start", "text", "data-reset-step", "text"], types
        assert all(part["state"] == "done" for part in parts_of(assistant, "text"))
    assert len(server.upstream_requests(ANTHROPIC.folder, ANTHROPIC.text)) == 2  # the failed attempt and the retry
    assert_saved_like_client(server, "block-retry", result)


def test_fallback_across_providers(node: NodeClient, server: LiveServer) -> None:
    """Anthropic is overloaded mid-stream on every attempt; its preset falls back to an OpenAI
    preset, which answers in the same stream. Metadata names who answered and ``fallbackFrom``."""
    result = run_client(node, server, "text", blockId="block-fallback", preset="fallback.anthropic", text="hi")
    assert result["status"] == "ready" and result["error"] is None and result["errors"] == []
    assert_well_formed_streams(result)
    assistant = only_assistant(result)
    assert answer_text(assistant) == expected_text(OPENAI_CHAT.folder, OPENAI_CHAT.text)
    metadata = assistant["metadata"]
    assert (metadata["preset"], metadata["provider"], metadata["model"]) == (
        "fallback.openai",
        "openai-chat",
        OPENAI_CHAT.model,
    )
    assert metadata["fallbackFrom"]["preset"] == "fallback.anthropic"
    assert metadata["fallbackFrom"]["provider"] == "anthropic"
    assert metadata["fallbackFrom"]["reason"] == "overloaded"
    assert metadata["usage"]["outputTokens"] > 0
    # Every Anthropic attempt was made (the retry budget), then one OpenAI call.
    assert len(server.upstream_requests(ANTHROPIC.folder, ANTHROPIC.midstream_error)) == 3
    assert len(server.upstream_requests(OPENAI_CHAT.folder, OPENAI_CHAT.text)) == 1
    if node.major == 7:
        assert text_of(assistant) == expected_text(OPENAI_CHAT.folder, OPENAI_CHAT.text)
        assert chunk_types(result).count("reset-step") == 3  # two retries, then the fallback
    assert_saved_like_client(server, "block-fallback", result)


def test_server_stop_ends_each_major_its_own_way(node: NodeClient, server: LiveServer) -> None:
    """``POST …/stop`` while the client streams: ai@7 gets ``finish`` ``interrupted``, ai@5/6
    ``abort`` (what they accept); the chat ends ready with the partial answer, saved as held."""
    result = run_client(
        node, server, "stop", blockId="block-stop", chatId="chat-stop", preset=slow_preset_name(ANTHROPIC)
    )
    assert result["stopped"]["stopped"] is True
    assert result["status"] == "ready" and result["error"] is None
    assert_well_formed_streams(result)
    chunks = posts(result)[0]["chunks"]
    if node.major == 7:
        assert chunks[-1] == {"type": "finish", "finishReason": "interrupted"}
    else:
        assert chunks[-1] == {"type": "abort"}
        assert "finish" not in [chunk["type"] for chunk in chunks]
    assistant = only_assistant(result)
    full = expected_text(ANTHROPIC.folder, ANTHROPIC.resume_case)
    assert text_of(assistant) and full.startswith(text_of(assistant))
    assert_saved_like_client(server, "block-stop", result)


def test_approval_requests_carry_the_ai_sdk_signature(node: NodeClient, server: LiveServer) -> None:
    """With a secret, every approval request is signed; ai@6/7 keep the signature on the part and
    send it back, and the follow-up (checked against it) runs the tool."""
    result = run_client(
        node, server, "approval", blockId="block-signed", chatId="chat-signed", preset="approval", approve=True
    )
    (request,) = [chunk for chunk in posts(result)[0]["chunks"] if "approval" in chunk["type"]]
    data = request if node.major >= 6 else request["data"]
    part = next(part for part in result["afterRequest"][-1]["parts"] if part["type"] == "tool-current_time")
    signer = ApprovalSigner(APPROVAL_SECRET)
    assert signer.verify(data["signature"], data["approvalId"], part["toolCallId"], "current_time", part["input"])
    if node.major >= 6:
        assert part["approval"]["signature"] == data["signature"]
        sent_back = posts(result)[1]["requestBody"]["messages"][-1]["parts"]
        answered = next(p for p in sent_back if p["type"] == "tool-current_time")
        assert answered["approval"] == {**part["approval"], "approved": True}
        final = next(p for p in result["messages"][-1]["parts"] if p["type"] == "tool-current_time")
        assert final["state"] == "output-available"


def test_signatures_agree_with_the_ai_package(node7: NodeClient, server: LiveServer) -> None:
    """Signed in Python, verified by ai's ``verifyToolApprovalSignature``; signed by ai's
    ``signToolApproval``, verified in Python. Inputs exercise the canonical JSON: key order,
    unicode, escapes, numbers JavaScript prints its own way, nesting."""
    signer = ApprovalSigner(APPROVAL_SECRET)
    inputs: list[Any] = [
        {"timezone": "Europe/Paris"},
        {"b": [1, 2.5, 1e21, 1e-7, 100.0, None, True], "a": {"z": 'é\n"\\ \u2028 😀', "y": -0.0}},
        "just a string",
        [],
        {"\u00e9": 1, "e": 2, "E": 3, "😀": 4, "\uffff": 5},
    ]
    requests = [
        {"approvalId": f"apr-{index}", "toolCallId": f"call_{index}", "toolName": "tool.name", "input": value}
        for index, value in enumerate(inputs)
    ]
    ours = [
        {
            **request,
            "signature": signer.sign(request["approvalId"], request["toolCallId"], "tool.name", request["input"]),
        }
        for request in requests
    ]
    tampered = {**ours[0], "input": {"timezone": "Asia/Tokyo"}}
    result = run_node(
        node7, server.url, "approval-signature", secret=APPROVAL_SECRET, verify=[*ours, tampered], sign=requests
    )
    assert result["verified"] == [True] * len(inputs) + [False]
    for request, signature in zip(requests, result["signed"], strict=True):
        assert signer.verify(signature, request["approvalId"], request["toolCallId"], "tool.name", request["input"])
        assert signature == signer.sign(request["approvalId"], request["toolCallId"], "tool.name", request["input"])
    assert not ApprovalSigner("another-secret-0123456789").verify(
        result["signed"][0], "apr-0", "call_0", "tool.name", inputs[0]
    )
