"""Tool approval signatures, compatible with the AI SDK's ``experimental_toolApprovalSecret``.

The scheme (``ai/src/generate-text/tool-approval-signature.ts`` and ``util/canonical-hash.ts``,
ai@7.0.173; ai@6 signs the same payload):

* ``inputDigest`` = base64url (no padding) of SHA-256 over the *canonical JSON* of the tool
  input: ``JSON.stringify`` of every value, with object keys sorted (by UTF-16 code units) and
  no whitespace;
* ``payload`` = ``JSON.stringify(["ai-sdk-tool-approval-v1", approvalId, toolCallId, toolName,
  inputDigest])``;
* ``signature`` = base64url (no padding) of HMAC-SHA-256(secret as UTF-8, payload).

With a secret, each ``tool-approval-request`` carries the signature; the client keeps it in the
part's ``approval.signature`` and sends it back with the answer. An answer whose signature is
missing or does not match the approval id, tool call, tool name and the *input the client
holds* is refused, on top of the database check in ``runner.py``. Any AI SDK server with the
same secret accepts our approvals, and we accept theirs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from typing import Any

PAYLOAD_VERSION = "ai-sdk-tool-approval-v1"


def _js_string(value: str) -> str:
    # JSON.stringify's escaping matches json.dumps(ensure_ascii=False): \" \\ \b \f \n \r \t,
    # other control characters as lowercase \u00xx, everything else as is.
    return json.dumps(value, ensure_ascii=False)


def _js_number(value: float) -> str:
    """``String(number)`` as ECMAScript formats it (Number::toString, radix 10)."""
    if isinstance(value, int):
        if abs(value) < 10**21:
            return str(value)
        value = float(value)
    if not math.isfinite(value):
        return "null"  # JSON.stringify(NaN / Infinity)
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest round-trip digits, like ECMAScript; only the layout differs.
    digits, n = _shortest_digits(repr(abs(value)))  # value = 0.<digits> × 10**n
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    exponent_part = f"e{'+' if e >= 0 else '-'}{abs(e)}"
    if k == 1:
        return sign + digits + exponent_part
    return sign + digits[0] + "." + digits[1:] + exponent_part


def _shortest_digits(text: str) -> tuple[str, int]:
    """Split Python's shortest repr into (significant digits, n) with value = 0.digits × 10**n."""
    mantissa, _, exponent_text = text.partition("e")
    exponent = int(exponent_text) if exponent_text else 0
    whole, _, fraction = mantissa.partition(".")
    if fraction == "0":
        fraction = ""
    digits = (whole + fraction).lstrip("0")
    leading_zeros = len(whole + fraction) - len((whole + fraction).lstrip("0"))
    n = len(whole) + exponent - leading_zeros
    digits = digits.rstrip("0") or "0"
    return digits, n


def canonical_json(value: Any) -> str:
    """The AI SDK's ``canonicalJSON``: ``JSON.stringify`` with sorted object keys."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _js_string(value)
    if isinstance(value, int | float):
        return _js_number(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(canonical_json(element) for element in value) + "]"
    if isinstance(value, dict):
        # JavaScript sorts keys by UTF-16 code units.
        keys = sorted(value, key=lambda key: key.encode("utf-16-be"))
        return "{" + ",".join(f"{_js_string(key)}:{canonical_json(value[key])}" for key in keys) + "}"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def input_digest(tool_input: Any) -> str:
    return _base64url(hashlib.sha256(canonical_json(tool_input).encode("utf-8")).digest())


def _payload(approval_id: str, tool_call_id: str, tool_name: str, tool_input: Any) -> bytes:
    fields = [PAYLOAD_VERSION, approval_id, tool_call_id, tool_name, input_digest(tool_input)]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class ApprovalSigner:
    """Signs and verifies approval requests with one secret (never logged, never in repr)."""

    def __init__(self, secret: str) -> None:
        self._key = secret.encode("utf-8")

    def __repr__(self) -> str:
        return "ApprovalSigner(...)"

    def sign(self, approval_id: str, tool_call_id: str, tool_name: str, tool_input: Any) -> str:
        payload = _payload(approval_id, tool_call_id, tool_name, tool_input)
        return _base64url(hmac.new(self._key, payload, hashlib.sha256).digest())

    def verify(
        self, signature: str | None, approval_id: str, tool_call_id: str, tool_name: str, tool_input: Any
    ) -> bool:
        """True if ``signature`` is ours for exactly this request (constant-time comparison)."""
        if not signature:
            return False
        try:
            expected = self.sign(approval_id, tool_call_id, tool_name, tool_input)
        except TypeError:
            return False
        return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace"))
