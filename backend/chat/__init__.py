"""The application core: one chat turn, from a validated request to saved chunks, with no HTTP in it.

Every front door (the useChat SSE endpoint today; WebSocket, OpenAI- and Anthropic-compatible
endpoints and the terminal client next) parses its wire format into a :class:`TurnRequest`,
calls :class:`ChatService`, and encodes what comes back in its own wire format.
"""
