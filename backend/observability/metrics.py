"""Prometheus metrics (``prometheus-client``), one registry per app (no global state).

Answers are recorded once, at their end (``answer_finished``); HTTP requests once per request;
the live gauges (streams, followers, draining) are read when ``/metrics`` is scraped. Nothing is
updated per token.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from backend.chat.report import AnswerReport

# Seconds; time to first token is usually well under a second, answers take up to minutes.
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
DURATION_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)
ANSWER_LABELS = ("preset", "provider", "model")


class Metrics:
    def __init__(self, per_user: bool = False) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        # Issue 19: one label value per user is opt-in (--metrics-per-user): cardinality.
        self.user_tokens: Counter | None = None
        if per_user:
            self.user_tokens = Counter(
                "chatwire_user_tokens",
                "Tokens by user and kind (input, output)",
                ("user", "kind"),
                registry=registry,
            )
        self.requests = Counter(
            "chatwire_http_requests",
            "HTTP requests by route and status",
            ("route", "method", "status"),
            registry=registry,
        )
        self.request_seconds = Histogram(
            "chatwire_http_request_duration_seconds",
            "HTTP request handling time (streams: until they end)",
            ("route",),
            registry=registry,
            buckets=DURATION_BUCKETS,
        )
        self.ttft = Histogram(
            "chatwire_time_to_first_token_seconds",
            "From the start of an answer to its first output",
            ANSWER_LABELS,
            registry=registry,
            buckets=TTFT_BUCKETS,
        )
        self.answer_seconds = Histogram(
            "chatwire_answer_duration_seconds",
            "Whole answers",
            ANSWER_LABELS,
            registry=registry,
            buckets=DURATION_BUCKETS,
        )
        self.answers = Counter(
            "chatwire_answers",
            "Answers by how they finished",
            (*ANSWER_LABELS, "front_door", "finish_reason"),
            registry=registry,
        )
        self.tokens = Counter(
            "chatwire_tokens",
            "Tokens by kind (input, output, cache_read, cache_write, reasoning)",
            (*ANSWER_LABELS, "kind"),
            registry=registry,
        )
        self.provider_errors = Counter(
            "chatwire_provider_errors",
            "Provider errors that ended an answer, by category",
            ("provider", "category"),
            registry=registry,
        )
        self.retries = Counter(
            "chatwire_provider_retries",
            "Retried provider calls, by the error's category",
            ("provider", "category"),
            registry=registry,
        )
        self.tool_calls = Counter(
            "chatwire_tool_calls", "Server-side tool calls by tool and outcome", ("tool", "outcome"), registry=registry
        )
        self.pending = Gauge("chatwire_pending_approvals", "Tool approvals waiting for the user", registry=registry)
        self.active_streams = Gauge("chatwire_active_streams", "Answers generating in this process", registry=registry)
        self.followers = Gauge("chatwire_stream_followers", "Connections following an answer", registry=registry)
        self.draining = Gauge("chatwire_draining", "1 while the process drains for shutdown", registry=registry)

    def bind_live(
        self, active_streams: Callable[[], float], followers: Callable[[], float], draining: Callable[[], float]
    ) -> None:
        self.active_streams.set_function(active_streams)
        self.followers.set_function(followers)
        self.draining.set_function(draining)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.request_seconds.labels(route).observe(seconds)

    def answer_finished(self, report: AnswerReport) -> None:
        labels = (report.preset, report.provider, report.model)
        self.answers.labels(*labels, report.front_door, report.finish_reason).inc()
        self.answer_seconds.labels(*labels).observe(report.duration_seconds)
        if report.time_to_first_token_seconds is not None:
            self.ttft.labels(*labels).observe(report.time_to_first_token_seconds)
        usage = report.usage
        for kind, count in (
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
            ("cache_read", usage.cache_read_tokens),
            ("cache_write", usage.cache_write_tokens),
            ("reasoning", usage.reasoning_tokens),
        ):
            if count:
                self.tokens.labels(*labels, kind).inc(count)
                if self.user_tokens is not None and kind in ("input", "output") and report.user:
                    self.user_tokens.labels(report.user, kind).inc(count)
        if report.error_category is not None:
            self.provider_errors.labels(report.provider, report.error_category).inc()
        for category in report.retried:
            self.retries.labels(report.provider, category).inc()
        for (tool, outcome), count in report.tool_outcomes.items():
            self.tool_calls.labels(tool, outcome).inc(count)

    def pending_approvals(self, count: int) -> None:
        self.pending.set(count)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
