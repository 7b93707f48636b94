"""Reading our SSE responses back in tests (and validating each chunk against the protocol)."""

from __future__ import annotations

import json
from typing import Any


def parse_sse(body: str) -> tuple[list[dict[str, Any]], list[str], bool]:
    """Returns (chunks, comment lines, saw [DONE])."""
    chunks: list[dict[str, Any]] = []
    comments: list[str] = []
    done = False
    for event in body.split("\n\n"):
        for line in event.split("\n"):
            if line.startswith(":"):
                comments.append(line)
            elif line.startswith("data: "):
                data = line[len("data: ") :]
                if data == "[DONE]":
                    done = True
                else:
                    chunks.append(json.loads(data))
    return chunks, comments, done


def types_of(chunks: list[dict[str, Any]]) -> list[str]:
    return [chunk["type"] for chunk in chunks]
