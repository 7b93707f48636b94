"""``chatwire``: a terminal client for Chatwire block chats. It speaks only HTTP to a running server."""
