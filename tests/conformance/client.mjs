#!/usr/bin/env node
// Drives a running Chatwire server with the real AI SDK client: `AbstractChat` (what `useChat`
// runs, with an in-memory state like @ai-sdk/react's) + `DefaultChatTransport`. The SDK's own
// schema and state-machine checks judge our stream; this script only records what happened.
//
//   node client.mjs <baseUrl> <scenario> '<options json>'
//   node client.mjs --serve <major>      (one JSON request a line on stdin, one report a line out)
//
// Prints ONE JSON line (see `report()`), exit code 0 even when the chat ends in an error:
// tests/conformance/test_conformance.py asserts. Exit code 2 = bad arguments / harness bug.
// `options.major` (5, 6, 7) picks the client: `ai5` and `ai6` are npm aliases of the latest
// ai@5 and ai@6 (package.json), `ai` is ai@7. The server is told with `?protocol=<major>`.
// `options.transport: 'websocket'` (ai@7 only) uses `WebSocketChatTransport` on the same chat
// path instead, over the `ws` package (Node 20 has no global WebSocket), recording every frame.

import { WebSocket as NodeWebSocket } from 'ws';

const PACKAGES = { 5: 'ai5', 6: 'ai6', 7: 'ai' };
const CLIENTS = {};

async function client(major) {
  if (!PACKAGES[major]) throw new Error(`unknown ai major ${major}`);
  CLIENTS[major] ??= await import(PACKAGES[major]);
  return CLIENTS[major];
}

let ai = await client(7);

const VALIDATION_ERROR_NAMES = new Set(['AI_TypeValidationError', 'AI_UIMessageStreamError', 'AI_JSONParseError']);
const SETTLE_TIMEOUT_MS = 30_000;

const processErrors = [];
process.on('unhandledRejection', error => processErrors.push(describeError(error)));
process.on('uncaughtException', error => processErrors.push(describeError(error)));

// ---------------------------------------------------------------------------------------------
// The chat: AbstractChat with a plain in-memory ChatState (as @ai-sdk/react's ReactChatState,
// minus React), which also records status changes and lets us wait on observable state.

class MemoryChatState {
  #status = 'ready';
  #listeners = new Set();

  constructor(messages = []) {
    this.messages = messages;
    this.error = undefined;
    this.statusHistory = ['ready'];
  }

  get status() {
    return this.#status;
  }

  set status(value) {
    if (value !== this.#status) this.statusHistory.push(value);
    this.#status = value;
    this.#notify();
  }

  pushMessage = message => {
    this.messages = this.messages.concat(message);
    this.#notify();
  };

  popMessage = () => {
    this.messages = this.messages.slice(0, -1);
    this.#notify();
  };

  replaceMessage = (index, message) => {
    this.messages = [...this.messages.slice(0, index), this.snapshot(message), ...this.messages.slice(index + 1)];
    this.#notify();
  };

  snapshot = value => structuredClone(value);

  #notify() {
    for (const listener of [...this.#listeners]) listener();
  }

  /** Resolves when `predicate()` holds (checked on every state change); rejects after `timeoutMs`. */
  waitFor(predicate, timeoutMs, what) {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.#listeners.delete(check);
        resolve();
      };
      this.#listeners.add(check);
    });
  }
}

// A Chat class per client major (each package has its own AbstractChat).
const CHAT_CLASSES = new Map();

function chatClass() {
  if (!CHAT_CLASSES.has(ai)) {
    CHAT_CLASSES.set(
      ai,
      class Chat extends ai.AbstractChat {
        constructor({ messages, ...init }) {
          const state = new MemoryChatState(messages);
          super({ ...init, state });
          this.memory = state;
        }
      },
    );
  }
  return CHAT_CLASSES.get(ai);
}

// ---------------------------------------------------------------------------------------------
// Recording: every HTTP exchange (request body, status, raw SSE body via tee) and every callback.

