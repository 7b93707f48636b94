"""Users of a shared server (issue 19): the users file, its hashes, and who a token is.

The users file (``--users-file``, TOML) names each user, the SHA-256 of their token (never the
token), their role, an optional preset allowlist and optional budgets::

    [users.alice]
    token_sha256 = "<hex sha-256 of alice's token>"
    role = "admin"                      # "admin" or "user" (default "user")
    presets = ["default"]               # optional allowlist; absent = every preset
    requests_per_minute = 30            # optional, on top of the server's limits
    tokens_per_minute = 200000          # optional

This module is pure (standard library, pydantic and tomlkit): the server reads the file through
:class:`UserDirectory` (reloaded like the presets, so a token is added, rotated or revoked without a
restart) and the ``chatwire users`` command edits it with :func:`add_user` / :func:`remove_user`.
Both may import it; nothing here imports the server (docs/architecture.md).

Without a users file there is one :data:`IMPLICIT_USER`: whoever holds ``--auth-token`` (or anyone
on loopback without one), as before. It owns everything stored before users existed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import tomlkit
from pydantic import BaseModel, ConfigDict, Field, ValidationError

logger = logging.getLogger(__name__)

# No ':' (it separates the owner in live-stream keys) and nothing a path or a label would mangle.
USER_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# The single user of a server without a users file; the migrations give it every older row, so
# naming a user "default" in a users file hands them the single-user conversations.
IMPLICIT_USER_NAME = "default"
TOKEN_PREFIX = "cw_"
_SESSION_CONTEXT = b"chatwire-session-v1"

Role = Literal["admin", "user"]


class UsersFileError(Exception):
    """The users file cannot be read or is not valid; the message says where and why."""


class UserEntry(BaseModel):
    """One ``[users.NAME]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    role: Role = "user"
    presets: list[str] | None = None
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)


class UsersFileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    users: dict[str, UserEntry] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class User:
    """Who a request is: the owner of what it stores, and what it may use."""

    name: str
    role: Role = "user"
    presets: frozenset[str] | None = None  # the allowlist; None = every preset
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    implicit: bool = False  # the single user of a server without a users file

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def allows(self, preset: str) -> bool:
        return self.presets is None or preset in self.presets

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role,
            "presets": None if self.presets is None else sorted(self.presets),
            "requestsPerMinute": self.requests_per_minute,
            "tokensPerMinute": self.tokens_per_minute,
            "implicit": self.implicit,
        }


IMPLICIT_USER = User(IMPLICIT_USER_NAME, role="admin", implicit=True)


def hash_token(token: str) -> str:
    """The hex SHA-256 the users file keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A strong random token (256 bits), recognisable by its prefix in logs and secret scanners."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def session_value(token_sha256: str) -> str:
    """The UI session cookie of the user with this token hash. Derived from the hash, so the server
    never needs the token itself; a rotated token changes it, which ends the old sessions."""
    return hmac.new(bytes.fromhex(token_sha256), _SESSION_CONTEXT, hashlib.sha256).hexdigest()


def _user(name: str, entry: UserEntry) -> User:
    return User(
        name=name,
        role=entry.role,
        presets=None if entry.presets is None else frozenset(entry.presets),
        requests_per_minute=entry.requests_per_minute,
        tokens_per_minute=entry.tokens_per_minute,
    )


def parse_users(text: str, source: str) -> dict[str, tuple[UserEntry, User]]:
    """The users of a file's text, by name (``UsersFileError`` if it is not valid)."""
    try:
        model = UsersFileModel.model_validate(tomlkit.parse(text).unwrap())
    except (tomlkit.exceptions.TOMLKitError, ValidationError) as error:
        raise UsersFileError(f"{source}: {error}") from None
    seen: dict[str, str] = {}
    users: dict[str, tuple[UserEntry, User]] = {}
    for name, entry in model.users.items():
        if not USER_NAME_PATTERN.match(name):
            raise UsersFileError(f"{source}: user name {name!r}: use 1-64 characters from A-Z, a-z, 0-9, '_', '-'.")
        if entry.token_sha256 in seen:
            raise UsersFileError(f"{source}: users {seen[entry.token_sha256]!r} and {name!r} share a token.")
        seen[entry.token_sha256] = name
        users[name] = (entry, _user(name, entry))
    return users


