/**
 * Fetch helpers for the Chatwire REST API (everything except the chat stream
 * itself, which goes through the AI SDK transport in transport.ts).
 *
 * Every helper takes the path segments it needs and encodes them here, so no
 * caller builds a URL by hand.
 */
import type { UIMessage } from 'ai';

/** One entry of `GET /api/ai/presets`. */
export type PresetSummary = {
  name: string;
  description?: string;
  provider?: string;
  model?: string;
  apiKeyPresent?: boolean;
};

/** A non-2xx answer, with the server's message when it sent one. */
export class ApiError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

/**
 * The human part of an error body. The server answers
 * `{"error": {"code", "message", ...}}`; a plain `{"error": "..."}` or text also works.
 */
export function errorBodyMessage(body: string): string {
  const text = body.trim();
  try {
    const parsed: unknown = JSON.parse(text);
    if (isRecord(parsed)) {
      const error = parsed.error;
      if (isRecord(error) && typeof error.message === 'string') return error.message;
      if (typeof error === 'string') return error;
      if (typeof parsed.message === 'string') return parsed.message;
    }
  } catch {
    // Not JSON: the text is the message.
  }
  return text;
}

async function errorFrom(response: Response): Promise<ApiError> {
  let body = '';
  try {
    body = await response.text();
  } catch {
    // The body is only decoration for the message; the status is what matters.
  }
  const detail = errorBodyMessage(body);
  return new ApiError(response.status, detail || `${response.status} ${response.statusText}`.trim());
}

async function requestJson(method: string, url: string, body?: unknown): Promise<unknown> {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? undefined : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? (JSON.parse(text) as unknown) : null;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const encode = encodeURIComponent;

/** `GET /api/ai/presets`: the presets the server knows, in its order. */
export async function listPresets(): Promise<PresetSummary[]> {
  const data = await requestJson('GET', '/api/ai/presets');
  const presets = isRecord(data) && Array.isArray(data.presets) ? data.presets : [];
  return presets.filter(
    (preset): preset is PresetSummary => isRecord(preset) && typeof preset.name === 'string',
  );
}

/**
 * `GET /api/ai/conversations/<blockId>`: the saved messages of one block.
 * A block that never chatted answers 404, which simply means "no messages".
 */
export async function loadConversation(blockId: string): Promise<UIMessage[]> {
  try {
    const data = await requestJson('GET', `/api/ai/conversations/${encode(blockId)}`);
    return isRecord(data) && Array.isArray(data.messages) ? (data.messages as UIMessage[]) : [];
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return [];
    throw error;
  }
}

/** `DELETE /api/ai/conversations/<blockId>`; a missing conversation is already cleared. */
export async function clearConversation(blockId: string): Promise<void> {
  try {
    await requestJson('DELETE', `/api/ai/conversations/${encode(blockId)}`);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
  }
}

/**
 * `POST /api/ai/chat/<blockId>/stop`. The server keeps generating after the
 * browser disconnects (so a reload can resume), so aborting the fetch alone
 * does not stop the model; this endpoint cancels it and saves the partial answer.
 */
export async function stopGeneration(blockId: string): Promise<void> {
  await requestJson('POST', `/api/ai/chat/${encode(blockId)}/stop`);
}

/** `GET /api/blocks/<blockId>/meta`: per-block settings such as the pinned preset. */
export async function getBlockMeta(blockId: string): Promise<Record<string, unknown>> {
  try {
    const data = await requestJson('GET', `/api/blocks/${encode(blockId)}/meta`);
    return isRecord(data) ? data : {};
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return {};
    throw error;
  }
}

/** `PATCH /api/blocks/<blockId>/meta`; a `null` value removes the key. */
export async function patchBlockMeta(
  blockId: string,
  changes: Record<string, unknown>,
): Promise<void> {
  await requestJson('PATCH', `/api/blocks/${encode(blockId)}/meta`, changes);
}

/**
 * `GET /api/settings`: the global settings object. Accepts both a bare object
 * and one wrapped as `{settings: {...}}`, since only PATCH is fixed by the contract.
 */
export async function getSettings(): Promise<Record<string, unknown>> {
  const data = await requestJson('GET', '/api/settings');
  if (isRecord(data) && isRecord(data.settings)) return data.settings;
  return isRecord(data) ? data : {};
}

/** `GET /api/me`: who is signed in (a users-file name), or null for the single implicit user. */
export async function getSignedInName(): Promise<string | null> {
  const data = await requestJson('GET', '/api/me');
  if (!isRecord(data) || data.implicit === true || typeof data.name !== 'string') return null;
  return data.name;
}

/** `PATCH /api/settings` with only the keys that changed. */
export async function patchSettings(changes: Record<string, unknown>): Promise<void> {
  await requestJson('PATCH', '/api/settings', changes);
}

/**
 * Text for an error shown in the UI (never a stack trace). The chat transport
 * puts the raw response body into `error.message`, so JSON error bodies are
 * unwrapped here too.
 */
export function describeError(error: unknown): string {
  if (error instanceof Error) return errorBodyMessage(error.message) || error.name;
  return String(error);
}
