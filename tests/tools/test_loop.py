"""The tool loop end to end: scripted model → run_chat → ServerToolRunner → encoder."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from backend.errors import ToolError
from backend.events import (
    ChatFinish,
    StepEnd,
    StepStart,
    ToolApprovalRequested,
    ToolCall,
    ToolFailed,
    ToolInputInvalid,
    ToolResult,
)
from backend.messages import AssistantMessage, ToolCallContent, ToolMessage, ToolResultContent, UserMessage
from backend.storage import ApprovalStore
from backend.tools.base import ToolContext
from backend.tools.runner import ServerToolRunner
from tests.tools.scripted import (
    ScriptedModel,
    context,
    encode,
    function_tool,
    run_events,
    runner_for,
    text_step,
    tool_step,
    types_of,
)


class CityInput(BaseModel):
    city: str


class NoInput(BaseModel):
    pass


async def weather(tool_input: CityInput, context: ToolContext) -> dict[str, object]:
    return {"city": tool_input.city, "temperature": 21}


async def test_parallel_server_tools_then_answer(approvals: ApprovalStore) -> None:
    # "slow" finishes only after "fast" has run: sequential execution would deadlock.
    fast_done = asyncio.Event()

    async def slow(tool_input: NoInput, context: ToolContext) -> str:
        await fast_done.wait()
        return "slow result"

    async def fast(tool_input: NoInput, context: ToolContext) -> str:
        fast_done.set()
        return "fast result"

    tools = [function_tool("slow", slow, NoInput, timeout_seconds=5), function_tool("fast", fast, NoInput)]
    model = ScriptedModel([tool_step(("call_1", "slow", "{}"), ("call_2", "fast", "")), text_step("Both done.")])

    events = await run_events(model, runner_for(tools, approvals))
    chunks = encode(events)

    assert types_of(chunks) == [
        "start",
        "start-step",
        "tool-input-available",
        "tool-input-available",
        "tool-output-available",
        "tool-output-available",
        "finish-step",
        "start-step",
        "text-start",
        "text-delta",
        "text-end",
        "finish-step",
        "message-metadata",
        "finish",
    ]
    outputs = [chunk for chunk in chunks if chunk["type"] == "tool-output-available"]
    assert [chunk["toolCallId"] for chunk in outputs] == ["call_2", "call_1"]  # as they finish
    assert chunks[-1] == {"type": "finish", "finishReason": "stop"}
    assert chunks[-2]["messageMetadata"]["usage"]["inputTokens"] == 20  # both steps summed

    assert len(model.calls) == 2
    user, assistant, tool_message = model.calls[1].messages
    assert isinstance(user, UserMessage)
    assert assistant == AssistantMessage((ToolCallContent("call_1", "slow", {}), ToolCallContent("call_2", "fast", {})))
    assert tool_message == ToolMessage(
        (
            ToolResultContent("call_1", "slow", "slow result"),
            ToolResultContent("call_2", "fast", "fast result"),
        )
    )


async def test_tool_definitions_reach_the_model(approvals: ApprovalStore) -> None:
    runner = runner_for([function_tool("weather", weather, CityInput)], approvals)
    (definition,) = runner.definitions()
    assert definition.name == "weather"
    assert definition.input_schema == {
        "type": "object",
        "properties": {"city": {"title": "City", "type": "string"}},
        "required": ["city"],
    }


async def test_timeout_is_reported_and_the_answer_continues(approvals: ApprovalStore) -> None:
    async def never(tool_input: NoInput, context: ToolContext) -> str:
        await asyncio.Event().wait()
        return "unreachable"

    tools = [function_tool("never", never, NoInput, timeout_seconds=0.05)]
    model = ScriptedModel([tool_step(("call_1", "never", "{}")), text_step("It timed out.")])

    events = await run_events(model, runner_for(tools, approvals))

    assert ToolFailed("call_1", "The tool never timed out after 0.05 seconds.") in events
    assert isinstance(events[-1], ChatFinish) and events[-1].reason == "stop"
    tool_message = model.calls[1].messages[-1]
    assert tool_message == ToolMessage(
        (ToolResultContent("call_1", "never", "The tool never timed out after 0.05 seconds.", "error"),)
    )


async def test_raising_tool_is_reported_safely_and_the_stream_continues(approvals: ApprovalStore) -> None:
    secret = "hunter2-very-secret"

    async def broken(tool_input: NoInput, context: ToolContext) -> str:
        raise ValueError(f"cannot connect with password {secret} and key sk-abcdefghijklmnop")

    async def refusing(tool_input: NoInput, context: ToolContext) -> str:
        raise ToolError("The file is too large.")

    tools = [function_tool("broken", broken, NoInput), function_tool("refusing", refusing, NoInput)]
    runner = ServerToolRunner(tools, context(secrets=(secret,)), approvals)
    model = ScriptedModel([tool_step(("call_1", "broken", "{}"), ("call_2", "refusing", "{}")), text_step("Sorry.")])

    events = await run_events(model, runner)
    failures = {event.tool_call_id: event.error_text for event in events if isinstance(event, ToolFailed)}

    assert failures == {
        "call_1": "ValueError: cannot connect with password [redacted] and key [redacted]",
        "call_2": "The file is too large.",
    }
    chunks = encode(events)
    assert types_of(chunks).count("tool-output-error") == 2
    assert chunks[-1] == {"type": "finish", "finishReason": "stop"}
    results = model.calls[1].messages[-1]
    assert isinstance(results, ToolMessage)
    assert [(result.kind, result.output) for result in results.results] == [
        ("error", failures["call_1"]),
        ("error", "The file is too large."),
    ]


async def test_invalid_input_goes_back_to_the_model(approvals: ApprovalStore) -> None:
    tools = [function_tool("weather", weather, CityInput)]
    model = ScriptedModel(
        [
            tool_step(("call_1", "weather", '{"city": 123}'), ("call_2", "weather", '{"city": ')),
            tool_step(("call_3", "weather", '{"city": "Paris"}')),
            text_step("21 degrees in Paris."),
        ]
    )

    events = await run_events(model, runner_for(tools, approvals))

    invalid = [event for event in events if isinstance(event, ToolInputInvalid)]
    assert invalid == [
        ToolInputInvalid(
            "call_1", "weather", {"city": 123}, "Invalid input for tool weather: city: Input should be a valid string"
        )
    ]
    # Unparsable JSON is already a tool-input-error through the encoder: exactly one per call.
    chunks = encode(events)
    errors = [chunk for chunk in chunks if chunk["type"] == "tool-input-error"]
    assert sorted(chunk["toolCallId"] for chunk in errors) == ["call_1", "call_2"]
    assert errors[0]["input"] == '{"city": '
    second_call_results = model.calls[1].messages[-1]
    assert isinstance(second_call_results, ToolMessage)
    assert [result.kind for result in second_call_results.results] == ["error", "error"]
    assert str(second_call_results.results[1].output).startswith("The tool input is not valid JSON")
    assert ToolResult("call_3", {"city": "Paris", "temperature": 21}) in events
    assert len(model.calls) == 3


async def test_max_steps_stops_the_loop(approvals: ApprovalStore) -> None:
    tools = [function_tool("weather", weather, CityInput)]
    model = ScriptedModel([tool_step(("call_again", "weather", '{"city": "Oslo"}'))])

    events = await run_events(model, runner_for(tools, approvals), max_steps=3)

    assert len(model.calls) == 3
    assert events.count(StepStart()) == 3 and events.count(StepEnd()) == 3
    assert sum(isinstance(event, ToolResult) for event in events) == 3  # the last step's calls run too, then it stops
    assert isinstance(events[-1], ChatFinish) and events[-1].reason == "tool-calls"


async def test_client_tool_ends_the_answer(approvals: ApprovalStore) -> None:
    tools = [function_tool("weather", weather, CityInput)]
    model = ScriptedModel(
        [tool_step(("call_1", "weather", '{"city": "Rome"}'), ("call_2", "askUser", '{"question": "Sure?"}'))]
    )

    events = await run_events(model, runner_for(tools, approvals, client_tool_names={"askUser"}))
    chunks = encode(events)

    assert len(model.calls) == 1
    assert ToolResult("call_1", {"city": "Rome", "temperature": 21}) in events  # the server's own still runs
    assert types_of(chunks) == [
        "start",
        "start-step",
        "tool-input-available",
        "tool-input-available",
        "tool-output-available",
        "finish-step",
        "message-metadata",
        "finish",
    ]
    assert chunks[-1] == {"type": "finish", "finishReason": "tool-calls"}


async def test_unknown_tool_is_an_error_result_when_client_tools_are_known(approvals: ApprovalStore) -> None:
    model = ScriptedModel([tool_step(("call_1", "teleport", '{"to": "Mars"}')), text_step("I cannot.")])

    events = await run_events(model, runner_for([], approvals, client_tool_names=["askUser"]))

    (invalid,) = [event for event in events if isinstance(event, ToolInputInvalid)]
    assert invalid.error_text == "Unknown tool 'teleport'. Available tools: askUser."
    assert len(model.calls) == 2
    assert isinstance(events[-1], ChatFinish) and events[-1].reason == "stop"


async def test_approval_request_is_recorded_and_ends_the_answer(approvals: ApprovalStore) -> None:
    tools = [function_tool("weather", weather, CityInput), function_tool("delete", weather, CityInput)]
    runner = runner_for(tools, approvals, approval_required=["delete"])
    model = ScriptedModel([tool_step(("call_del_1", "delete", '{"city": "Paris"}'))])

    events = await run_events(model, runner)
    chunks = encode(events)

    (request,) = [event for event in events if isinstance(event, ToolApprovalRequested)]
    assert request.tool_call_id == "call_del_1" and request.approval_id.startswith("apr-")
    # The same shape as golden/approval-request.sse.
    assert types_of(chunks) == [
        "start",
        "start-step",
        "tool-input-available",
        "tool-approval-request",
        "finish-step",
        "message-metadata",
        "finish",
    ]
    assert chunks[3] == {"type": "tool-approval-request", "approvalId": request.approval_id, "toolCallId": "call_del_1"}
    assert chunks[-1]["finishReason"] == "tool-calls"
    assert len(model.calls) == 1
    pending = await approvals.take("block1", request.approval_id, "call_del_1", "approved")
    assert pending is not None
    assert (pending.tool_name, pending.input_json) == ("delete", '{"city": "Paris"}')


async def test_tool_flag_requests_approval(approvals: ApprovalStore) -> None:
    tools = [function_tool("delete", weather, CityInput, needs_approval=True)]
    model = ScriptedModel([tool_step(("call_1", "delete", '{"city": "Paris"}'))])

    events = await run_events(model, runner_for(tools, approvals))

    assert any(isinstance(event, ToolApprovalRequested) for event in events)
    assert not any(isinstance(event, ToolResult) for event in events)


def test_tool_calls_are_complete_events() -> None:
    # The runner relies on the loop giving it only calls the provider did not execute.
    assert ToolCall("a", "b", "{}").provider_executed is False


async def test_stopping_the_answer_cancels_running_tools(approvals: ApprovalStore) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def long_job(tool_input: NoInput, context: ToolContext) -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "unreachable"

    tools = [function_tool("long_job", long_job, NoInput, timeout_seconds=60)]
    model = ScriptedModel([tool_step(("call_1", "long_job", "{}"))])
    answer = asyncio.create_task(run_events(model, runner_for(tools, approvals)))
    await started.wait()

    answer.cancel()

    with pytest.raises(asyncio.CancelledError):
        await answer
    assert cancelled.is_set()