def read_users(path: Path) -> dict[str, tuple[UserEntry, User]]:
    """The users in ``path``; a missing file has none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise UsersFileError(f"{path}: {error.strerror or error}") from None
    return parse_users(text, str(path))


class UserDirectory:
    """The users of a running server, replaced whole on reload (a bad edit keeps the old ones).

    Tokens and session cookies are looked up by their SHA-256, so the lookup never compares the
    secret itself byte by byte.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.last_error: str | None = None
        self._by_token: dict[str, User] = {}
        self._by_session: dict[str, User] = {}
        self.users: dict[str, User] = {}
        self._fingerprint = self._scan()
        self._load()

    def _scan(self) -> str | None:
        # The content's hash, not the modification time: a rotated token has the same size, and two
        # writes within the file system's time granularity would look unchanged. The file is small.
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except FileNotFoundError:
            return None

    def _load(self) -> None:
        entries = read_users(self.path)
        self.users = {name: user for name, (_, user) in entries.items()}
        self._by_token = {entry.token_sha256: user for entry, user in entries.values()}
        self._by_session = {hash_token(session_value(entry.token_sha256)): user for entry, user in entries.values()}

    def reload_if_changed(self) -> bool:
        """Reload when the file changed; True if the users were replaced. Never raises."""
        try:
            fingerprint = self._scan()
            if fingerprint == self._fingerprint:
                return False
            self._load()
        except (OSError, UsersFileError) as error:
            logger.error("users file reload failed, keeping the previous users: %s", error)
            self.last_error = str(error)
            return False
        self._fingerprint = fingerprint
        self.last_error = None
        logger.info("users reloaded: %d users", len(self.users))
        return True

    def by_token(self, token: str) -> User | None:
        return self._by_token.get(hash_token(token)) if token else None

    def by_session(self, cookie: str) -> User | None:
        return self._by_session.get(hash_token(cookie)) if cookie else None

    def session_for(self, token: str) -> str | None:
        """The session cookie value for a valid token (``/?token=`` sign-in), else None."""
        return session_value(hash_token(token)) if self.by_token(token) is not None else None


# ---- editing the file (``chatwire users``) --------------------------------------------------


def _document(path: Path) -> tomlkit.TOMLDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return tomlkit.document()
    parse_users(text, str(path))  # refuse to edit a file the server would refuse
    return tomlkit.parse(text)


def _write(path: Path, document: tomlkit.TOMLDocument) -> None:
    """Atomically (a reload never sees half a file), readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".users-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(tomlkit.dumps(document))
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def add_user(path: Path, name: str, role: Role = "user", *, replace: bool = False) -> str:
    """Add ``name`` (or give them a new token, with ``replace``) and return the token, which is
    stored nowhere: only its hash goes into the file."""
    if not USER_NAME_PATTERN.match(name):
        raise UsersFileError(f"user name {name!r}: use 1-64 characters from A-Z, a-z, 0-9, '_', '-'.")
    document = _document(path)
    users = document.setdefault("users", tomlkit.table(is_super_table=True))
    token = new_token()
    if name in users:
        if not replace:
            raise UsersFileError(f"user {name!r} already exists (use 'chatwire users rotate {name}').")
        users[name]["token_sha256"] = hash_token(token)
    else:
        table = tomlkit.table()
        table.add("token_sha256", hash_token(token))
        table.add("role", role)
        users[name] = table
    _write(path, document)
    return token


def remove_user(path: Path, name: str) -> bool:
    document = _document(path)
    users = document.get("users")
    if users is None or name not in users:
        return False
    del users[name]
    _write(path, document)
    return True


def list_users(path: Path) -> list[User]:
    return [user for _, user in read_users(path).values()]
