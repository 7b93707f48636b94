"""Preset files: one TOML file per preset in the presets directory, validated at load time.

``<name>.toml`` defines preset ``name`` (``default.toml`` is ``default``). ``extends = "other"``
inherits another preset's fields (tables are merged key by key). Every file is validated with
pydantic (unknown keys are errors), and a bad file fails loading with the file name and the
field. API keys are never in a preset: ``api_key_env`` names the environment variable (or a key
in the secrets file) that holds it. See docs/presets.md.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backend.errors import ConfigError, ErrorCategory
from backend.providers.base import ProviderSpec, ThinkingSettings
from backend.providers.registry import PROVIDERS, provider_names

logger = logging.getLogger(__name__)

PRESET_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
_STRICT = ConfigDict(extra="forbid", frozen=True)


class ThinkingTable(BaseModel):
    model_config = _STRICT
    enabled: bool = False
    budget_tokens: int | None = Field(default=None, ge=0)
    effort: Literal["minimal", "low", "medium", "high", "xhigh", "max"] | None = None


class McpServerTable(BaseModel):
    """An MCP server whose tools become server-side tools: a stdio command or a streamable HTTP URL."""

    model_config = _STRICT
    name: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,32}$")
    command: tuple[str, ...] = ()
    url: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    approval_required: bool = False

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerTable:
        if bool(self.command) == bool(self.url):
            raise ValueError(f"mcp server '{self.name}': set exactly one of 'command' and 'url'")
        if self.url and self.env:
            raise ValueError(f"mcp server '{self.name}': 'env' applies only to a 'command' server")
        return self


class BuiltinToolOptions(BaseModel):
    """Settings of the built-in tools (docs/tools.md); all off unless listed in ``tools``."""

    model_config = _STRICT
    read_file_root: str | None = None
    fetch_allowed_hosts: tuple[str, ...] = ()
    # Issue 11: fetch_url refuses loopback/private/link-local/metadata addresses unless this is set.
    fetch_allow_private: bool = False
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)


class TimeoutsTable(BaseModel):
    """Upstream timeouts (docs/presets.md): a hung provider must not hold a block for minutes."""

    model_config = _STRICT
    # Opening the connection (TCP + TLS) to the provider.
    connect_seconds: float = Field(default=10.0, gt=0, le=300)
    # No event from the provider for this long ends the attempt (retried like a 5xx before output).
    # A slow reasoning model that thinks silently may need more.
    idle_seconds: float = Field(default=90.0, gt=0, le=3600)
    # The whole answer, every step and retry included.
    total_seconds: float = Field(default=900.0, gt=0, le=86400)


# Failures a fallback preset answers for: the provider is busy, failing or unreachable, or the
# conversation outgrew this model's context window (a larger one may take it).
DEFAULT_FALLBACK_ON: tuple[ErrorCategory, ...] = ("overloaded", "rate_limited", "upstream", "network", "context_length")


class PresetFile(BaseModel):
    """The validated content of one preset file (after ``extends`` is applied)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    provider: str
    model: str = Field(min_length=1)
    description: str = ""
    base_url: str | None = None
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    max_tokens: int = Field(default=4096, ge=1)
    system: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    thinking: ThinkingTable = ThinkingTable()
    # What a request (a web page) may change; see docs/presets.md "Safety".
    allow_system_override: bool = False
    allow_client_tools: bool = True
    # Server-side tools (by registry name) and the step limit of the tool loop.
    tools: tuple[str, ...] = ()
    approval_required: tuple[str, ...] = ()
    max_steps: int = Field(default=8, ge=1, le=100)
    mcp_servers: tuple[McpServerTable, ...] = ()
    tool_options: BuiltinToolOptions = BuiltinToolOptions()
    headers: dict[str, str] = Field(default_factory=dict)
    # Presets that continue the answer, in order, once this one's retries are spent on one of
    # ``fallback_on`` (docs/presets.md "Fallbacks").
    fallbacks: tuple[str, ...] = ()
    fallback_on: tuple[ErrorCategory, ...] = DEFAULT_FALLBACK_ON
    # The ai major of the apps using this preset, when a request does not say (docs/api.md).
    protocol: Literal[5, 6, 7] | None = None
    # Secrets other than ``api_key`` a provider names (``ProviderSpec.credentials``): name → variable.
    credentials_env: dict[str, Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]] = Field(default_factory=dict)
    timeouts: TimeoutsTable = TimeoutsTable()
    # Optional budgets for everyone using this preset (docs/operations.md): requests and tokens per minute.
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        if value not in provider_names():
            raise ValueError(f"unknown provider {value!r}; known: {', '.join(provider_names())}")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value

    def credential_env(self, name: str) -> str | None:
        """The variable (or secrets-file key) holding credential ``name``, if the preset names one."""
        if name == "api_key" and self.api_key_env is not None:
            return self.api_key_env
        return self.credentials_env.get(name)

    def thinking_settings(self) -> ThinkingSettings:
        return ThinkingSettings(self.thinking.enabled, self.thinking.budget_tokens, self.thinking.effort)


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    path: Path
    file: PresetFile
    # Provider tables (``[anthropic]``, ``[openai-chat]``...), each validated by its provider's model.
    provider_tables: Mapping[str, BaseModel] = field(default_factory=dict)

    @property
    def spec(self) -> ProviderSpec:
        return PROVIDERS[self.file.provider]

    def provider_options(self) -> dict[str, dict[str, Any]]:
        """The preset's provider's own knobs, keyed by its table, as ``ModelCall.provider_options`` wants."""
        table = self.provider_tables.get(self.spec.table)
        return {self.spec.table: table.model_dump(exclude_none=True) if table is not None else {}}


