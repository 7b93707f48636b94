"""What a server-side tool is, and the registry of the tools a preset may enable.

A :class:`Tool` has a name, a description, an input JSON Schema (for the model), a parser that
turns the model's JSON into the tool's typed input (raising :class:`ToolInputError` with a
message the model can act on) and an ``async run``. :class:`ModelTool` is the usual kind: its
input is a pydantic model, whose ``model_json_schema()`` is what the model sees. MCP tools
(``mcp_bridge.py``) take a plain JSON object and let their server validate it.

Tools raise :class:`ToolError` for expected failures (a refused path, a host not allowed); its
message is shown as is. Any other exception is reported as ``<class>: <message>`` (redacted),
with the traceback only in the log (``runner.py``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from backend.errors import ConfigError
from backend.events import JsonValue
from backend.messages import ToolDefinition

if TYPE_CHECKING:  # presets may import the registry to validate tool names: no import cycle
    from backend.presets import BuiltinToolOptions

InputT = TypeVar("InputT")
ModelT = TypeVar("ModelT", bound=BaseModel)

# Above this, tool output is cut: it goes into every later model call of the conversation.
MAX_ERROR_TEXT = 1000


# ``ToolError`` (an expected tool failure, shown as is) lives in the one error tree.


class ToolInputError(Exception):
    """The model's input does not fit the tool's schema; the message tells the model what to fix."""


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a tool may know about the request it runs for.

    ``secrets`` are values that must never appear in an error text (API keys, MCP server
    environment values); the runner removes them.
    """

    block_id: str
    options: BuiltinToolOptions
    secrets: tuple[str, ...] = ()


class Tool(ABC, Generic[InputT]):
    """A tool the server runs. Subclasses set the attributes and implement the three methods."""

    name: str
    description: str
    # Ask the user before every call (the preset's ``approval_required`` can add more).
    needs_approval: bool = False
    # ``None``: the preset's ``tool_options.timeout_seconds``.
    timeout_seconds: float | None = None

    @abstractmethod
    def input_schema(self) -> dict[str, JsonValue]:
        """The JSON Schema (an object schema) the model's input must match."""

    @abstractmethod
    def parse_input(self, value: JsonValue) -> InputT:
        """The typed input, or :class:`ToolInputError` with a message the model can act on."""

    @abstractmethod
    async def run(self, tool_input: InputT, context: ToolContext) -> JsonValue:
        """Do the work; the result must be JSON (it is sent to the model and the browser)."""

    def definition(self) -> ToolDefinition:
        return ToolDefinition(self.name, self.description, self.input_schema())


ToolFunction = Callable[[ModelT, ToolContext], Awaitable[JsonValue]]


class ModelTool(Tool[ModelT]):
    """A tool whose input is a pydantic model and whose work is one async function."""

    def __init__(
        self,
        name: str,
        description: str,
        input_model: type[ModelT],
        function: ToolFunction[ModelT],
        *,
        needs_approval: bool = False,
        timeout_seconds: float | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.input_model = input_model
        self.function = function
        self.needs_approval = needs_approval
        self.timeout_seconds = timeout_seconds

    def input_schema(self) -> dict[str, JsonValue]:
        schema: dict[str, JsonValue] = self.input_model.model_json_schema()
        schema.pop("title", None)  # the Python class name tells the model nothing
        return schema

    def parse_input(self, value: JsonValue) -> ModelT:
        try:
            return self.input_model.model_validate(value)
        except ValidationError as error:
            raise ToolInputError(describe_input_error(self.name, error)) from None

    async def run(self, tool_input: ModelT, context: ToolContext) -> JsonValue:
        return await self.function(tool_input, context)


def describe_input_error(tool_name: str, error: ValidationError) -> str:
    """``Invalid input for tool read_file: path: Field required`` (first five problems)."""
    problems = []
    for item in error.errors()[:5]:
        location = ".".join(str(part) for part in item["loc"]) or "(input)"
        problems.append(f"{location}: {item['msg']}")
    return f"Invalid input for tool {tool_name}: " + "; ".join(problems)


class UnknownToolError(ConfigError):
    """A preset names a tool the registry does not have."""


class ToolRegistry:
    """The server tools a preset may enable, by name. Build one per app (``default_registry()``)."""

    def __init__(self, tools: Iterable[Tool[Any]] = ()) -> None:
        self._tools: dict[str, Tool[Any]] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool[Any]) -> None:
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._tools))

    def get(self, name: str) -> Tool[Any]:
        tool = self._tools.get(name)
        if tool is None:
            raise UnknownToolError(f"unknown tool {name!r}; known tools: {', '.join(self.names()) or '(none)'}")
        return tool

    def select(self, names: Iterable[str]) -> dict[str, Tool[Any]]:
        """The named tools, in the given order (``UnknownToolError`` for a name not registered)."""
        return {name: self.get(name) for name in names}

    def definitions(self, names: Iterable[str]) -> tuple[ToolDefinition, ...]:
        return tuple(tool.definition() for tool in self.select(names).values())


def tools_by_name(tools: Iterable[Tool[Any]]) -> Mapping[str, Tool[Any]]:
    """Index tools by name; a duplicate name is a configuration error (the model could not tell them apart)."""
    indexed: dict[str, Tool[Any]] = {}
    for tool in tools:
        if tool.name in indexed:
            raise ConfigError(f"two server tools are named {tool.name!r}")
        indexed[tool.name] = tool
    return indexed
