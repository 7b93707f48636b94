"""Only public addresses for ``fetch_url`` (issue 11): no loopback, private, link-local, shared,
reserved, multicast or cloud-metadata address, checked *after* DNS resolution.

A host name on the allow list may resolve anywhere (a wildcard domain pointing at 127.0.0.1 or
169.254.169.254, or DNS rebinding between two lookups). So the check sits in the resolver the
HTTP client connects with: the addresses it returns are the ones connected to, for the first URL
and for every redirect, with no second lookup in between. Literal addresses in a URL never reach
a resolver, so :func:`check_literal` checks those. A preset opts out with
``fetch_allow_private = true`` (for a service on the LAN, or tests against 127.0.0.1).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from backend.errors import ToolError


class PrivateAddressRefused(OSError):
    """Raised inside the connector (aiohttp wraps it); ``fetch_text`` turns it into a ``ToolError``."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to the non-public address {address}")
        self.host = host
        self.address = address


def is_public(address: str) -> bool:
    """True only for globally routable unicast addresses (IPv4-mapped IPv6 judged as IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def refusal_text(host: str, address: str) -> str:
    return (
        f"The host {host} resolves to {address}, a loopback, private, link-local or metadata address; "
        "fetching it is refused (a preset may set fetch_allow_private = true)."
    )


def check_literal(host: str) -> None:
    """A URL whose host is a literal non-public address is refused (no resolver sees it)."""
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return
    if not is_public(host.strip("[]")):
        raise ToolError(refusal_text(host, host))


class PublicOnlyResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, then refuses if any address is not public."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            if not is_public(result["host"]):
                raise PrivateAddressRefused(host.rstrip("."), result["host"])
        return results

    async def close(self) -> None:
        await self._inner.close()


def connector_options(allow_private: bool) -> dict[str, Any]:
    """Keyword arguments for ``aiohttp.TCPConnector``: the guarded resolver unless private is allowed."""
    return {} if allow_private else {"resolver": PublicOnlyResolver(), "use_dns_cache": False}
