"""A real Chatwire server (on 127.0.0.1) whose presets point at the fake upstream, one per
provider and recorded case, for the official OpenAI and Anthropic SDKs to talk to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from aiohttp.test_utils import TestClient

from backend.app import create_app
from tests.conftest import make_settings, write_preset
from tests.upstream import FakeUpstream

AUTH_TOKEN = "chatwire-gateway-token-0123456789"
GATEWAY_PRESETS: dict[str, tuple[str, str, str]] = {
    # preset: (provider, fixture folder, case)
    "claude": ("anthropic", "anthropic", "text_basic"),
    "claude-thinking": ("anthropic", "anthropic", "thinking_text"),
    "claude-tools": ("anthropic", "anthropic", "thinking_tool_use"),
    "claude-cache": ("anthropic", "anthropic", "text_cache_usage"),
    "claude-midstream": ("anthropic", "anthropic", "midstream_error_overloaded"),
    "claude-429": ("anthropic", "anthropic", "error_429_rate_limit"),
    "claude-529": ("anthropic", "anthropic", "error_529_overloaded"),
    "claude-auth": ("anthropic", "anthropic", "error_401_authentication"),
    "gpt": ("openai", "openai", "responses_text_basic"),
    "gpt-tools": ("openai", "openai", "responses_reasoning_tool_call"),
    "gemini": ("google", "google", "text_basic"),
    "gemini-tools": ("google", "google", "thinking_function_call"),
    "chat": ("openai-chat", "openai", "chat_text_cached_usage"),
    "chat-tools": ("openai-chat", "openai", "chat_parallel_tool_calls"),
    "chat-reasoning": ("openai-chat", "openai", "chat_compat_reasoning_content"),
    "chat-midstream": ("openai-chat", "openai", "chat_midstream_error"),
    "chat-503": ("openai-chat", "openai", "error_503_overloaded"),
}


def write_gateway_presets(directory: Path, upstream_url: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, (provider, folder, case) in GATEWAY_PRESETS.items():
        thinking = "[thinking]\nenabled = true\nbudget_tokens = 2048\n" if "tools" in name or "thinking" in name else ""
        write_preset(
            directory,
            name,
            f"""
provider = "{provider}"
model = "model-{name}"
base_url = "{upstream_url}/{folder}/{case}"
api_key_env = "TEST_ANTHROPIC_KEY"
description = "fixture {folder}/{case}"
max_tokens = 4000
system = "You are a helpful assistant"
allow_system_override = true
tools = ["current_time"]
{thinking}""",
        )
    plain = 'provider = "anthropic"\nmodel = "m"\napi_key_env = "TEST_ANTHROPIC_KEY"\n'
    plain += f'base_url = "{upstream_url}/anthropic/text_basic"\n'
    write_preset(directory, "default", plain)
    write_preset(directory, "strict", plain)  # allow_system_override = false
    write_preset(directory, "no-key", 'provider = "anthropic"\nmodel = "m"\napi_key_env = "UNSET_KEY_VARIABLE"\n')


@dataclass
class Gateway:
    url: str
    upstream: FakeUpstream

    def openai(self, api_key: str = "any-key") -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=f"{self.url}/v1", api_key=api_key, max_retries=0)

    def anthropic(self, api_key: str = "any-key") -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(base_url=self.url, api_key=api_key, max_retries=0)


async def _gateway(tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any, **settings: Any) -> Gateway:
    presets = tmp_path / "presets"
    write_gateway_presets(presets, upstream.url)
    client: TestClient[Any, Any] = await aiohttp_client(create_app(make_settings(tmp_path, presets, **settings)))
    return Gateway(str(client.make_url("")).rstrip("/"), upstream)


@pytest.fixture
async def gateway(tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any) -> AsyncIterator[Gateway]:
    yield await _gateway(tmp_path, upstream, aiohttp_client)


@pytest.fixture
async def locked_gateway(tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any) -> AsyncIterator[Gateway]:
    yield await _gateway(tmp_path, upstream, aiohttp_client, auth_token=AUTH_TOKEN)
