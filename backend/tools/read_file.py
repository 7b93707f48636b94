"""``read_file``: read a text file below the preset's ``tool_options.read_file_root``.

Safe by default: the path must be relative, may not contain ``..``, and must still be inside
the root once symlinks are resolved (a link pointing outside is refused; links inside are
fine). Hidden files and folders (``.env``, ``.git``) are refused, since they are where secrets
live. Only regular files that decode as UTF-8 and contain no NUL byte are returned, and only
their first :data:`MAX_READ_BYTES` bytes.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from pydantic import BaseModel, ConfigDict, Field

from backend.errors import ToolError
from backend.events import JsonValue
from backend.tools.base import ModelTool, ToolContext

MAX_READ_BYTES = 256 * 1024


class ReadFileInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    path: str = Field(
        min_length=1,
        max_length=4096,
        description="Path of the file, relative to the readable folder (for example 'notes/todo.md').",
    )


@dataclass(frozen=True, slots=True)
class FileText:
    path: str
    text: str
    size: int
    truncated: bool

    def as_json(self) -> JsonValue:
        return {"path": self.path, "content": self.text, "size": self.size, "truncated": self.truncated}


def resolve_inside(root: Path, relative: str) -> Path:
    """The real path of ``relative`` below ``root``, or ``ToolError`` if it is not allowed."""
    if "\x00" in relative:
        raise ToolError("The path contains a NUL character.")
    posix, windows = PurePosixPath(relative), PureWindowsPath(relative)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or relative.startswith(("/", "\\")):
        raise ToolError("The path must be relative to the readable folder, not absolute.")
    if ".." in posix.parts or ".." in windows.parts:
        raise ToolError("The path may not contain '..'.")
    real_root = root.resolve(strict=True)
    try:
        candidate = (real_root / posix).resolve(strict=True)
    except FileNotFoundError:
        raise ToolError(f"No such file: {relative}") from None
    except (OSError, RuntimeError) as error:  # RuntimeError: a symlink loop
        raise ToolError(f"Cannot open {relative}: {type(error).__name__}") from None
    if not candidate.is_relative_to(real_root):
        raise ToolError("The path leads outside the readable folder (through a symbolic link).")
    if any(part.startswith(".") for part in (*posix.parts, *candidate.relative_to(real_root).parts)):
        raise ToolError("Hidden files and folders (names starting with '.') are not readable.")
    return candidate


def read_text_file(root: Path, relative: str, max_bytes: int = MAX_READ_BYTES) -> FileText:
    """Blocking: run it in a thread."""
    if not root.is_dir():
        raise ToolError("read_file is misconfigured: tool_options.read_file_root is not a folder.")
    path = resolve_inside(root, relative)
    if not path.is_file():
        raise ToolError(f"Not a regular file: {relative}")
    # O_NOFOLLOW: the last component cannot have been swapped for a link since it was resolved.
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(descriptor, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        data = handle.read(max_bytes + 1)
    truncated = len(data) > max_bytes
    data = data[:max_bytes]
    if b"\x00" in data:
        raise ToolError(f"{relative} is not a text file.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        # A cut inside a multi-byte character is fine; anything else is not UTF-8 text.
        if not truncated or error.start < len(data) - 3:
            raise ToolError(f"{relative} is not a UTF-8 text file.") from None
        text = data[: error.start].decode("utf-8")
    return FileText(PurePosixPath(path.relative_to(root.resolve())).as_posix(), text, size, truncated)


async def _read_file(tool_input: ReadFileInput, context: ToolContext) -> JsonValue:
    root = context.options.read_file_root
    if not root:
        raise ToolError("read_file is not configured: the preset sets no tool_options.read_file_root.")
    result = await asyncio.to_thread(read_text_file, Path(root), tool_input.path)
    return result.as_json()


def read_file_tool() -> ModelTool[ReadFileInput]:
    return ModelTool(
        "read_file",
        "Read a UTF-8 text file from the server's readable folder. Paths are relative to that folder; "
        f"at most the first {MAX_READ_BYTES // 1024} KiB are returned ('truncated' tells whether there is more).",
        ReadFileInput,
        _read_file,
    )
