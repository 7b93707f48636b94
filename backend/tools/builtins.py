"""The built-in server tools and ``default_registry()``.

Every built-in is off unless a preset lists it in ``tools``; see docs/tools.md. The file and
network tools live in their own modules (``read_file.py``, ``fetch_url.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from backend.events import JsonValue
from backend.tools.base import ModelTool, ToolContext, ToolRegistry
from backend.tools.fetch_url import fetch_url_tool
from backend.tools.read_file import read_file_tool


class CurrentTimeInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    timezone: str | None = Field(
        default=None,
        max_length=64,
        description="An IANA time zone such as 'Europe/Paris'. Omit it for UTC.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Europe/Paris'") from None
        return value


async def _current_time(tool_input: CurrentTimeInput, context: ToolContext) -> JsonValue:
    zone = ZoneInfo(tool_input.timezone) if tool_input.timezone else UTC
    now = datetime.now(zone)
    return {
        "iso": now.isoformat(timespec="seconds"),
        "timezone": tool_input.timezone or "UTC",
        "weekday": now.strftime("%A"),
        "unix": int(now.timestamp()),
    }


def current_time_tool() -> ModelTool[CurrentTimeInput]:
    return ModelTool(
        "current_time",
        "Get the current date and time, in UTC or in a given IANA time zone.",
        CurrentTimeInput,
        _current_time,
    )


def default_registry() -> ToolRegistry:
    """A registry with every built-in tool (the app keeps one; presets enable tools by name)."""
    return ToolRegistry([current_time_tool(), read_file_tool(), fetch_url_tool()])
