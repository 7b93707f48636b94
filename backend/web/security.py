"""The security boundary of the HTTP server (issue 11; the threat model is in docs/security.md).

One middleware, outermost, checks in this order and answers with the usual JSON error:

1. **Host** (DNS rebinding): the ``Host`` header must name an allowed host — the loopback names,
   the address the server is bound to, and ``--allowed-host`` — else 403 ``host_not_allowed``.
   A page on ``attacker.example`` rebound to 127.0.0.1 still sends ``Host: attacker.example``.
2. **Cross-site requests**: a POST/PUT/PATCH/DELETE whose ``Origin`` is neither the server's own
   origin (the ``Host`` it was called with) nor listed in ``--cors-origin``, or that carries
   ``Sec-Fetch-Site: cross-site`` without such an origin, gets 403 ``cross_site_request``. CORS
   preflights from a listed origin are answered (204); from any other origin, 403. A WebSocket
   upgrade counts as state-changing (it starts answers): browsers send ``Origin`` on every
   handshake and no preflight protects it, so without this any page could drive the chat socket
   with the user's cookie (cross-site WebSocket hijacking).
3. **Authentication** (with ``--auth-token`` or ``--users-file``): every ``/api/`` and ``/v1/`` request needs
   ``Authorization: Bearer <token>`` (OpenAI clients), ``x-api-key: <token>`` (Anthropic clients)
   or the session cookie, compared in constant time; else 401 (on ``/v1/``, in that API's error
   shape). A WebSocket handshake may carry it as the subprotocol ``chatwire.bearer.<token>``
   (browsers cannot set headers on a handshake). The key is Chatwire's own: it is never sent upstream.
   ``GET /?token=<token>`` (any page outside ``/api/``) sets the cookie — HttpOnly,
   SameSite=Strict — and redirects to the same address without the token. **Who** the request is
   (issue 19) is decided here and put on the request (``USER``): with a users file, the user whose
   token hash (or session) matches; otherwise the one implicit user. With a users file,
   ``/metrics`` is for admins only.
4. **Content type**: a POST/PUT/PATCH to ``/api/`` or ``/v1/`` with a body that is not ``application/json``
   gets 415. So no "simple" cross-site request (``text/plain`` form posts) reaches a handler, and
   any cross-site ``fetch`` needs a preflight, which only listed origins pass.

``/health`` and ``/health/live`` are always open (no Host, origin or token check): they say only
"ok". CORS response headers (``Access-Control-Allow-Origin: <that origin>``, never ``*``) are
added in ``on_response_prepare``, so streamed answers and error responses carry them too.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import socket
from dataclasses import dataclass

from aiohttp import web
from yarl import URL

from backend.gateway.errors import anthropic_request_error, openai_request_error
from backend.settings import Settings, is_loopback_host
from backend.users import IMPLICIT_USER, User, UserDirectory
from backend.web.app_keys import USER
from backend.web.common import Handler, error_body, json_response

logger = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/health", "/health/live", "/health/ready"})
# Outside /api/, what needs the token when one is set (metrics reveal presets, models and volumes).
GATED_PATHS = frozenset({"/metrics"})
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_ADDRESSES = ("", "0.0.0.0", "::")
SESSION_COOKIE = "chatwire_session"
# A browser's WebSocket cannot send headers: the token may come as this subprotocol (+ the token).
BEARER_SUBPROTOCOL = "chatwire.bearer."
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE"
ALLOWED_HEADERS = "Authorization, Content-Type, If-Match, X-AI-Model, X-AI-Temperature, X-Api-Key, Anthropic-Version"
EXPOSED_HEADERS = "ETag, X-Vercel-AI-UI-Message-Stream"
PREFLIGHT_MAX_AGE = "600"


def _default_hosts(bound: str) -> set[str]:
    hosts = set(LOOPBACK_NAMES)
    if bound not in WILDCARD_ADDRESSES:
        hosts.add(bound.strip("[]").lower())
        return hosts
    # Bound to every interface: this machine's name and its addresses are its own too.
    name = socket.gethostname()
    hosts.update({name.lower(), socket.getfqdn(name).lower()})
    with contextlib.suppress(OSError):
        hosts.update(str(info[4][0]).lower() for info in socket.getaddrinfo(name, None))
    return hosts


@dataclass(frozen=True, slots=True)
class SecurityPolicy:
    """What the middleware allows, computed once from the settings."""

    allowed_hosts: frozenset[str]
    any_host: bool  # ``--allowed-host '*'``: the Host check is off (behind a trusted proxy)
    cors_origins: frozenset[str]
    token: str | None
    users: UserDirectory | None = None  # with --users-file: whose token (or session) a request carries

    @property
    def authenticating(self) -> bool:
        return self.token is not None or self.users is not None

    @classmethod
    def from_settings(cls, settings: Settings, users: UserDirectory | None = None) -> SecurityPolicy:
        hosts = _default_hosts(settings.host) | {host.lower().strip("[]") for host in settings.allowed_hosts}
        return cls(
            allowed_hosts=frozenset(hosts - {"*"}),
            any_host="*" in hosts,
            cors_origins=frozenset(settings.cors_origins),
            token=settings.auth_token,
            users=users,
        )

    @property
    def session_value(self) -> str:
        """The cookie's value: derived from the token, so the token itself never sits in a cookie."""
        assert self.token is not None
        return hmac.new(self.token.encode(), b"chatwire-session-v1", hashlib.sha256).hexdigest()

    def host_allowed(self, host_header: str | None) -> bool:
        if self.any_host:
            return True
        if not host_header:
            return False
        try:
            host = URL(f"http://{host_header}").host
        except ValueError:
            return False
        return host is not None and host.lower().rstrip(".") in self.allowed_hosts

    def identify(self, request: web.Request) -> User | None:
        """The user the request's credentials name, or None if they name nobody."""
        if self.users is None:
            return IMPLICIT_USER if self.authenticated(request) else None
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        for token in (credentials.strip() if scheme.lower() == "bearer" else "", request.headers.get("x-api-key")):
            user = self.users.by_token(token.strip()) if token else None
            if user is not None:
                return user
        return self.users.by_session(request.cookies.get(SESSION_COOKIE, ""))

    def session_for(self, token: str) -> str | None:
        """The session cookie for a valid ``/?token=``, else None."""
        if self.users is not None:
            return self.users.session_for(token)
        if self.token is not None and hmac.compare_digest(token.encode(), self.token.encode()):
            return self.session_value
        return None

    def authenticated(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), self.token.encode()):
            return True
        api_key = request.headers.get("x-api-key")
        if api_key is not None and hmac.compare_digest(api_key.strip().encode(), self.token.encode()):
            return True
        for offered in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
            offered = offered.strip()
            if offered.startswith(BEARER_SUBPROTOCOL) and hmac.compare_digest(
                offered.removeprefix(BEARER_SUBPROTOCOL).encode(), self.token.encode()
            ):
                return True
        cookie = request.cookies.get(SESSION_COOKIE, "")
        return hmac.compare_digest(cookie.encode(), self.session_value.encode())


