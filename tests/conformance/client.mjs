#!/usr/bin/env node
// Drives a running Chatwire server with the real AI SDK client: `AbstractChat` (what `useChat`
// runs, with an in-memory state like @ai-sdk/react's) + `DefaultChatTransport`. The SDK's own
// schema and state-machine checks judge our stream; this script only records what happened.
//
//   node client.mjs <baseUrl> <scenario> '<options json>'
//
// Prints ONE JSON line (see `report()`), exit code 0 even when the chat ends in an error:
// tests/conformance/test_conformance.py asserts. Exit code 2 = bad arguments / harness bug.

import {
  AbstractChat,
  DefaultChatTransport,
  JSONParseError,
  TypeValidationError,
  UIMessageStreamError,
  lastAssistantMessageIsCompleteWithApprovalResponses,
  lastAssistantMessageIsCompleteWithToolCalls,
  safeValidateUIMessages,
} from 'ai';

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

class Chat extends AbstractChat {
  constructor({ messages, ...init }) {
    const state = new MemoryChatState(messages);
    super({ ...init, state });
    this.memory = state;
  }
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
      TypeValidationError.isInstance(current) ||
      JSONParseError.isInstance(current) ||
      UIMessageStreamError.isInstance(current) ||
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
  }

  api(blockId = this.options.blockId) {
    const query = this.options.preset ? `?preset=${encodeURIComponent(this.options.preset)}` : '';
    return `${this.baseUrl}/api/ai/chat/${encodeURIComponent(blockId)}${query}`;
  }

  /** A Chat as `useChat({id, transport, onError, onFinish, ...})` would create it. */
  chat({ id, messages = [], clientTools = false, approvals = false } = {}) {
    const record = { errors: [], finishes: [], toolCalls: [], toolOutputs: [] };
    const transport = new DefaultChatTransport({
      api: this.api(),
      body: this.options.body,
      fetch: recordingFetch(this.exchanges),
    });
    const chat = new Chat({
      id,
      messages,
      transport,
      onError: error => record.errors.push(error),
      onFinish: ({ message, isAbort, isDisconnect, isError, finishReason }) =>
        record.finishes.push({ messageId: message.id, isAbort, isDisconnect, isError, finishReason }),
      ...(clientTools
        ? {
            sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithToolCalls,
            onToolCall: ({ toolCall }) => {
              record.toolCalls.push(structuredClone(toolCall));
              const output = runClientTool(toolCall, record.toolOutputs.length);
              record.toolOutputs.push({ toolCallId: toolCall.toolCallId, output });
              // As the docs say: call addToolOutput without awaiting it inside onToolCall.
              void chat.addToolOutput({ tool: toolCall.toolName, toolCallId: toolCall.toolCallId, output });
            },
          }
        : {}),
      ...(approvals ? { sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses } : {}),
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
        : await safeValidateUIMessages({ messages: chat.messages }).catch(error => ({ success: false, error }));
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
    const exchanges = this.exchanges.map(({ finished, body, ...exchange }) => ({
      ...exchange,
      ...(exchange.contentType?.startsWith('text/event-stream') ? parseSse(body) : { text: body }),
    }));
    return { ...chats[0], chats, exchanges, validationErrors, processErrors, ...result };
  }
}

// ---------------------------------------------------------------------------------------------
// Scenarios. Most differ only in preset / body, so one runner serves them; the test asserts.

async function sendScenario(session) {
  const chat = session.chat({ id: session.options.chatId, clientTools: session.options.clientTools });
  await chat.sendMessage({ text: session.options.text ?? 'hi' });
  await session.settled(chat);
  return session.report();
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
  if (requested) {
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

const SCENARIOS = {
  approval: approvalScenario,
  text: sendScenario,
  reasoning: sendScenario,
  'tool-call': sendScenario,
  'tool-followup': followupScenario,
  'error-chunk': sendScenario,
  'http-error': sendScenario,
  resume: resumeScenario,
  'resume-idle': resumeIdleScenario,
};

async function main() {
  const [baseUrl, scenario, optionsJson = '{}'] = process.argv.slice(2);
  const run = SCENARIOS[scenario];
  if (!baseUrl || !run) {
    console.error(`usage: node client.mjs <baseUrl> <${Object.keys(SCENARIOS).join('|')}> '<options json>'`);
    process.exit(2);
  }
  const options = JSON.parse(optionsJson);
  const session = new Session(baseUrl, options);
  let result;
  try {
    result = await run(session);
  } catch (error) {
    result = { ...(await session.report().catch(() => ({}))), harnessError: describeError(error) };
  }
  process.stdout.write(`${JSON.stringify({ scenario, ...result })}\n`);
}

await main();
