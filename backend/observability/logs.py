"""Logging: text or JSON lines, a request id on every line, one line per answer.

The request id comes from ``X-Request-Id`` (or is made) in the web layer and travels in a
context variable, so the answer's task (started inside the request) logs it too. Lines never
hold a key (errors are redacted where they are made) nor message content at INFO.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

from backend.chat.report import AnswerReport

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
LogFormat = Literal["text", "json"]

answer_logger = logging.getLogger("chatwire.answer")
access_logger = logging.getLogger("chatwire.access")
# Third-party loggers held at WARNING unless the level is DEBUG (configure_logging says why).
QUIET_AT_INFO = ("httpx", "httpx2", "httpcore", "httpcore2")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def configure_logging(level: str, log_format: LogFormat) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The SDKs' HTTP clients log every request at INFO ("HTTP Request: POST …"), once per answer
    # on the path to its first token (~0.1 ms, docs/benchmarks.md); the answer line says more.
    # They still speak at DEBUG, and their warnings always.
    quiet = logging.NOTSET if root.getEffectiveLevel() <= logging.DEBUG else logging.WARNING
    for name in QUIET_AT_INFO:
        logging.getLogger(name).setLevel(quiet)


class AnswerLog:
    """The answer log line (an ``Observer``): block, preset, model, tokens, TTFT, finish."""

    def answer_finished(self, report: AnswerReport) -> None:
        usage = report.usage
        ttft_ms = (
            None if report.time_to_first_token_seconds is None else round(report.time_to_first_token_seconds * 1000)
        )
        fields = {
            "front_door": report.front_door,
            "block": report.block_id,
            "preset": report.preset,
            "provider": report.provider,
            "model": report.model,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "ttft_ms": ttft_ms,
            "duration_ms": round(report.duration_seconds * 1000),
            "finish": report.finish_reason,
            "error": report.error_category,
            "retries": len(report.retried),
        }
        answer_logger.info(
            "answer block=%s preset=%s model=%s tokens=%s/%s ttft_ms=%s finish=%s",
            report.block_id,
            report.preset,
            report.model,
            usage.input_tokens,
            usage.output_tokens,
            ttft_ms,
            report.finish_reason,
            extra=fields,
        )

    def pending_approvals(self, count: int) -> None:
        return None


def log_access(method: str, route: str, status: int, duration_ms: float, size: int) -> None:
    """One line per request: never the query string nor a body."""
    access_logger.info(
        "%s %s %d %.1fms %dB",
        method,
        route,
        status,
        duration_ms,
        size,
        extra={"method": method, "route": route, "status": status, "duration_ms": round(duration_ms, 1), "bytes": size},
    )