SECURITY = web.AppKey("security", SecurityPolicy)


def _forbidden(code: str, message: str, status: int = 403, headers: dict[str, str] | None = None) -> web.Response:
    return json_response(error_body(code, message), status=status, headers=headers)


def _same_origin(origin: str, host_header: str, scheme: str) -> bool:
    try:
        parsed, own = URL(origin), URL(f"{scheme}://{host_header}")
    except ValueError:
        return False
    if parsed.host is None or own.host is None:
        return False
    return (parsed.host.lower(), parsed.port) == (own.host.lower(), own.port) and parsed.path in ("", "/")


def _websocket_upgrade(request: web.Request) -> bool:
    return request.method == "GET" and request.headers.get("Upgrade", "").lower() == "websocket"


def _cross_site(request: web.Request, policy: SecurityPolicy) -> bool:
    """A state-changing request from a page that is neither ours nor a listed origin."""
    origin = request.headers.get("Origin")
    if origin is not None:
        if origin.rstrip("/") in policy.cors_origins:
            return False
        return not _same_origin(origin, request.headers.get("Host", ""), request.scheme)
    return request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site"


def _preflight(request: web.Request, policy: SecurityPolicy) -> web.Response:
    origin = (request.headers.get("Origin") or "").rstrip("/")
    if origin not in policy.cors_origins:
        return _forbidden("cors_origin_not_allowed", f"Origin {origin or '(none)'} is not in --cors-origin.")
    return web.Response(
        status=204,
        headers={
            "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
        },
    )


