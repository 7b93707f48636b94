"""The security boundary (issue 11, docs/security.md) against the real app on a loopback socket."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from backend.app import create_app
from backend.errors import ConfigError
from backend.settings import parse_settings
from tests.conftest import make_settings, write_fixture_presets
from tests.sse import parse_sse
from tests.upstream import FakeUpstream

TOKEN = "test-token-0123456789abcdef"
CHAT_BODY = {"messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}]}
APP_ORIGIN = "http://app.example:3000"


@pytest.fixture
def make_client(tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Callable[..., Any]) -> Callable[..., Any]:
    async def make(**settings: Any) -> TestClient[Any, Any]:
        presets_dir = tmp_path / "presets"
        write_fixture_presets(presets_dir, upstream.url)
        client: TestClient[Any, Any] = await aiohttp_client(
            create_app(make_settings(tmp_path, presets_dir, **settings))
        )
        return client

    return make


def error_code(body: Any) -> str:
    code: str = body["error"]["code"]
    return code


# ---- Host (DNS rebinding) ----------------------------------------------------------------------


async def test_foreign_host_is_refused_everywhere_but_health(make_client: Callable[..., Any]) -> None:
    client = await make_client()
    for path in ("/api/ai/conversations", "/api/settings", "/"):
        response = await client.get(path, headers={"Host": "attacker.example"})
        assert response.status == 403, path
        assert error_code(await response.json()) == "host_not_allowed"
    assert (await client.get("/health/live", headers={"Host": "attacker.example"})).status == 200


async def test_loopback_names_and_added_hosts_are_allowed(make_client: Callable[..., Any]) -> None:
    client = await make_client(allowed_hosts=("chat.lan",))
    for host in ("localhost:8080", "127.0.0.1", "[::1]:8080", "chat.lan:8080", "CHAT.LAN"):
        assert (await client.get("/api/ai/conversations", headers={"Host": host})).status == 200, host
    assert (await client.get("/api/ai/conversations", headers={"Host": "chat.lan.evil"})).status == 403


async def test_settings_read_allowed_hosts_and_origins_from_flags_and_environment() -> None:
    environment = {"CHATWIRE_ALLOWED_HOSTS": "a.lan, b.lan", "CHATWIRE_CORS_ORIGINS": APP_ORIGIN + "/"}
    settings = parse_settings(["--allowed-host", "c.lan"], environment)
    assert settings.allowed_hosts == ("a.lan", "b.lan", "c.lan")
    assert settings.cors_origins == (APP_ORIGIN,)


# ---- Cross-site requests, content type, CORS ---------------------------------------------------


async def test_cross_site_text_plain_chat_post_is_refused(
    make_client: Callable[..., Any], upstream: FakeUpstream
) -> None:
    """The attack from issue 11: a "simple" request from another site's page."""
    client = await make_client()
    response = await client.post(
        "/api/ai/chat/block-1",
        data=b'{"messages":[{"id":"u1","role":"user","parts":[{"type":"text","text":"hi"}]}]}',
        headers={"Origin": "http://evil.example", "Content-Type": "text/plain"},
    )
    assert response.status == 403
    assert error_code(await response.json()) == "cross_site_request"
    assert "Access-Control-Allow-Origin" not in response.headers
    assert upstream.requests == []


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_state_changing_requests_from_other_sites_are_refused(
    make_client: Callable[..., Any], method: str
) -> None:
    client = await make_client()
    path = "/api/ai/conversations/block-1" if method in ("POST", "DELETE") else "/api/settings"
    by_origin = await client.request(method, path, json={"messages": []}, headers={"Origin": "http://evil.example"})
    assert by_origin.status == 403
    by_fetch_metadata = await client.request(
        method, path, json={"messages": []}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert by_fetch_metadata.status == 403
    assert error_code(await by_fetch_metadata.json()) == "cross_site_request"


async def test_same_origin_requests_work(make_client: Callable[..., Any]) -> None:
    client = await make_client()
    own = f"http://127.0.0.1:{client.port}"
    response = await client.post(
        "/api/ai/chat/block-1", json=CHAT_BODY, headers={"Origin": own, "Sec-Fetch-Site": "same-origin"}
    )
    assert response.status == 200
    _, _, done = parse_sse(await response.text())
    assert done


async def test_json_endpoints_refuse_other_content_types(make_client: Callable[..., Any]) -> None:
    client = await make_client()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        response = await client.post(
            "/api/ai/conversations/block-1", data=b'{"messages": []}', headers={"Content-Type": content_type}
        )
        assert response.status == 415, content_type
        assert error_code(await response.json()) == "unsupported_media_type"
    stop = await client.post("/api/ai/chat/block-1/stop")  # no body: nothing to check
    assert stop.status == 200


async def test_cors_only_for_listed_origins(make_client: Callable[..., Any]) -> None:
    client = await make_client(cors_origins=(APP_ORIGIN,))
    preflight_headers = {
        "Origin": APP_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, authorization",
    }
    preflight = await client.options("/api/ai/chat/block-1", headers=preflight_headers)
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    refused = await client.options(
        "/api/ai/chat/block-1", headers={**preflight_headers, "Origin": "http://evil.example"}
    )
    assert refused.status == 403 and "Access-Control-Allow-Origin" not in refused.headers

    response = await client.post("/api/ai/chat/block-1", json=CHAT_BODY, headers={"Origin": APP_ORIGIN})
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN  # never "*"
    assert "X-Vercel-AI-UI-Message-Stream" in response.headers["Access-Control-Expose-Headers"]
    assert "Origin" in response.headers.getall("Vary")
    await response.read()
    other = await client.get("/api/ai/conversations", headers={"Origin": "http://evil.example"})
    assert other.status == 200 and "Access-Control-Allow-Origin" not in other.headers


# ---- Authentication ----------------------------------------------------------------------------


async def test_token_is_required_on_the_api(make_client: Callable[..., Any], upstream: FakeUpstream) -> None:
    client = await make_client(auth_token=TOKEN)
    missing = await client.post("/api/ai/chat/block-1", json=CHAT_BODY)
    assert missing.status == 401 and error_code(await missing.json()) == "unauthorized"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = await client.get("/api/ai/conversations", headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"})
    assert wrong.status == 401
    assert upstream.requests == []
    right = await client.post("/api/ai/chat/block-1", json=CHAT_BODY, headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status == 200
    assert parse_sse(await right.text())[2]
    for open_path in ("/health/live", "/health"):
        assert (await client.get(open_path)).status == 200


async def test_token_in_the_address_becomes_a_session_cookie(make_client: Callable[..., Any]) -> None:
    client = await make_client(auth_token=TOKEN)
    wrong = await client.get("/?token=nope", allow_redirects=False)
    assert wrong.status == 401
    login = await client.get(f"/?token={TOKEN}&preset=x", allow_redirects=False)
    assert login.status == 303
    assert login.headers["Location"] == "/?preset=x"  # the token leaves the address bar
    cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert TOKEN not in cookie
    assert (await client.get("/api/ai/conversations")).status == 200  # the client's cookie jar sends it
    client.session.cookie_jar.clear()
    assert (await client.get("/api/ai/conversations")).status == 401


def test_network_bind_without_token_refuses_to_start(tmp_path: Path) -> None:
    """The real entry point exits before binding anything."""
    completed = subprocess.run(
        [sys.executable, "-m", "backend", "--host", "0.0.0.0", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert completed.returncode == 2
    assert "--auth-token" in completed.stderr and "--insecure-no-auth" in completed.stderr


def test_token_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 16"):
        parse_settings(["--auth-token", "short"], {})
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    settings = parse_settings(["--host", "0.0.0.0", "--auth-token-file", str(token_file)], {})
    assert settings.auth_token == TOKEN
    assert TOKEN not in repr(settings)
    assert parse_settings([], {"CHATWIRE_AUTH_TOKEN": TOKEN}).auth_token == TOKEN


def test_insecure_no_auth_starts_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = parse_settings(["--host", "0.0.0.0", "--insecure-no-auth", "--data-dir", str(tmp_path)], {})
    with caplog.at_level(logging.WARNING, logger="backend.web.security"):
        create_app(settings)
    assert any("WITHOUT authentication" in record.getMessage() for record in caplog.records)
