"""The OpenAI- and Anthropic-compatible protocols (docs/gateway.md), without HTTP.

Request models (pydantic) and their conversion into provider-neutral messages, tools and
request-layer options (``openai_request``, ``anthropic_request``); chat events encoded as
``chat.completion`` chunks or Anthropic message events, with finish reasons, usage and error
shapes (``openai_encode``, ``anthropic_encode``, ``errors``). The HTTP handlers are in
``backend/web/openai_api.py`` and ``backend/web/anthropic_api.py``; statuses live there.
Nothing here imports the core: the front doors hand the results to ``ChatService``.
"""
