"""``POST /api/ai/chat/<blockId>``, its resume ``GET`` and ``stop``: the useChat endpoint.

Request → validated body → five-layer preset resolution → provider-neutral history → a
generation task (``run_chat`` → encoder → SSE lines, folded into the assistant message and
saved when it ends, however it ends) → followers that write the lines to HTTP clients.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from contextlib import aclosing
from typing import Any

from aiohttp import ClientConnectionResetError, web

from backend.aisdk.encode import DONE_LINE, UIMessageStreamEncoder, sse_line
from backend.aisdk.request import ChatRequestBody, parse_chat_request
from backend.answer_save import current_version, save_answer, uninterrupted
from backend.app_keys import MCP, PRESETS, SETTINGS, STORE, STREAMS, TOOLS
from backend.errors import RequestError
from backend.limits import check_messages
from backend.web.common import block_id_from, json_response, read_json
from backend.web.plan import ChatPlan, PlanServices, build_plan
from backend.web.streams import ActiveStream, StreamBusy

logger = logging.getLogger(__name__)

STREAM_HEADERS = {
    "Content-Type": "text/event-stream",
    # no-transform: proxies must not compress or buffer the stream.
    "Cache-Control": "no-cache, no-transform",
    "Connection": "keep-alive",
    "X-Vercel-AI-UI-Message-Stream": "v1",
    "X-Accel-Buffering": "no",
}


def new_message_id() -> str:
    return "msg-" + secrets.token_urlsafe(12)


async def post_chat(request: web.Request) -> web.StreamResponse:
    block_id = block_id_from(request)
    payload = await read_json(request)
    # Issue 11: counts, sizes, depth and metadata before the schema check (backend/limits.py).
    if isinstance(payload, dict):
        await check_messages(payload.get("messages"), request.app[SETTINGS].limits)
    body: ChatRequestBody = parse_chat_request(payload)
    raw_messages: list[dict[str, Any]] = payload["messages"]
    app = request.app
    services = PlanServices(app[SETTINGS], app[STORE], app[PRESETS].presets, app[TOOLS], app[MCP])
    plan = await build_plan(
        services,
        block_id,
        body,
        raw_messages,
        url_preset=request.query.get("preset"),
        headers=request.headers,
        new_message_id=new_message_id,
    )
    stream = ActiveStream(block_id=block_id, chat_id=body.id or block_id, message_id=plan.message_id)
    try:
        app[STREAMS].start(stream, lambda active: generate(app, plan, active))
    except StreamBusy as busy:
        raise RequestError(
            f"Block {block_id} is already streaming (message {busy.active.message_id}); "
            f"stop it with POST /api/ai/chat/{block_id}/stop or resume it.",
            status=409,
            code="stream_active",
            details={"activeStream": busy.active.describe()},
        ) from None
    return await follow(request, stream)


async def generate(app: web.Application, plan: ChatPlan, stream: ActiveStream) -> None:
    """Run one answer to the end (or stop), writing SSE lines, then save the conversation.

    Issue 11 (backend/answer_save.py): a stop or cancel at any point still ends the stream with
    ``finish`` and ``[DONE]`` and saves what streamed; the save respects a concurrent edit or
    delete; a failed save is told to the client (an ``error`` chunk) before ``finish``, which is
    held back until the save is done.
    """
    encoder = UIMessageStreamEncoder()
    assembler = plan.assembler()
    held: list[bytes] = []  # the finish chunk, written after the save

    def emit(chunk: dict[str, Any]) -> None:
        assembler.add(chunk)
        if chunk["type"] == "finish":
            held.append(sse_line(chunk))
        else:
            stream.append(sse_line(chunk))

    base_version, started = 0, False
    try:
        # Save the new user message now: a reload while the answer streams must show it (the
        # answer itself comes back through resume and is saved when it ends).
        base_version = await _start_version(app, plan)
        emit(encoder.start(plan.message_id, plan.metadata))
        started = True
        async with plan.open_model() as model:
            async for event in plan.run(model):
                for chunk in encoder.encode(event):
                    emit(chunk)
    except asyncio.CancelledError:
        if not started:
            emit(encoder.start(plan.message_id, plan.metadata))
        if not encoder.finished:
            for chunk in encoder.interrupted():
                emit(chunk)
    except Exception:
        logger.exception("chat generation failed for block %s", plan.block_id)
        if not started:
            emit(encoder.start(plan.message_id, plan.metadata))
        if not encoder.finished:
            for chunk in encoder.encode_internal_error():
                emit(chunk)
    # Save before the stream ends, so a client that saw the end and reloads finds the answer.
    # An answer that failed before producing any part is not kept (the user message is).
    answer = [assembler.message] if assembler.parts else []
    outcome = await uninterrupted(save_answer(app[STORE], plan.block_id, plan.history, answer, base_version))
    if outcome.failed:
        stream.append(sse_line({"type": "error", "errorText": ANSWER_NOT_SAVED}))
    for line in held:
        stream.append(line)
    stream.append(DONE_LINE)
    stream.close()


ANSWER_NOT_SAVED = "The answer was not saved on the server (see the server log); copy it before reloading."


async def _start_version(app: web.Application, plan: ChatPlan) -> int:
    """The conversation's version this answer starts from (after saving a new user message)."""
    store = app[STORE]
    if plan.base_message is None:
        try:
            return await store.save_conversation(plan.block_id, plan.history)
        except Exception:
            logger.exception("saving the conversation of block %s failed", plan.block_id)
    return await current_version(store, plan.block_id)


async def follow(request: web.Request, stream: ActiveStream) -> web.StreamResponse:
    """Write the stream's lines (replay + live) to this client until it ends or disconnects."""
    settings = request.app[SETTINGS]
    response = web.StreamResponse(status=200, headers=STREAM_HEADERS)
    await response.prepare(request)
    try:
        # aclosing: the follower count drops before the disconnect check below.
        async with aclosing(stream.follow(settings.keepalive_seconds)) as lines:
            async for line in lines:
                await response.write(line)
    except (ConnectionResetError, ClientConnectionResetError, asyncio.CancelledError) as error:
        # The client went away (closed tab). The answer goes on unless configured otherwise.
        if settings.cancel_on_disconnect and stream.followers == 0 and stream.task is not None:
            stream.task.cancel()
        if isinstance(error, asyncio.CancelledError):
            raise
    return response


async def resume_chat(request: web.Request) -> web.StreamResponse:
    """What ``useChat({resume: true})`` calls: replay the active stream, or 204 when none."""
    block_id = block_id_from(request)
    stream = request.app[STREAMS].get(block_id)
    chat_id = request.match_info["chat_id"]
    if stream is None or stream.done or chat_id not in (stream.chat_id, block_id):
        return web.Response(status=204)
    return await follow(request, stream)


async def stop_chat(request: web.Request) -> web.Response:
    block_id = block_id_from(request)
    stream = await request.app[STREAMS].stop(block_id)
    if stream is None:
        return json_response({"stopped": False, "blockId": block_id})
    return json_response({"stopped": True, "blockId": block_id, "messageId": stream.message_id})
