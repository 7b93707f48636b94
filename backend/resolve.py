"""Five-layer resolution of the AI configuration, with per-field provenance.

Layers, highest first: ``request`` (body ``options``, then ``X-AI-*`` headers) > ``url``
(``?preset=``) > ``block`` (the block's metadata ``ai:*`` keys) > ``global`` (settings ``ai:*``)
> ``default`` (the ``default`` preset). The preset *name* is taken from the highest layer that
names one. Each field then comes from the highest layer that supplies it, where a layer
supplies a field by an explicit override (``options.model``, ``ai:model``) or, for the layer that
chose the preset, by the preset file's value. ``provenance`` records that layer per field.

Requests may only change what is safe for a web page to change: never the provider, base URL,
API key, headers or server tools (a page must not be able to send your key elsewhere); the
system prompt only if the preset sets ``allow_system_override``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backend.errors import RequestError
from backend.presets import Preset
from backend.providers.base import ThinkingSettings

LayerName: TypeAlias = Literal["request", "url", "block", "global", "default"]

# Fields a request can never set, whatever the preset says.
FORBIDDEN_OPTIONS = frozenset(
    {
        "provider",
        "baseUrl",
        "base_url",
        "apiKey",
        "api_key",
        "apiKeyEnv",
        "api_key_env",
        "headers",
        "tools",
        "serverTools",
        "mcp",
    }
)


class ThinkingOverride(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool | None = None
    budgetTokens: int | None = Field(default=None, ge=0)
    effort: Literal["minimal", "low", "medium", "high", "xhigh", "max"] | None = None


class FieldOverrides(BaseModel):
    """Per-field overrides a layer may carry (request ``options``, or ``ai:*`` metadata keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    preset: str | None = None
    model: str | None = Field(default=None, min_length=1, max_length=200)
    temperature: float | None = Field(default=None, ge=0, le=2)
    maxTokens: int | None = Field(default=None, ge=1, le=1_000_000)
    topP: float | None = Field(default=None, ge=0, le=1)
    thinking: ThinkingOverride | None = None
    system: str | None = Field(default=None, max_length=100_000)


NO_OVERRIDES: Final = FieldOverrides()


@dataclass(frozen=True, slots=True)
class Layer:
    name: LayerName
    overrides: FieldOverrides = field(default_factory=FieldOverrides)


@dataclass(frozen=True, slots=True)
class ResolvedPreset:
    preset: Preset
    model: str
    max_tokens: int
    temperature: float | None
    top_p: float | None
    system: str | None
    thinking: ThinkingSettings
    provenance: dict[str, LayerName]

    @property
    def name(self) -> str:
        return self.preset.name

    @property
    def provider(self) -> str:
        return self.preset.file.provider

    def describe(self) -> dict[str, Any]:
        """The public view (metadata and the resolve endpoint). No secrets."""
        return {
            "preset": self.name,
            "provider": self.provider,
            "model": self.model,
            "resolvedFrom": dict(self.provenance),
        }


def parse_overrides(data: Mapping[str, Any], layer: LayerName, *, key_prefix: str = "") -> FieldOverrides:
    """Validate a layer's overrides; 400 naming the field (forbidden and unknown alike)."""
    if not data:
        return NO_OVERRIDES  # most layers of most requests: no validation to run
    for key in data:
        if key in FORBIDDEN_OPTIONS:
            raise RequestError(
                f"{key_prefix}{key} cannot be set by a request; it is fixed by the preset.",
                code="option_not_allowed",
                details={"field": f"{key_prefix}{key}", "layer": layer},
            )
    try:
        return FieldOverrides.model_validate(dict(data))
    except ValidationError as error:
        item = error.errors()[0]
        name = ".".join(str(part) for part in item["loc"])
        code = "unknown_option" if item["type"] == "extra_forbidden" else "invalid_option"
        message = (
            f"Unknown option {key_prefix}{name}"
            if code == "unknown_option"
            else (f"Invalid option {key_prefix}{name}: {item['msg']}")
        )
        raise RequestError(message, code=code, details={"field": f"{key_prefix}{name}", "layer": layer}) from None


# What a third-party UI's ``callSettings`` (assistant-ui's body) may carry: the sampling fields
# Chatwire has. The rest are refused like unknown ``options`` (no silent change of behaviour).
CALL_SETTINGS = frozenset({"temperature", "maxTokens", "topP"})


def parse_call_settings(data: Mapping[str, Any]) -> dict[str, Any]:
    """``callSettings`` (assistant-ui's body field) as request-layer overrides, checked by the rules
    of ``options``: ``headers`` and the other forbidden fields 400 ``option_not_allowed``, fields
    Chatwire does not have (``seed``, ``presencePenalty``, …) 400 ``unknown_option``."""
    for key in data:
        if key not in CALL_SETTINGS and key not in FORBIDDEN_OPTIONS:
            raise RequestError(
                f"Unsupported call setting callSettings.{key} (Chatwire takes {', '.join(sorted(CALL_SETTINGS))}).",
                code="unknown_option",
                details={"field": f"callSettings.{key}", "layer": "request"},
            )
    values = {key: value for key, value in data.items() if value is not None}
    return parse_overrides(values, "request", key_prefix="callSettings.").model_dump(exclude_unset=True)


def metadata_overrides(metadata: Mapping[str, Any], layer: LayerName) -> FieldOverrides:
    """``{"ai:preset": .., "ai:model": ..}`` (block metadata / global settings) → overrides."""
    ai_keys = {key.removeprefix("ai:"): value for key, value in metadata.items() if key.startswith("ai:")}
    try:
        return parse_overrides(ai_keys, layer, key_prefix="ai:")
    except RequestError as error:
        # Stored data is not the client's fault in this request: say where it lives.
        raise RequestError(
            f"{error.public_message} (in {layer} settings)", code=error.code, details=error.details
        ) from None


def _unknown_preset(name: str, layer: LayerName, presets: Mapping[str, Preset]) -> RequestError:
    return RequestError(
        f"Unknown preset '{name}' (from the {layer} layer). Available presets: {', '.join(sorted(presets))}.",
        code="unknown_preset",
        details={"preset": name, "layer": layer, "available": sorted(presets)},
    )


DEFAULT_LAYER: Final = Layer("default", FieldOverrides(preset="default"))


def resolve(layers: list[Layer], presets: Mapping[str, Preset]) -> ResolvedPreset:
    """Resolve ``layers`` (highest first; a ``default`` layer is appended) against ``presets``."""
    ordered = [*layers, DEFAULT_LAYER]
    chooser = next(layer for layer in ordered if layer.overrides.preset is not None)
    name = chooser.overrides.preset
    assert name is not None
    if name not in presets:
        raise _unknown_preset(name, chooser.name, presets)
    preset = presets[name]
    file = preset.file
    provenance: dict[str, LayerName] = {"preset": chooser.name, "provider": chooser.name}
    considered = ordered[: ordered.index(chooser) + 1]

    def pick(option: str, preset_value: Any) -> Any:
        for layer in considered:
            value = getattr(layer.overrides, option)
            if value is not None:
                provenance[option] = layer.name
                return value
        if preset_value is not None:
            provenance[option] = chooser.name
        return preset_value

    model = pick("model", file.model)
    max_tokens = pick("maxTokens", file.max_tokens)
    temperature = pick("temperature", file.temperature)
    top_p = pick("topP", file.top_p)
    system = _pick_system(considered, file.allow_system_override, file.system, chooser.name, provenance)
    thinking = _pick_thinking(considered, preset, chooser.name, provenance)
    return ResolvedPreset(preset, model, max_tokens, temperature, top_p, system, thinking, provenance)


def _pick_system(
    layers: list[Layer],
    allowed: bool,
    preset_system: str | None,
    chooser: LayerName,
    provenance: dict[str, LayerName],
) -> str | None:
    for layer in layers:
        if layer.overrides.system is not None:
            if not allowed:
                raise RequestError(
                    "system cannot be overridden: this preset does not allow it (allow_system_override = false).",
                    code="option_not_allowed",
                    details={"field": "system", "layer": layer.name},
                )
            provenance["system"] = layer.name
            return layer.overrides.system
    if preset_system is not None:
        provenance["system"] = chooser
    return preset_system


def _pick_thinking(
    layers: list[Layer], preset: Preset, chooser: LayerName, provenance: dict[str, LayerName]
) -> ThinkingSettings:
    base = preset.file.thinking_settings()
    enabled, budget, effort = base.enabled, base.budget_tokens, base.effort
    source: LayerName = chooser
    # Apply lowest layer first so higher layers win key by key.
    for layer in reversed(layers):
        override = layer.overrides.thinking
        if override is None:
            continue
        source = layer.name
        enabled = override.enabled if override.enabled is not None else enabled
        budget = override.budgetTokens if override.budgetTokens is not None else budget
        effort = override.effort if override.effort is not None else effort
    provenance["thinking"] = source
    return ThinkingSettings(enabled, budget, effort)
