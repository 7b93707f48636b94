"""The one route table of Chatwire."""

from __future__ import annotations

from aiohttp import web

from backend.web import anthropic_api, chat, chat_socket, config, conversations, openai_api, static
from backend.web.ops import add_ops_routes


def add_routes(app: web.Application) -> None:
    add_ops_routes(app)
    app.router.add_post("/api/ai/chat/{block_id}", chat.post_chat)
    # The same path upgraded to a WebSocket: ai@7's WebSocketChatTransport (docs/api.md#websocket).
    app.router.add_get("/api/ai/chat/{block_id}", chat_socket.chat_socket)
    app.router.add_post("/api/ai/chat/{block_id}/stop", chat.stop_chat)
    app.router.add_get("/api/ai/chat/{block_id}/{chat_id}/stream", chat.resume_chat)
    app.router.add_get("/api/ai/presets", config.list_presets)
    app.router.add_get("/api/me", config.me)
    app.router.add_get("/api/admin/users", config.admin_users)
    app.router.add_get("/api/ai/resolve/{block_id}", config.resolve_preview)
    app.router.add_get("/api/ai/conversations", conversations.list_conversations)
    app.router.add_get("/api/ai/conversations/{block_id}", conversations.get_conversation)
    app.router.add_post("/api/ai/conversations/{block_id}", conversations.post_conversation)
    app.router.add_delete("/api/ai/conversations/{block_id}", conversations.delete_conversation)
    for method in ("GET", "PUT", "PATCH"):
        app.router.add_route(method, "/api/blocks/{block_id}/meta", config.block_meta)
        app.router.add_route(method, "/api/settings", config.global_settings)
    # The compatible APIs (docs/gateway.md): stateless front doors over the same core.
    app.router.add_get("/v1/models", openai_api.list_models)
    app.router.add_post("/v1/chat/completions", openai_api.chat_completions)
    app.router.add_post("/v1/messages", anthropic_api.messages)
    app.router.add_post("/v1/messages/count_tokens", anthropic_api.count_tokens)
    static.add_frontend_routes(app)
