"""Read-only views of the configuration for front doors: the presets, a block's resolved
configuration, and the check on ``ai:*`` settings before they are stored."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backend.chat.prepare import TurnServices, request_layers
from backend.errors import RequestError
from backend.resolve import metadata_overrides, resolve
from backend.users import User


def _modified_at(path: Path) -> int:
    """The preset file's modification time (epoch seconds; 0 if it is gone)."""
    try:
        return int(path.stat().st_mtime)
    except OSError:
        return 0


class ConfigViews:
    def __init__(self, services: TurnServices) -> None:
        self._services = services

    async def preview(
        self, user: User, block_id: str, url_preset: str | None, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The effective configuration of the user's block's next answer, where each field came
        from, and whether the user may use its preset."""
        layers = await request_layers(self._services.store.for_user(user.name), block_id, options, url_preset)
        resolved = resolve(layers, self._services.presets.presets)
        return {
            **resolved.describe(),
            "maxTokens": resolved.max_tokens,
            "temperature": resolved.temperature,
            "topP": resolved.top_p,
            "systemPromptSet": resolved.system is not None,
            "allowed": user.allows(resolved.name),
            "thinking": {
                "enabled": resolved.thinking.enabled,
                "budgetTokens": resolved.thinking.budget_tokens,
                "effort": resolved.thinking.effort,
            },
        }

    def presets_overview(self, user: User) -> list[dict[str, Any]]:
        """The presets ``user`` may use (their allowlist, if they have one)."""
        secrets_ = self._services.settings.secrets
        return [
            {
                "name": preset.name,
                "description": preset.file.description,
                "provider": preset.file.provider,
                "model": preset.file.model,
                "apiKeyPresent": all(
                    secrets_.get(variable) is not None
                    for variable in (preset.file.credential_env(name) for name in preset.spec.credentials)
                    if variable is not None
                ),
                "thinking": preset.file.thinking.enabled,
                "tools": list(preset.file.tools),
                "modifiedAt": _modified_at(preset.path),
            }
            for preset in sorted(self._services.presets.presets.values(), key=lambda p: p.name)
            if user.allows(preset.name)
        ]

    def check_ai_settings(self, payload: Mapping[str, Any]) -> None:
        """Reject ``ai:*`` values that would break every later chat of the block (bad preset, bad field)."""
        kept = {key: value for key, value in payload.items() if key.startswith("ai:") and value is not None}
        overrides = metadata_overrides(kept, "block")
        presets = self._services.presets.presets
        if overrides.preset is not None and overrides.preset not in presets:
            raise RequestError(
                f"Unknown preset '{overrides.preset}' in ai:preset. Available presets: {', '.join(sorted(presets))}.",
                code="unknown_preset",
            )
