"""Anthropic stream bodies of our own making, for answers no recording has: markdown with a table,
fenced code, math and hostile HTML, cut into small deltas the way models stream them.

The wire shape follows the recorded ``tests/fixtures/anthropic/text_basic.sse`` (same events, same
order); only the text differs. The backend parses it with the real Anthropic SDK.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# Everything issue 20 asks the renderer for, in one answer. The last paragraph must stay inert:
# if any of it ran, ``window.__pwned`` would be set; if the <img> became an element, its request
# for /x would 404 and the console check would fail the test.
MARKDOWN_ANSWER = """Here are the pods:

| Namespace | Pod | Status |
|---|---|---|
| app | api-7f9 | Running |
| jobs | cron-1 | ~~Failed~~ Completed |

- [x] checked the logs
- [ ] scale the deployment

```python
def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)
```

Euler's identity: $$e^{i\\pi} + 1 = 0$$

Docs: https://docs.example.com/pods

Inert: <script>window.__pwned = 1</script> <img src=x onerror="window.__pwned = 2"> \
[click me](javascript:window.__pwned=3) ![pixel](javascript:alert(1))
"""

CODE = "def fib(n: int) -> int:\n    return n if n < 2 else fib(n - 1) + fib(n - 2)"

# Events before the first text delta: message_start, content_block_start.
_LEADING_EVENTS = 2


@dataclass(frozen=True)
class Answer:
    body: bytes
    deltas: list[str]

    def events_through(self, marker: str) -> int:
        """How many events to let through so the page has just received ``marker`` and no more."""
        text = ""
        for index, delta in enumerate(self.deltas):
            text += delta
            if marker in text:
                return _LEADING_EVENTS + index + 1
        raise ValueError(f"{marker!r} is not in the answer")


def _event(name: str, data: dict[str, object]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


def anthropic_text_answer(text: str, delta_size: int = 6, message_id: str = "msg_e2e_markdown") -> Answer:
    """An Anthropic Messages stream that writes ``text`` in deltas of ``delta_size`` characters."""
    deltas = [text[start : start + delta_size] for start in range(0, len(text), delta_size)]
    usage = {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    events = [
        _event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "model": "claude-sonnet-4-20250514",
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {**usage, "output_tokens": 1},
                },
            },
        ),
        _event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
    ]
    events += [
        _event(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": delta}},
        )
        for delta in deltas
    ]
    events += [
        _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {**usage, "output_tokens": len(deltas)},
            },
        ),
        _event("message_stop", {"type": "message_stop"}),
    ]
    return Answer("".join(events).encode(), deltas)