def _token_login(request: web.Request, policy: SecurityPolicy) -> web.Response:
    """``/?token=…``: a valid token becomes the session cookie, and leaves the address bar."""
    session = policy.session_for(request.query["token"])
    if session is None:
        return _forbidden("invalid_token", "The token in the address is not valid.", status=401)
    query = {key: value for key, value in request.query.items() if key != "token"}
    response = web.Response(status=303, headers={"Location": str(request.rel_url.with_query(query))})
    response.set_cookie(
        SESSION_COOKIE,
        session,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _gateway_unauthorized(request: web.Request) -> web.Response:
    """401 in the error shape of the API the client speaks (its SDK reads the message from it)."""
    message = "Invalid API key: send Chatwire's --auth-token as the API key (docs/gateway.md)."
    if request.path.startswith("/v1/messages"):
        body = anthropic_request_error(message, "unauthorized")
    else:
        body = openai_request_error(message, "unauthorized")
    return json_response(body, status=401, headers={"WWW-Authenticate": 'Bearer realm="chatwire"'})


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in OPEN_PATHS:
        return await handler(request)
    policy = request.app[SECURITY]
    if not policy.host_allowed(request.headers.get("Host")):
        return _forbidden(
            "host_not_allowed",
            "This Host is not allowed (DNS rebinding protection). Start the server with --allowed-host to add it.",
        )
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        return _preflight(request, policy)
    if (request.method in STATE_CHANGING or _websocket_upgrade(request)) and _cross_site(request, policy):
        return _forbidden(
            "cross_site_request",
            "Cross-site request refused: the page's origin is not this server's and not in --cors-origin.",
        )
    gateway = request.path.startswith("/v1/")
    api = gateway or request.path.startswith("/api/")
    gated = api or request.path in GATED_PATHS
    if not policy.authenticating:
        request[USER] = IMPLICIT_USER
    elif not gated and "token" in request.query and request.method == "GET":
        return _token_login(request, policy)
    elif gated:
        user = policy.identify(request)
        if user is None and gateway:
            return _gateway_unauthorized(request)
        if user is None:
            return _forbidden(
                "unauthorized",
                "Authentication required: send Authorization: Bearer <token> (see docs/security.md).",
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="chatwire"'},
            )
        if policy.users is not None and request.path in GATED_PATHS and not user.is_admin:
            return _forbidden("admin_only", "Only an admin may read the metrics of a shared server.")
        request[USER] = user
    if api and request.method in WITH_BODY and request.body_exists and request.content_type != "application/json":
        return _forbidden(
            "unsupported_media_type",
            f"Send the body as Content-Type: application/json (got {request.content_type or 'none'}).",
            status=415,
        )
    return await handler(request)


async def _cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Lets a listed origin's page read the response; every other origin gets nothing extra."""
    origin = (request.headers.get("Origin") or "").rstrip("/")
    if origin and origin in request.app[SECURITY].cors_origins:
        response.headers["Access-Control-Allow-Origin"] = request.headers["Origin"]
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        response.headers.add("Vary", "Origin")


def install_security(app: web.Application, settings: Settings, users: UserDirectory | None = None) -> None:
    """Store the policy, hook the CORS headers, and warn about an unprotected network bind.

    The middleware itself is passed to ``web.Application`` (it must be outermost).
    """
    app[SECURITY] = SecurityPolicy.from_settings(settings, users)
    app.on_response_prepare.append(_cors_headers)
    if settings.auth_token is None and users is None and not is_loopback_host(settings.host):
        logger.warning(
            "listening on %s WITHOUT authentication (--insecure-no-auth): anyone who can reach this address "
            "can use your API keys and read every conversation",
            settings.host,
        )