function recordingFetch(exchanges) {
  return async (url, init = {}) => {
    const exchange = {
      method: init.method ?? 'GET',
      url: String(url),
      requestBody: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
    };
    exchanges.push(exchange);
    const response = await fetch(url, init);
    exchange.status = response.status;
    exchange.contentType = response.headers.get('content-type');
    exchange.streamHeader = response.headers.get('x-vercel-ai-ui-message-stream');
    if (response.body == null || response.status === 204) {
      exchange.body = '';
      return response;
    }
    const [forClient, forRecord] = response.body.tee();
    exchange.finished = new Response(forRecord).text().then(
      text => {
        exchange.body = text;
      },
      error => {
        exchange.bodyError = String(error);
      },
    );
    return new Response(forClient, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

/**
 * A WebSocket constructor for WebSocketChatTransport that records every frame both ways; each
 * received frame gets an `exchange` per requestId (the shape the SSE recorder produces, so the
 * same assertions apply: `chunks`, `done` = an `end` frame, plus `sequences` and `frames`).
 */
function recordingWebSocket(exchanges, sockets, origin) {
  return class RecordingWebSocket extends NodeWebSocket {
    constructor(url, protocols) {
      super(url, protocols, origin ? { origin } : {});
      sockets.push(this);
      this.addEventListener('message', event => {
        const frame = JSON.parse(String(event.data));
        const exchange = exchanges.find(item => item.requestId === frame.requestId);
        if (!exchange) return;
        exchange.frames.push(frame.type);
        if (frame.type === 'chunk') {
          exchange.chunks.push(frame.chunk);
          exchange.sequences.push(frame.sequence);
        }
        if (frame.type === 'end') exchange.done = true;
        if (frame.type === 'error') exchange.errorText = frame.errorText;
      });
    }

    send(data, ...rest) {
      const frame = JSON.parse(String(data));
      if (frame.type !== 'abort') {
        exchanges.push({
          method: frame.type === 'send' ? 'POST' : 'GET',
          frameType: frame.type,
          url: this.url,
          requestId: frame.requestId,
          requestBody: frame.type === 'send' ? { ...frame.body, id: frame.id, messages: frame.messages, trigger: frame.trigger } : frame,
          status: 200,
          contentType: 'websocket',
          frames: [],
          chunks: [],
          sequences: [],
          done: false,
        });
      } else {
        const exchange = exchanges.find(item => item.requestId === frame.requestId);
        if (exchange) exchange.aborted = true;
      }
      return super.send(data, ...rest);
    }
  };
}

function describeError(error) {
  if (error == null || typeof error !== 'object') return { name: typeof error, message: String(error) };
  const described = { name: error.name, message: error.message };
  if (error.statusCode !== undefined) described.statusCode = error.statusCode;
  if (error.responseBody !== undefined) described.responseBody = error.responseBody;
  if (error.cause !== undefined) described.cause = describeError(error.cause);
  return described;
}

function isValidationError(error) {
  for (let current = error; current != null; current = current.cause) {
    if (
      ai.TypeValidationError.isInstance(current) ||
      ai.JSONParseError.isInstance(current) ||
      (ai.UIMessageStreamError?.isInstance(current) ?? false) ||
      VALIDATION_ERROR_NAMES.has(current.name)
    ) {
      return true;
    }
  }
  return false;
}

function parseSse(text) {
  const chunks = [];
  let done = false;
  for (const event of (text ?? '').split(/\r?\n\r?\n/)) {
    for (const line of event.split(/\r?\n/)) {
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data === '[DONE]') done = true;
      else {
        try {
          chunks.push(JSON.parse(data));
        } catch {
          chunks.push({ unparsable: data });
        }
      }
    }
  }
  return { chunks, done };
}

/** Example client-side tools; each output carries a marker the test looks for upstream. */
function runClientTool(toolCall, index) {
  const input = toolCall.input ?? {};
  const marker = `cw-tool-output-${index}`;
  switch (toolCall.toolName) {
    case 'add':
      return { result: input.a + input.b, marker };
    case 'multiply':
      return { result: input.a * input.b, marker };
    case 'weather':
      return { location: input.location, temperature: 40, unit: 'celsius', marker };
    default:
      return { ok: true, marker };
  }
}

class Session {
  constructor(baseUrl, options) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    this.options = options;
    this.exchanges = [];
    this.chats = [];
    this.sockets = [];
  }

  socketUrl(blockId = this.options.blockId) {
    return this.api(blockId).replace(/^http/, 'ws');
  }

  transport() {
    if (this.options.transport === 'websocket') {
      return new ai.WebSocketChatTransport({
        url: this.socketUrl(),
        body: this.options.body,
        protocols: ['chatwire'],
        webSocket: recordingWebSocket(this.exchanges, this.sockets, this.options.origin),
      });
    }
    return new ai.DefaultChatTransport({
      api: this.api(),
      body: this.options.body,
      fetch: recordingFetch(this.exchanges),
    });
  }

  api(blockId = this.options.blockId) {
    const query = new URLSearchParams();
    if (this.options.preset) query.set('preset', this.options.preset);
    if (this.options.protocol) query.set('protocol', String(this.options.protocol));
    const text = query.toString();
    return `${this.baseUrl}/api/ai/chat/${encodeURIComponent(blockId)}${text ? `?${text}` : ''}`;
  }

  /** A Chat as `useChat({id, transport, onError, onFinish, ...})` would create it. */
  chat({ id, messages = [], clientTools = false, approvals = false } = {}) {
    const record = { errors: [], finishes: [], toolCalls: [], toolOutputs: [] };
    const transport = this.transport();
    const Chat = chatClass();
    const chat = new Chat({
      id,
      messages,
      transport,
      // (WebSocketChatTransport is ai@7's; DefaultChatTransport otherwise.)
      onError: error => record.errors.push(error),
      onFinish: ({ message, isAbort, isDisconnect, isError, finishReason }) =>
        record.finishes.push({ messageId: message.id, isAbort, isDisconnect, isError, finishReason }),
      ...(clientTools
        ? {
            sendAutomaticallyWhen: ai.lastAssistantMessageIsCompleteWithToolCalls,
            onToolCall: ({ toolCall }) => {
              record.toolCalls.push(structuredClone(toolCall));
              const output = runClientTool(toolCall, record.toolOutputs.length);
              record.toolOutputs.push({ toolCallId: toolCall.toolCallId, output });
              // As the docs say: call addToolOutput without awaiting it inside onToolCall.
              void chat.addToolOutput({ tool: toolCall.toolName, toolCallId: toolCall.toolCallId, output });
            },
          }
        : {}),
      ...(approvals && ai.lastAssistantMessageIsCompleteWithApprovalResponses
        ? { sendAutomaticallyWhen: ai.lastAssistantMessageIsCompleteWithApprovalResponses }
        : {}),
    });
    chat.record = record;
    this.chats.push(chat);
    return chat;
  }

  settled(chat, what = 'the chat to settle') {
    return chat.memory.waitFor(() => chat.status === 'ready' || chat.status === 'error', SETTLE_TIMEOUT_MS, what);
  }

  async describeChat(chat) {
    // (validateUIMessages rejects an empty list, which is what an idle resume leaves.)
    const validation =
      chat.messages.length === 0
        ? { success: true }
        : await ai.safeValidateUIMessages({ messages: chat.messages }).catch(error => ({ success: false, error }));
    return {
      id: chat.id,
      status: chat.status,
      statusHistory: chat.memory.statusHistory,
      error: chat.error ? describeError(chat.error) : null,
      errors: chat.record.errors.map(describeError),
      finishes: chat.record.finishes,
      finishReason: chat.record.finishes.at(-1)?.finishReason ?? null,
      toolCalls: chat.record.toolCalls,
      toolOutputs: chat.record.toolOutputs,
      messages: chat.messages,
      // The messages the client would send next must pass the SDK's own validator.
      messagesValid: validation.success,
      messagesValidationError: validation.success ? null : describeError(validation.error),
    };
  }

  async report(result = {}) {
    await Promise.race([
      Promise.all(this.exchanges.map(exchange => exchange.finished)),
      new Promise(resolve => setTimeout(resolve, SETTLE_TIMEOUT_MS).unref()),
    ]);
    const chats = await Promise.all(this.chats.map(chat => this.describeChat(chat)));
    const errors = new Set([...this.chats.flatMap(chat => chat.record.errors), ...this.chats.map(chat => chat.error)]);
    const validationErrors = [...errors].filter(error => error != null && isValidationError(error)).map(describeError);
    for (const chat of chats) {
      if (!chat.messagesValid) validationErrors.push({ ...chat.messagesValidationError, source: 'validateUIMessages' });
    }
    const exchanges = this.exchanges.map(({ finished, body, ...exchange }) =>
      exchange.contentType === 'websocket'
        ? exchange
        : { ...exchange, ...(exchange.contentType?.startsWith('text/event-stream') ? parseSse(body) : { text: body }) },
    );
    for (const socket of this.sockets) socket.close();
    return { ...chats[0], chats, exchanges, validationErrors, processErrors, ...result };
  }
}

// ---------------------------------------------------------------------------------------------
// Scenarios. Most differ only in preset / body, so one runner serves them; the test asserts.

async function sendScenario(session) {
  // options.messages: the chat already holds this history (e.g. a tool call and its output).
  const chat = session.chat({
    id: session.options.chatId,
    clientTools: session.options.clientTools,
    messages: session.options.messages,
  });
  await chat.sendMessage({ text: session.options.text ?? 'hi' });
  await session.settled(chat);
  return session.report();
}

/** sendMessage, then regenerate() the answer: the second request replaces the assistant message. */
async function regenerateScenario(session) {
  const chat = session.chat({ id: session.options.chatId });
  await chat.sendMessage({ text: session.options.text ?? 'hi' });
  await session.settled(chat);
  const first = structuredClone(chat.messages);
  await chat.regenerate();
  await session.settled(chat, 'the regenerated answer to settle');
  return session.report({ first });
}

/** sendMessage → the tool call is answered with addToolOutput → automatic follow-up request. */
async function followupScenario(session) {
  session.options.clientTools = true;
  return sendScenario(session);
}

/**
 * Chat A starts an answer (not awaited). Once A is streaming, chat B (same id, holding only the
 * user message, like a reloaded page) calls resumeStream(): B must get the whole message (replay
 * from the start, then live) and end ready. Afterwards, resuming again must be a 204 (no-op).
 */
async function resumeScenario(session) {
  const first = session.chat({ id: session.options.chatId });
  const sending = first.sendMessage({ text: session.options.text ?? 'hi' });
  await first.memory.waitFor(
    () => first.memory.statusHistory.includes('streaming') || first.status === 'error',
    SETTLE_TIMEOUT_MS,
    'chat A to start streaming',
  );
  const statusOfFirstWhenResuming = first.status;
  const userMessage = first.messages.find(message => message.role === 'user');
  const second = session.chat({ id: first.id, messages: [structuredClone(userMessage)] });
  await second.resumeStream();
  await session.settled(second, 'chat B (resumed) to settle');
  await sending;
  await session.settled(first, 'chat A to settle');
  const third = session.chat({ id: first.id, messages: structuredClone(second.messages) });
  await third.resumeStream();
  await session.settled(third, 'chat C (resume after the end) to settle');
  return session.report({ statusOfFirstWhenResuming });
}

/** resumeStream() when nothing streams: the server answers 204 and the chat stays ready. */
async function resumeIdleScenario(session) {
  const chat = session.chat({ id: session.options.chatId });
  await chat.resumeStream();
  await session.settled(chat);
  return session.report();
}

/**
 * A server-side tool that needs approval: the answer ends with an approval request; the user
 * answers with addToolApprovalResponse (options.approve), and sendAutomaticallyWhen sends the
 * follow-up, which must continue the same message (tool output or denial, then the model's text).
 */
async function approvalScenario(session) {
  // options.messages: start from these messages instead of asking (a forged or stale approval).
  const chat = session.chat({ id: session.options.chatId, approvals: true, messages: session.options.messages });
  if (!session.options.messages) {
    await chat.sendMessage({ text: session.options.text ?? 'What time is it?' });
    await session.settled(chat);
  }
  const requested = chat.messages
    .flatMap(message => message.parts)
    .find(part => part.state === 'approval-requested');
  const afterRequest = structuredClone(chat.messages);
  // ai@5 has no approvals: it gets the request as a data part and cannot answer it.
  if (requested && chat.addToolApprovalResponse) {
    const before = chat.memory.statusHistory.length;
    await chat.addToolApprovalResponse({ id: requested.approval.id, approved: session.options.approve });
    await chat.memory.waitFor(
      () => chat.memory.statusHistory.length > before && (chat.status === 'ready' || chat.status === 'error'),
      SETTLE_TIMEOUT_MS,
      'the approval follow-up to settle',
    );
  }
  return session.report({ afterRequest, approvalId: requested?.approval?.id ?? null });
}

/**
 * The server stops the answer (POST …/stop) while the client streams it: ai@7 gets `finish`
 * `interrupted`, ai@5/6 `abort`; either way the chat ends ready with the partial answer.
 */
async function stopScenario(session) {
  const chat = session.chat({ id: session.options.chatId });
  const sending = chat.sendMessage({ text: session.options.text ?? 'hi' });
  await chat.memory.waitFor(
    () => chat.messages.some(message => message.role === 'assistant' && message.parts.some(part => part.type === 'text' && part.text)),
    SETTLE_TIMEOUT_MS,
    'the first text to stream',
  );
  const stop = await fetch(`${session.baseUrl}/api/ai/chat/${encodeURIComponent(session.options.blockId)}/stop`, {
    method: 'POST',
  });
  const stopped = await stop.json();
  await sending;
  await session.settled(chat);
  return session.report({ stopped });
}

/**
 * WebSocket: the user presses Stop while the answer streams (chat.stop(): the transport sends
 * `abort`). The server stops the answer; a resume afterwards finds nothing streaming.
 */
async function socketAbortScenario(session) {
  const chat = session.chat({ id: session.options.chatId });
  const sending = chat.sendMessage({ text: session.options.text ?? 'hi' });
  await chat.memory.waitFor(
    () => chat.messages.some(message => message.role === 'assistant' && message.parts.some(part => part.type === 'text' && part.text)),
    SETTLE_TIMEOUT_MS,
    'the first text to stream',
  );
  await chat.stop();
  await sending;
  await session.settled(chat);
  // The server reads a socket's frames in order and answers `abort` once the stop is saved, so
  // this resume (the same socket) must find nothing streaming.
  await chat.resumeStream();
  await session.settled(chat);
  return session.report();
}

/**
 * WebSocket: chat A's connection drops mid-answer (its socket is terminated); chat B (a reloaded
 * page with its own transport and connection, holding the user message) calls resumeStream() and
 * must hold the whole answer, each part once. A resume after the end gets `no-active`.
 */
async function socketDropResumeScenario(session) {
  const first = session.chat({ id: session.options.chatId });
  const sending = first.sendMessage({ text: session.options.text ?? 'hi' }).catch(() => {});
  await first.memory.waitFor(
    () => first.messages.some(message => message.role === 'assistant' && message.parts.some(part => part.type === 'text' && part.text)),
    SETTLE_TIMEOUT_MS,
    'chat A to stream text',
  );
  const heldByFirst = structuredClone(first.messages.at(-1));
  session.sockets[0].terminate(); // the network goes away, without a close handshake
  for (const exchange of session.exchanges) exchange.dropped = !exchange.done;
  await sending;
  await session.settled(first, 'chat A to notice the drop');
  const userMessage = first.messages.find(message => message.role === 'user');
  const second = session.chat({ id: first.id, messages: [structuredClone(userMessage)] });
  await second.resumeStream();
  await session.settled(second, 'chat B (resumed) to settle');
  const third = session.chat({ id: first.id, messages: structuredClone(second.messages) });
  await third.resumeStream();
  await session.settled(third, 'chat C (resume after the end) to settle');
  return session.report({ heldByFirst });
}

/** The AI SDK's own approval signing (ai/internal, ai@7): verify ours, and sign for us to verify. */
async function approvalSignatureScenario(session) {
  const internal = await import('ai/internal');
  const { secret, verify = [], sign = [] } = session.options;
  const verified = [];
  for (const request of verify) verified.push(await internal.verifyToolApprovalSignature({ secret, ...request }));
  const signed = [];
  for (const request of sign) signed.push(await internal.signToolApproval({ secret, ...request }));
  return { verified, signed, processErrors };
}

const SCENARIOS = {
  'socket-abort': socketAbortScenario,
  'socket-drop-resume': socketDropResumeScenario,
  'approval-signature': approvalSignatureScenario,
  stop: stopScenario,
  approval: approvalScenario,
  text: sendScenario,
  reasoning: sendScenario,
  'tool-call': sendScenario,
  'tool-followup': followupScenario,
  'error-chunk': sendScenario,
  'http-error': sendScenario,
  history: sendScenario,
  regenerate: regenerateScenario,
  resume: resumeScenario,
  'resume-idle': resumeIdleScenario,
};

async function runScenario(baseUrl, scenario, options) {
  processErrors.length = 0;
  ai = await client(options.major ?? 7);
  const session = new Session(baseUrl, options);
  let result;
  try {
    result = await SCENARIOS[scenario](session);
  } catch (error) {
    result = { ...(await session.report().catch(() => ({}))), harnessError: describeError(error) };
  }
  return JSON.stringify({ scenario, major: options.major ?? 7, ...result });
}

/** One Node process for many scenarios (Node's start-up, not the scenario, is most of a run). */
async function serve() {
  const { createInterface } = await import('node:readline');
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const { baseUrl, scenario, options } = JSON.parse(line);
    const output = SCENARIOS[scenario]
      ? await runScenario(baseUrl, scenario, options ?? {})
      : JSON.stringify({ scenario, harnessError: { name: 'usage', message: `unknown scenario ${scenario}` } });
    process.stdout.write(`${output}\n`);
  }
}

async function main() {
  const [baseUrl, scenario, optionsJson = '{}'] = process.argv.slice(2);
  if (baseUrl === '--serve') return serve();
  if (!baseUrl || !SCENARIOS[scenario]) {
    console.error(`usage: node client.mjs <baseUrl> <${Object.keys(SCENARIOS).join('|')}> '<options json>'`);
    process.exit(2);
  }
  process.stdout.write(`${await runScenario(baseUrl, scenario, JSON.parse(optionsJson))}\n`);
}

await main();
