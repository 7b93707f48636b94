"""Five-layer preset resolution and its provenance map (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.errors import ConfigError, RequestError
from backend.presets import Preset, load_presets
from backend.resolve import FieldOverrides, Layer, metadata_overrides, parse_overrides, resolve
from tests.conftest import write_preset


@pytest.fixture
def presets(tmp_path: Path) -> dict[str, Preset]:
    write_preset(
        tmp_path,
        "default",
        """
        provider = "anthropic"
        model = "claude-default"
        max_tokens = 1000
        system = "default system"
        """,
    )
    write_preset(
        tmp_path,
        "coding",
        """
        extends = "default"
        model = "claude-coding"
        temperature = 0.2
        allow_system_override = true
        [thinking]
        enabled = true
        budget_tokens = 2048
        """,
    )
    write_preset(
        tmp_path,
        "fast",
        """
        provider = "openai"
        model = "gpt-fast"
        """,
    )
    return load_presets(tmp_path)


def layer(name: str, **values: object) -> Layer:
    return Layer(name, FieldOverrides.model_validate(values))  # type: ignore[arg-type]


def test_default_when_nothing_names_a_preset(presets: dict[str, Preset]) -> None:
    resolved = resolve([layer("request"), layer("block"), layer("global")], presets)
    assert resolved.name == "default" and resolved.model == "claude-default"
    assert resolved.provenance == {
        "preset": "default",
        "provider": "default",
        "model": "default",
        "maxTokens": "default",
        "system": "default",
        "thinking": "default",
    }


@pytest.mark.parametrize(
    ("layers", "expected_preset", "expected_layer"),
    [
        (
            [layer("request", preset="fast"), layer("url", preset="coding"), layer("block", preset="default")],
            "fast",
            "request",
        ),
        ([layer("request"), layer("url", preset="coding"), layer("block", preset="fast")], "coding", "url"),
        ([layer("request"), layer("block", preset="fast"), layer("global", preset="coding")], "fast", "block"),
        ([layer("request"), layer("block"), layer("global", preset="coding")], "coding", "global"),
    ],
)
def test_preset_name_comes_from_the_highest_layer(
    presets: dict[str, Preset], layers: list[Layer], expected_preset: str, expected_layer: str
) -> None:
    resolved = resolve(layers, presets)
    assert resolved.name == expected_preset
    assert resolved.provenance["preset"] == expected_layer
    assert resolved.provenance["model"] == expected_layer


def test_field_overrides_and_provenance(presets: dict[str, Preset]) -> None:
    resolved = resolve(
        [
            layer("request", temperature=0.9),
            layer("url", preset="coding"),
            layer("block", model="ignored-below-url", maxTokens=5),
            layer("global"),
        ],
        presets,
    )
    assert resolved.model == "claude-coding" and resolved.provenance["model"] == "url"
    assert resolved.temperature == 0.9 and resolved.provenance["temperature"] == "request"
    assert resolved.max_tokens == 1000 and resolved.provenance["maxTokens"] == "url"
    assert resolved.thinking.enabled and resolved.thinking.budget_tokens == 2048
    assert resolved.describe()["resolvedFrom"]["temperature"] == "request"


def test_block_overrides_apply_over_global_and_default(presets: dict[str, Preset]) -> None:
    resolved = resolve(
        [layer("request"), layer("block", model="claude-block"), layer("global", temperature=0.5)], presets
    )
    assert resolved.model == "claude-block" and resolved.provenance["model"] == "block"
    assert resolved.temperature == 0.5 and resolved.provenance["temperature"] == "global"


def test_thinking_override_is_merged_key_by_key(presets: dict[str, Preset]) -> None:
    resolved = resolve([layer("request", thinking={"budgetTokens": 4096}), layer("url", preset="coding")], presets)
    assert resolved.thinking.enabled and resolved.thinking.budget_tokens == 4096
    assert resolved.provenance["thinking"] == "request"


def test_unknown_preset_names_the_layer(presets: dict[str, Preset]) -> None:
    with pytest.raises(RequestError) as caught:
        resolve([layer("request"), layer("block", preset="gone")], presets)
    assert "gone" in caught.value.public_message and "block" in caught.value.public_message
    assert caught.value.details["available"] == ["coding", "default", "fast"]


@pytest.mark.parametrize("field", ["provider", "baseUrl", "base_url", "apiKey", "headers", "tools", "api_key_env"])
def test_requests_cannot_set_dangerous_fields(field: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse_overrides({field: "x"}, "request", key_prefix="options.")
    assert caught.value.code == "option_not_allowed" and f"options.{field}" in caught.value.public_message


def test_unknown_and_invalid_options_are_400() -> None:
    with pytest.raises(RequestError, match=r"Unknown option options\.colour"):
        parse_overrides({"colour": "red"}, "request", key_prefix="options.")
    with pytest.raises(RequestError, match="temperature"):
        parse_overrides({"temperature": 7}, "request", key_prefix="options.")


def test_system_override_needs_permission(presets: dict[str, Preset]) -> None:
    with pytest.raises(RequestError, match="allow_system_override"):
        resolve([layer("request", system="be evil")], presets)
    resolved = resolve([layer("request", system="terse", preset="coding")], presets)
    assert resolved.system == "terse" and resolved.provenance["system"] == "request"


def test_metadata_keys_use_the_ai_prefix() -> None:
    overrides = metadata_overrides({"ai:preset": "fast", "ai:model": "m", "theme": "dark"}, "block")
    assert overrides.preset == "fast" and overrides.model == "m"
    with pytest.raises(RequestError, match="ai:provider"):
        metadata_overrides({"ai:provider": "openai"}, "global")


def test_invalid_preset_file_names_file_and_field(tmp_path: Path) -> None:
    write_preset(tmp_path, "default", 'provider = "anthropic"\nmodel = "m"\n')
    write_preset(tmp_path, "broken", 'provider = "anthropic"\nmodel = "m"\nmax_tokens = "lots"\n')
    with pytest.raises(ConfigError) as caught:
        load_presets(tmp_path)
    assert "broken.toml" in caught.value.public_message and "max_tokens" in caught.value.public_message


def test_unknown_keys_and_providers_and_cycles_fail(tmp_path: Path) -> None:
    write_preset(tmp_path, "default", 'provider = "anthropic"\nmodel = "m"\napi_key = "sk-nope"\n')
    with pytest.raises(ConfigError, match="api_key"):
        load_presets(tmp_path)
    write_preset(tmp_path, "default", 'provider = "cohere"\nmodel = "m"\n')
    with pytest.raises(ConfigError, match="unknown provider"):
        load_presets(tmp_path)
    write_preset(tmp_path, "default", 'extends = "a"\n')
    write_preset(tmp_path, "a", 'extends = "default"\nprovider = "anthropic"\nmodel = "m"\n')
    with pytest.raises(ConfigError, match="cycle"):
        load_presets(tmp_path)


def test_missing_default_preset_fails(tmp_path: Path) -> None:
    write_preset(tmp_path, "other", 'provider = "anthropic"\nmodel = "m"\n')
    with pytest.raises(ConfigError, match="default"):
        load_presets(tmp_path)


def test_shipped_presets_are_valid() -> None:
    presets = load_presets(Path(__file__).parent.parent / "presets")
    assert "default" in presets
