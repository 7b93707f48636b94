"""How answers look in the terminal: Markdown text, dimmed reasoning, tool calls, sources, a footer.

:class:`AnswerView` draws an answer as its chunks arrive; :func:`print_message` draws a saved
message (the conversation on start, ``/history``). Both use the same small line builders, so a
reloaded answer looks like the streamed one. The answer text goes to a :class:`TextSink`: rendered
Markdown on a terminal, or the raw text (no escape codes) when stdout is a pipe.
"""

from __future__ import annotations

import json
import re
from typing import Any, Protocol, TextIO

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown
from rich.text import Text

from backend.cli.stream import Chunk, Part, UIMessage, tool_name

REASONING_STYLE = "dim italic"
TOOL_STYLE = "cyan"
ERROR_STYLE = "bold red"
FOOTER_STYLE = "dim"
USER_STYLE = "bold green"
MAX_TOOL_VALUE_CHARS = 400
_REFRESHES_PER_SECOND = 12
_FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)


class TextSink(Protocol):
    """Where the answer's text goes while it streams."""

    def start(self) -> None: ...
    def update(self, text: str, delta: str) -> None: ...
    def end(self, text: str) -> None: ...


class PlainText:
    """The raw text, written as it arrives (for pipes: no escape codes, nothing reflowed)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._wrote_any = False

    def start(self) -> None:
        if self._wrote_any:
            self.stream.write("\n\n")  # a later text part of the same answer is a new paragraph

    def update(self, text: str, delta: str) -> None:
        self.stream.write(delta)
        self.stream.flush()
        self._wrote_any = self._wrote_any or bool(delta)

    def end(self, text: str) -> None:
        self.stream.flush()

    def finish(self) -> None:
        if self._wrote_any:
            self.stream.write("\n")
            self.stream.flush()


class MarkdownText:
    """Rendered Markdown (or, with ``style``, styled plain text such as reasoning).

    Settled blocks (up to the last blank line outside a code fence) are printed for good above a
    transient live area that redraws only the paragraph still growing, so a long answer never
    needs to redraw more than fits on the screen."""

    def __init__(self, console: Console, style: str | None = None) -> None:
        self.console = console
        self.style = style
        self._live: Live | None = None
        self._printed = 0  # characters of the text already printed for good

    def start(self) -> None:
        self._printed = 0
        # Redrawn by rich's refresh thread a few times a second, not per token: the last tokens
        # before a pause still show, and a fast stream does not redraw for every delta.
        self._live = Live(console=self.console, refresh_per_second=_REFRESHES_PER_SECOND, transient=True)
        self._live.start()

    def update(self, text: str, delta: str) -> None:
        settled = settled_length(text, self._printed)
        if settled > self._printed:
            self._print(text[self._printed : settled])
            self.console.print()
            self._printed = settled
        if self._live is not None:
            self._live.update(self._renderable(text[self._printed :]))

    def end(self, text: str) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        self._print(text[self._printed :])

    def _renderable(self, text: str) -> Markdown | Text:
        return Markdown(text) if self.style is None else Text(text, style=self.style)

    def _print(self, text: str) -> None:
        if text.strip():
            self.console.print(self._renderable(text.strip("\n")))


def settled_length(text: str, already: int) -> int:
    """How much of ``text`` is complete Markdown blocks: up to its last blank line that is not
    inside a code fence (never less than ``already``)."""
    cut = text.rfind("\n\n")
    while cut > already:
        if len(_FENCE.findall(text, 0, cut)) % 2 == 0:
            return cut + 2
        cut = text.rfind("\n\n", 0, cut)
    return already


def compact_json(value: Any, limit: int = MAX_TOOL_VALUE_CHARS) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tool_call_line(part: Part) -> Text:
    provider = " (provider)" if part.get("providerExecuted") else ""
    return Text(f"⚙ {tool_name(part)}{provider} {compact_json(part.get('input'))}", style=TOOL_STYLE)


def tool_outcome_line(part: Part) -> Text | None:
    state = part.get("state")
    if state == "output-available":
        return Text(f"  → {compact_json(part.get('output'))}", style=TOOL_STYLE)
    if state == "output-error":
        return Text(f"  ✗ {part.get('errorText', '')}", style=ERROR_STYLE)
    if state == "output-denied":
        return Text("  ✗ denied", style="yellow")
    if state == "approval-requested":
        return Text("  ? waiting for approval", style="yellow")
    if state == "input-available" and not part.get("providerExecuted"):
        return Text("  (a client tool: not run by this terminal)", style=FOOTER_STYLE)
    return None


def source_line(number: int, part: Part) -> Text:
    title = part.get("title") or part.get("filename") or ""
    where = part.get("url") or part.get("mediaType", "")
    return Text(f"  [{number}] {title + ' — ' if title else ''}{where}", style="blue")


def footer_line(metadata: dict[str, Any], finish_reason: str | None = None) -> Text:
    """``preset default · anthropic/claude-sonnet-5-5 · in 16 · out 38 · total 54``."""
    pieces: list[str] = []
    if metadata.get("preset"):
        source = metadata.get("resolvedFrom")
        layer = source.get("preset") if isinstance(source, dict) else source
        pieces.append(f"preset {metadata['preset']}" + (f" (from {layer})" if isinstance(layer, str) else ""))
    if metadata.get("model"):
        pieces.append(f"{metadata.get('provider', '?')}/{metadata['model']}")
    usage = metadata.get("usage")
    if isinstance(usage, dict):
        for key, label in (("inputTokens", "in"), ("outputTokens", "out"), ("totalTokens", "total")):
            if isinstance(usage.get(key), int):
                pieces.append(f"{label} {usage[key]}")
    if finish_reason == "interrupted":
        pieces.append("stopped")
    elif finish_reason not in (None, "stop", "tool-calls"):
        pieces.append(f"finish {finish_reason}")
    return Text(" · ".join(pieces), style=FOOTER_STYLE)


def error_line(text: str) -> Text:
    return Text(f"error: {text}", style=ERROR_STYLE)


def print_message(console: Console, message: UIMessage) -> None:
    """A saved message, drawn as it looked when it streamed."""
    if message.get("role") == "user":
        texts = [str(part.get("text", "")) for part in message.get("parts", []) if part.get("type") == "text"]
        files = [part for part in message.get("parts", []) if part.get("type") == "file"]
        console.print(Text("› ", style=USER_STYLE) + Text("\n  ".join("\n".join(texts).split("\n"))))
        for part in files:
            console.print(Text(f"  📎 {part.get('filename') or part.get('mediaType', 'file')}", style=FOOTER_STYLE))
        return
    sources: list[Part] = []
    for part in message.get("parts", []):
        kind = part.get("type")
        if kind == "text" and part.get("text"):
            console.print(Markdown(str(part["text"])))
        elif kind == "reasoning" and part.get("text"):
            console.print(Text(str(part["text"]), style=REASONING_STYLE))
        elif kind in ("source-url", "source-document"):
            sources.append(part)
        elif tool_name(part) is not None:
            console.print(tool_call_line(part))
            outcome = tool_outcome_line(part)
            if outcome is not None:
                console.print(outcome)
    print_sources(console, sources)
    metadata = message.get("metadata")
    console.print(footer_line(metadata if isinstance(metadata, dict) else {}))
    console.print()


def print_sources(console: Console, sources: list[Part]) -> None:
    if sources:
        console.print(Text("Sources:", style="blue"))
        for number, part in enumerate(sources, 1):
            console.print(source_line(number, part))


class AnswerView:
    """Draws one answer while it streams. ``side`` gets reasoning, tools, sources and the footer
    (the same console in the chat; stderr, or nothing with ``--quiet``, for ``ask``)."""

    def __init__(self, text: TextSink, side: Console | None) -> None:
        self.text = text
        self.side = side
        self.sources: list[Part] = []
        self.tools: list[Part] = []
        self.reasoning = MarkdownText(side, REASONING_STYLE) if side is not None else None
        self._open_reasoning: Part | None = None
        self._open_text: Part | None = None

    def show(self, chunk: Chunk, part: Part | None) -> None:
        kind: str = chunk["type"]
        if kind == "text-start":
            self.close()
            self.text.start()
            self._open_text = part
        elif kind in ("text-delta", "text-end") and part is not None:
            if kind == "text-delta":
                self.text.update(str(part["text"]), str(chunk.get("delta", "")))
            else:
                self.text.end(str(part["text"]))
                self._open_text = None
        elif kind.startswith("reasoning-") and part is not None:
            self._reasoning(kind, part, chunk)
        elif kind in ("source-url", "source-document") and part is not None:
            self.sources.append(part)
        elif kind.startswith("tool-") and part is not None:
            self._tool(kind, part)
        elif kind == "error":
            self.close()
            self._say(error_line(str(chunk.get("errorText", ""))))

    def _reasoning(self, kind: str, part: Part, chunk: Chunk) -> None:
        if self.reasoning is None:
            return
        if kind == "reasoning-start":
            self.close()
            self.reasoning.start()
            self._open_reasoning = part
        elif kind == "reasoning-delta":
            self.reasoning.update(str(part["text"]), str(chunk.get("delta", "")))
        elif self._open_reasoning is not None:
            self.reasoning.end(str(part["text"]))
            self._open_reasoning = None

    def _tool(self, kind: str, part: Part) -> None:
        if kind in ("tool-input-available", "tool-input-error"):
            self.tools.append(part)
            self._say(tool_call_line(part))
        if kind in ("tool-output-available", "tool-output-error", "tool-output-denied", "tool-input-error"):
            outcome = tool_outcome_line(part)
            if outcome is not None:
                self._say(outcome)

    def _say(self, line: Text) -> None:
        if self.side is not None:
            self.side.print(line)

    def close(self) -> None:
        """End a text part the stream left open (an error chunk, a broken connection)."""
        if self._open_text is not None:
            self.text.end(str(self._open_text.get("text", "")))
            self._open_text = None
        if self._open_reasoning is not None and self.reasoning is not None:
            self.reasoning.end(str(self._open_reasoning.get("text", "")))
            self._open_reasoning = None

    def finish(self, metadata: dict[str, Any], finish_reason: str | None) -> None:
        self.close()
        if isinstance(self.text, PlainText):
            self.text.finish()
        if self.side is not None:
            for part in self.tools:
                if part.get("state") == "input-available" and not part.get("providerExecuted"):
                    self._say(tool_outcome_line(part) or Text(""))
            print_sources(self.side, self.sources)
            self.side.print(footer_line(metadata, finish_reason))