def _merge(base: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _describe(error: ValidationError, prefix: str = "") -> str:
    parts = []
    for item in error.errors()[:5]:
        name = ".".join((prefix, *(str(location) for location in item["loc"]))) if prefix else ""
        name = name or ".".join(str(location) for location in item["loc"]) or "(file)"
        parts.append(f"field '{name}': {item['msg']}")
    return "; ".join(parts)


def _provider_tables(path: Path, data: dict[str, Any]) -> dict[str, BaseModel]:
    """Take every provider's table out of ``data`` and validate it with that provider's model
    (a preset may carry tables for other providers, e.g. in a shared parent)."""
    tables: dict[str, BaseModel] = {}
    for spec in PROVIDERS.values():
        raw = data.pop(spec.table, None)
        if raw is None:
            continue
        try:
            tables[spec.table] = spec.options.model_validate(raw)
        except ValidationError as error:
            raise ConfigError(f"{path.name}: {_describe(error, spec.table)}") from None
    return tables


def _check_tools(path: Path, file: PresetFile, known_tools: tuple[str, ...]) -> None:
    """Tool names must be built-ins or ``<mcp server>__<tool>`` of one of the preset's servers."""
    prefixes = tuple(f"{server.name}__" for server in file.mcp_servers)
    for table_field, names in (("tools", file.tools), ("approval_required", file.approval_required)):
        for name in names:
            if name not in known_tools and not name.startswith(prefixes):
                raise ConfigError(
                    f"{path.name}: field '{table_field}': unknown tool {name!r}; built-in tools: "
                    f"{', '.join(known_tools) or '(none)'}"
                )


def load_presets(directory: Path, known_tools: tuple[str, ...] | None = None) -> dict[str, Preset]:
    """Load and validate every ``*.toml`` in ``directory``. Raises ``ConfigError`` naming file+field."""
    if not directory.is_dir():
        raise ConfigError(f"presets directory {directory} does not exist")
    raw: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in sorted(directory.glob("*.toml")):
        name = path.stem
        try:
            raw[name] = (path, tomllib.loads(path.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path.name}: invalid TOML: {error}") from None
    presets: dict[str, Preset] = {}
    for name, (path, _) in raw.items():
        if not re.match(PRESET_NAME_PATTERN, name):
            raise ConfigError(f"{path.name}: preset names may use letters, digits, '_', '-', '.' (max 64)")
        data = _resolve_extends(name, raw, ())
        tables = _provider_tables(path, data)
        try:
            presets[name] = Preset(name, path, PresetFile.model_validate(data), tables)
        except ValidationError as error:
            raise ConfigError(f"{path.name}: {_describe(error)}") from None
        if known_tools is not None:
            _check_tools(path, presets[name].file, known_tools)
    if "default" not in presets:
        raise ConfigError(f"{directory}: no default.toml (the 'default' preset is required)")
    for preset in presets.values():
        _check_fallbacks(preset, presets)
    return presets


def _check_fallbacks(preset: Preset, presets: Mapping[str, Preset]) -> None:
    for name in preset.file.fallbacks:
        if name not in presets:
            raise ConfigError(f"{preset.path.name}: field 'fallbacks': unknown preset {name!r}")
        if name == preset.name:
            raise ConfigError(f"{preset.path.name}: field 'fallbacks': a preset cannot fall back to itself")


def _resolve_extends(
    name: str, raw: Mapping[str, tuple[Path, dict[str, Any]]], seen: tuple[str, ...]
) -> dict[str, Any]:
    path, data = raw[name]
    if name in seen:
        raise ConfigError(f"{path.name}: field 'extends': inheritance cycle {' -> '.join((*seen, name))}")
    parent = data.get("extends")
    own = {key: value for key, value in data.items() if key != "extends"}
    if parent is None:
        return own
    if not isinstance(parent, str) or parent not in raw:
        raise ConfigError(f"{path.name}: field 'extends': unknown preset {parent!r}")
    return _merge(_resolve_extends(parent, raw, (*seen, name)), own)
