"""Process settings from command-line flags and environment variables.

This is the only module that reads ``os.environ``. Every flag has an environment equivalent
(flag wins): ``--host`` / ``CHATWIRE_HOST`` and so on, listed in :data:`ENVIRONMENT`. API keys
are looked up by name (a preset's ``api_key_env``) in the secrets file first, then in the
environment captured at startup; the values never leave :class:`Secrets`.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from backend.errors import ConfigError
from backend.request_limits import RequestLimits

ENVIRONMENT = {
    "host": "CHATWIRE_HOST",
    "port": "CHATWIRE_PORT",
    "data_dir": "CHATWIRE_DATA_DIR",
    "presets_dir": "CHATWIRE_PRESETS_DIR",
    "secrets_file": "CHATWIRE_SECRETS_FILE",
    "frontend_dir": "CHATWIRE_FRONTEND_DIR",
    "max_body_mb": "CHATWIRE_MAX_BODY_MB",
    "keepalive_seconds": "CHATWIRE_KEEPALIVE_SECONDS",
    "cancel_on_disconnect": "CHATWIRE_CANCEL_ON_DISCONNECT",
    "log_level": "CHATWIRE_LOG_LEVEL",
    "preset_poll_seconds": "CHATWIRE_PRESET_POLL_SECONDS",
    # Issue 11: the security boundary (docs/security.md). Lists are comma-separated.
    "allowed_hosts": "CHATWIRE_ALLOWED_HOSTS",
    "cors_origins": "CHATWIRE_CORS_ORIGINS",
    "auth_token": "CHATWIRE_AUTH_TOKEN",
    "auth_token_file": "CHATWIRE_AUTH_TOKEN_FILE",
    "insecure_no_auth": "CHATWIRE_INSECURE_NO_AUTH",
    # Operations (docs/operations.md).
    "drain_seconds": "CHATWIRE_DRAIN_SECONDS",
    "max_streams": "CHATWIRE_MAX_STREAMS",
    "client_requests_per_minute": "CHATWIRE_CLIENT_REQUESTS_PER_MINUTE",
    "rate_limit_storage": "CHATWIRE_RATE_LIMIT_STORAGE",
    "log_format": "CHATWIRE_LOG_FORMAT",
    # Issue 14: the AI SDK's tool approval signatures, and the default client major (5, 6, 7).
    "approval_secret": "CHATWIRE_APPROVAL_SECRET",
    "protocol": "CHATWIRE_PROTOCOL",
    # Issue 17 (docs/scaling.md): the shared engines of several workers.
    "database_url": "CHATWIRE_DATABASE_URL",
    "redis_url": "CHATWIRE_REDIS_URL",
    "stream_lock_seconds": "CHATWIRE_STREAM_LOCK_SECONDS",
    "finished_stream_seconds": "CHATWIRE_FINISHED_STREAM_SECONDS",
    "workers": "CHATWIRE_WORKERS",
    # Issue 19 (docs/security.md): users on a shared server, and per-user metrics (label cardinality).
    "users_file": "CHATWIRE_USERS_FILE",
    "metrics_per_user": "CHATWIRE_METRICS_PER_USER",
}

# A shorter token is refused: it would be guessable over a LAN.
MIN_AUTH_TOKEN_LENGTH = 16

_ROOT = Path(__file__).resolve().parent.parent


class Secrets:
    """API keys by name. ``repr`` never shows values."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self._long_values = tuple(value for value in self._values.values() if len(value) >= 8)

    def get(self, name: str | None) -> str | None:
        if not name:
            return None
        value = self._values.get(name)
        return value or None

    def all_values(self) -> tuple[str, ...]:
        """Every secret value (for redaction checks in logs and tests)."""
        return self._long_values

    def __repr__(self) -> str:
        return f"Secrets({len(self._values)} names)"


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    presets_dir: Path = _ROOT / "presets"
    secrets_file: Path | None = None
    frontend_dir: Path = _ROOT / "frontend" / "dist"
    # 24 MiB: the largest body whose single uninterruptible steps (the JSON parse, the provider
    # request's encode) stay under 50 ms of event-loop time on a 2-core machine (docs/benchmarks.md,
    # tests/bench/loop_block.py). Vercel Functions accept 4.5 MB; Anthropic's API refuses over 32 MB.
    max_body_bytes: int = 24 * 1024 * 1024
    keepalive_seconds: float = 15.0
    # Issue #5: generation continues when the tab closes, unless this is set.
    cancel_on_disconnect: bool = False
    log_level: str = "INFO"
    # How often preset files are checked for changes (SIGHUP reloads at once).
    preset_poll_seconds: float = 2.0
    # Retry policy before the first token (seconds); tests shorten these.
    retry_attempts: int = 3
    retry_base_delay: float = 0.5
    retry_max_delay: float = 8.0
    retry_max_after: float = 20.0
    secrets: Secrets = field(default_factory=lambda: Secrets({}))
    # Issue 11 (docs/security.md): extra Host names, origins allowed cross-site (CORS), the API
    # token (never in repr) and the explicit opt-out that lets a non-loopback bind run without one.
    allowed_hosts: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    auth_token: str | None = field(default=None, repr=False)
    insecure_no_auth: bool = False
    limits: RequestLimits = field(default_factory=RequestLimits)
    # Operations (docs/operations.md): how long answers in flight may finish after SIGTERM, the
    # process's concurrent answers, each client's requests per minute (0: off), where rate-limit
    # counts live, and the log line format.
    drain_seconds: float = 20.0
    # An overload guard, well past what a core holds at a token per 20 ms (~250-500 streams): paced
    # streams are mostly idle, so past capacity they slow down gradually; refusing at capacity
    # would turn a busy minute into errors (docs/operations.md).
    max_streams: int = 2000
    client_requests_per_minute: int = 0
    rate_limit_storage: str = "memory://"
    log_format: Literal["text", "json"] = "text"
    # Issue 14 (docs/api.md): signs every tool approval request the AI SDK way and refuses an
    # answer without a valid signature; and the UI stream major for clients that do not say.
    approval_secret: str | None = field(default=None, repr=False)
    protocol: int = 7
    # Issue 17 (docs/scaling.md): PostgreSQL instead of the SQLite file, Redis instead of in-memory
    # live streams (never in repr: the URLs may carry passwords). The lock on a block's answer
    # lapses this long after its worker's last heartbeat; a finished stream stays replayable this long.
    database_url: str | None = field(default=None, repr=False)
    redis_url: str | None = field(default=None, repr=False)
    stream_lock_seconds: float = 20.0
    finished_stream_seconds: float = 300.0
    # Worker processes on one port (SO_REUSEPORT), started by a supervisor (backend/supervisor.py);
    # a worker gets the read end of a pipe from it (EOF: the supervisor is gone, drain and exit).
    workers: int = 1
    supervisor_pipe: int | None = None
    # Issue 19 (docs/security.md): the users file (each token is a user who owns their chats; it
    # replaces --auth-token) and per-user token totals on /metrics (one label value per user).
    users_file: Path | None = None
    metrics_per_user: bool = False

    @property
    def database_path(self) -> Path:
        return self.data_dir / "chatwire.sqlite3"


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _listed(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def is_loopback_host(host: str) -> bool:
    """True for the names and addresses that only this machine can reach."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_auth_token(token: str | None, token_file: Path | None) -> str | None:
    """The API token from the flag/env value or from a file (first line); checked for length."""
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(f"auth token file {token_file}: {type(error).__name__}") from None
    if token is None or token == "":
        return None
    if len(token) < MIN_AUTH_TOKEN_LENGTH:
        raise ConfigError(
            f"the auth token must be at least {MIN_AUTH_TOKEN_LENGTH} characters "
            "(python -c 'import secrets; print(secrets.token_urlsafe(32))' makes a good one)"
        )
    return token


def load_secrets(path: Path | None, environment: Mapping[str, str]) -> Secrets:
    """Environment variables, overridden by a TOML secrets file (``NAME = "value"`` lines)."""
    values = dict(environment)
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"secrets file {path}: {type(error).__name__}") from None
        for name, value in data.items():
            if not isinstance(value, str):
                raise ConfigError(f"secrets file {path}: field '{name}' must be a string")
            values[name] = value
    return Secrets(values)


def parse_settings(argv: Sequence[str] | None = None, environment: Mapping[str, str] | None = None) -> Settings:
    env = dict(os.environ if environment is None else environment)
    parser = argparse.ArgumentParser(prog="python -m backend", description="Chatwire server")
    parser.add_argument("--host", default=env.get(ENVIRONMENT["host"], "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env.get(ENVIRONMENT["port"], "8080")))
    parser.add_argument("--data-dir", type=Path, default=Path(env.get(ENVIRONMENT["data_dir"], "./data")))
    parser.add_argument(
        "--presets-dir", type=Path, default=Path(env.get(ENVIRONMENT["presets_dir"], str(_ROOT / "presets")))
    )
    parser.add_argument("--secrets-file", type=Path, default=env.get(ENVIRONMENT["secrets_file"]))
    parser.add_argument(
        "--frontend-dir",
        type=Path,
        default=Path(env.get(ENVIRONMENT["frontend_dir"], str(_ROOT / "frontend" / "dist"))),
    )
    parser.add_argument("--max-body-mb", type=float, default=float(env.get(ENVIRONMENT["max_body_mb"], "24")))
    parser.add_argument(
        "--keepalive-seconds", type=float, default=float(env.get(ENVIRONMENT["keepalive_seconds"], "15"))
    )
    parser.add_argument(
        "--cancel-on-disconnect",
        action="store_true",
        default=_truthy(env.get(ENVIRONMENT["cancel_on_disconnect"], "")),
    )
    parser.add_argument("--log-level", default=env.get(ENVIRONMENT["log_level"], "INFO"))
    parser.add_argument(
        "--preset-poll-seconds", type=float, default=float(env.get(ENVIRONMENT["preset_poll_seconds"], "2"))
    )
    _add_security_arguments(parser, env)
    _add_operations_arguments(parser, env)
    parser.add_argument("--approval-secret", default=env.get(ENVIRONMENT["approval_secret"]))
    parser.add_argument("--protocol", type=int, choices=(5, 6, 7), default=int(env.get(ENVIRONMENT["protocol"], "7")))
    _add_scaling_arguments(parser, env)
    args = parser.parse_args(argv)
    check_database_url(args.database_url)
    check_workers(args.workers, args.port, args.database_url, args.redis_url)
    if args.approval_secret is not None and len(args.approval_secret) < MIN_AUTH_TOKEN_LENGTH:
        raise ConfigError(f"--approval-secret must be at least {MIN_AUTH_TOKEN_LENGTH} characters long")
    auth_token = read_auth_token(args.auth_token, args.auth_token_file)
    users_file = Path(args.users_file) if args.users_file else None
    if users_file is not None and auth_token is not None:
        raise ConfigError(
            "--users-file and --auth-token are exclusive: with a users file every token is a user's "
            "(add yourself with 'chatwire users add NAME --role admin')"
        )
    if not is_loopback_host(args.host) and auth_token is None and users_file is None and not args.insecure_no_auth:
        raise ConfigError(
            f"refusing to listen on {args.host} without --auth-token: anyone who can reach this address could "
            "spend your API credit and read every conversation. Set --auth-token (or CHATWIRE_AUTH_TOKEN), or "
            "pass --insecure-no-auth if the network is trusted (docs/security.md)."
        )
    secrets_file = Path(args.secrets_file) if args.secrets_file else None
    if secrets_file is not None and args.presets_dir.resolve() in secrets_file.resolve().parents:
        raise ConfigError("the secrets file must live outside the presets directory")
    return Settings(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        presets_dir=args.presets_dir,
        secrets_file=secrets_file,
        frontend_dir=args.frontend_dir,
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
        keepalive_seconds=args.keepalive_seconds,
        cancel_on_disconnect=args.cancel_on_disconnect,
        log_level=args.log_level.upper(),
        preset_poll_seconds=args.preset_poll_seconds,
        secrets=load_secrets(secrets_file, env),
        allowed_hosts=tuple(args.allowed_host),
        cors_origins=tuple(origin.rstrip("/") for origin in args.cors_origin),
        auth_token=auth_token,
        insecure_no_auth=args.insecure_no_auth,
        drain_seconds=args.drain_seconds,
        max_streams=args.max_streams,
        client_requests_per_minute=args.client_requests_per_minute,
        rate_limit_storage=args.rate_limit_storage,
        log_format=args.log_format,
        approval_secret=args.approval_secret,
        protocol=args.protocol,
        database_url=args.database_url or None,
        redis_url=args.redis_url or None,
        stream_lock_seconds=args.stream_lock_seconds,
        finished_stream_seconds=args.finished_stream_seconds,
        workers=args.workers,
        supervisor_pipe=args.supervisor_pipe,
        users_file=users_file,
        metrics_per_user=args.metrics_per_user,
    )


def check_database_url(url: str | None) -> None:
    """Only PostgreSQL URLs; the SQLite file is the default (``--data-dir``)."""
    if url and not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("--database-url must be a postgresql:// URL (without it, SQLite in --data-dir is used)")


def check_workers(workers: int, port: int, database_url: str | None, redis_url: str | None) -> None:
    """Several workers share one port, and must share their state: SQLite files and in-memory
    streams are each process's own, so a resume, a stop or a conversation would depend on which
    worker the kernel picked."""
    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    if workers > 1 and not (database_url and redis_url):
        raise ConfigError(
            "--workers above 1 needs --database-url and --redis-url: with SQLite and in-memory streams each "
            "worker would have its own conversations and live answers (docs/scaling.md)"
        )
    if workers > 1 and port == 0:
        raise ConfigError("--workers above 1 needs a fixed --port (with port 0 each worker would get its own)")


def _add_scaling_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """Issue 17's flags (docs/scaling.md)."""
    parser.add_argument(
        "--database-url",
        default=env.get(ENVIRONMENT["database_url"]),
        help="postgresql://user:password@host:port/database: store in PostgreSQL instead of SQLite",
    )
    parser.add_argument(
        "--redis-url",
        default=env.get(ENVIRONMENT["redis_url"]),
        help="redis://host:port/db: share live streams, stops and the per-block lock between workers",
    )
    parser.add_argument(
        "--stream-lock-seconds",
        type=float,
        default=float(env.get(ENVIRONMENT["stream_lock_seconds"], "20")),
        help="with Redis: a dead worker's block accepts a new message this long after its last heartbeat",
    )
    parser.add_argument(
        "--finished-stream-seconds",
        type=float,
        default=float(env.get(ENVIRONMENT["finished_stream_seconds"], "300")),
        help="with Redis: how long a finished answer's chunks stay replayable",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=int(env.get(ENVIRONMENT["workers"], "1")),
        help="worker processes on one port (SO_REUSEPORT); above 1 needs --database-url and --redis-url",
    )
    # Internal: set by the supervisor on the workers it starts (backend/supervisor.py).
    parser.add_argument("--supervisor-pipe", type=int, default=None, help=argparse.SUPPRESS)


def _add_security_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """Issue 11's flags (docs/security.md); list flags repeat, their variables are comma-separated."""
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=_listed(env.get(ENVIRONMENT["allowed_hosts"], "")),
        help="a Host header name to accept besides the loopback names and the bound address (repeatable)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=_listed(env.get(ENVIRONMENT["cors_origins"], "")),
        help="an origin (scheme://host[:port]) whose pages may call the API (repeatable)",
    )
    parser.add_argument("--auth-token", default=env.get(ENVIRONMENT["auth_token"]))
    parser.add_argument("--auth-token-file", type=Path, default=env.get(ENVIRONMENT["auth_token_file"]))
    parser.add_argument(
        "--insecure-no-auth",
        action="store_true",
        default=_truthy(env.get(ENVIRONMENT["insecure_no_auth"], "")),
        help="allow a non-loopback --host without an auth token (logs a warning)",
    )
    parser.add_argument(
        "--users-file",
        default=env.get(ENVIRONMENT["users_file"]),
        help="TOML users file (chatwire users add NAME): each token is a user who sees only their own chats",
    )
    parser.add_argument(
        "--metrics-per-user",
        action="store_true",
        default=_truthy(env.get(ENVIRONMENT["metrics_per_user"], "")),
        help="expose per-user token totals on /metrics (one label value per user)",
    )


def _add_operations_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """Drain, limits and logs (docs/operations.md)."""
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=float(env.get(ENVIRONMENT["drain_seconds"], "20")),
        help="after SIGTERM/SIGINT, how long answers in flight may finish before they are stopped and saved",
    )
    parser.add_argument(
        "--max-streams",
        type=int,
        default=int(env.get(ENVIRONMENT["max_streams"], "2000")),
        help="concurrent answers in this process; past it, new chats get 503 (0: no limit)",
    )
    parser.add_argument(
        "--client-requests-per-minute",
        type=int,
        default=int(env.get(ENVIRONMENT["client_requests_per_minute"], "0")),
        help="chat requests per minute per client (auth token, else remote address); 0: no limit",
    )
    parser.add_argument(
        "--rate-limit-storage",
        default=env.get(ENVIRONMENT["rate_limit_storage"], "memory://"),
        help="where rate-limit counts live: memory:// (this process) or redis://host:port (shared)",
    )
    parser.add_argument("--log-format", choices=("text", "json"), default=env.get(ENVIRONMENT["log_format"], "text"))
