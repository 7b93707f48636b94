"""Running one tool call: its input check, its timeout, and a safe report of how it ended.

A tool never crashes the stream. Whatever it raises becomes a ``ToolFailed`` event (for the
browser) and an error ``ToolResultContent`` (for the model), with a text that names the
exception class and message only: tracebacks go to the log as code locations (no values), and
known secrets plus anything shaped like a key are removed first (``errors.redact``).
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from backend.errors import ToolError, redact
from backend.events import JsonValue, ToolFailed, ToolResult, parse_tool_input
from backend.messages import ToolResultContent
from backend.tools.base import MAX_ERROR_TEXT, Tool, ToolContext, ToolInputError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ParsedInput:
    """The model's input for a call: the JSON value and the tool's typed input, or why not."""

    value: JsonValue
    tool_input: Any = None
    error_text: str | None = None
    # True when the JSON itself did not parse: the encoder already reported that to the
    # browser (a ToolCall with bad JSON becomes ``tool-input-error``), so no second event.
    bad_json: bool = False


@dataclass(frozen=True, slots=True)
class ToolJob:
    """One call ready to run."""

    tool_call_id: str
    tool: Tool[Any]
    tool_input: Any


def parse_call_input(tool: Tool[Any], input_json: str) -> ParsedInput:
    value, json_error = parse_tool_input(input_json)
    if json_error is not None:
        return ParsedInput(value, error_text=json_error, bad_json=True)
    try:
        return ParsedInput(value, tool.parse_input(value))
    except ToolInputError as error:
        return ParsedInput(value, error_text=str(error))


def safe_error_text(error: BaseException, secrets: Sequence[str] = ()) -> str:
    """``ValueError: message`` (a ``ToolError`` shows only its message), redacted and cut short."""
    message = str(error)
    if isinstance(error, ToolError):
        text = message or "The tool failed."
    else:
        text = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return redact(text, tuple(secrets))[:MAX_ERROR_TEXT]


def result_content(event: ToolResult | ToolFailed, tool_name: str) -> ToolResultContent:
    """What the model reads about a finished call."""
    if isinstance(event, ToolResult):
        return ToolResultContent(event.tool_call_id, tool_name, event.output, "output")
    return ToolResultContent(event.tool_call_id, tool_name, event.error_text, "error")


async def execute(job: ToolJob, context: ToolContext) -> ToolResult | ToolFailed:
    """Run one call with its timeout; never raises (except for cancellation)."""
    tool = job.tool
    seconds = tool.timeout_seconds or context.options.timeout_seconds
    try:
        async with asyncio.timeout(seconds) as deadline:
            output = await tool.run(job.tool_input, context)
    except TimeoutError as error:
        # A TimeoutError raised inside the tool (its own HTTP timeout, say) is a plain failure.
        if not deadline.expired():
            return _failed(job, error, context)
        logger.warning("tool %s (call %s) timed out after %gs", tool.name, job.tool_call_id, seconds)
        return ToolFailed(job.tool_call_id, f"The tool {tool.name} timed out after {seconds:g} seconds.")
    except Exception as error:
        return _failed(job, error, context)
    return ToolResult(job.tool_call_id, output)


def _failed(job: ToolJob, error: Exception, context: ToolContext) -> ToolFailed:
    text = safe_error_text(error, context.secrets)
    where = "".join(traceback.format_tb(error.__traceback__))  # code locations only, no values
    logger.warning("tool %s (call %s) failed: %s\n%s", job.tool.name, job.tool_call_id, text, where.rstrip())
    return ToolFailed(job.tool_call_id, text)


async def execute_all(jobs: Sequence[ToolJob], context: ToolContext) -> AsyncIterator[ToolResult | ToolFailed]:
    """Run the calls in parallel and yield each outcome as it finishes.

    If the consumer stops (the user pressed stop), the calls still running are cancelled.
    """
    tasks = [asyncio.create_task(execute(job, context), name=f"tool-{job.tool.name}") for job in jobs]
    try:
        for next_done in asyncio.as_completed(tasks):
            yield await next_done
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
