/**
 * The chat transport of one block: where `useChat` POSTs and how it resumes.
 */
import { DefaultChatTransport, type UIMessage } from 'ai';

type FetchFunction = typeof globalThis.fetch;

/**
 * `POST` URL of a block's chat: `/api/ai/chat/<blockId>` plus `?preset=` only
 * when the page URL names a preset. Without it the server resolves the preset
 * itself (block meta > global settings > default), so a pinned block preset
 * still applies.
 */
export function chatApiUrl(blockId: string, preset: string | null): string {
  const base = `/api/ai/chat/${encodeURIComponent(blockId)}`;
  return preset ? `${base}?preset=${encodeURIComponent(preset)}` : base;
}

/**
 * The URL `useChat({resume: true})` GETs on mount. DefaultChatTransport derives
 * it from `api` by appending `/<chatId>/stream` before the query string; the
 * chat id is the block id. Kept here so tests and docs have one source of truth.
 */
export function resumeStreamUrl(blockId: string, preset: string | null): string {
  const [path, query] = chatApiUrl(blockId, preset).split('?');
  const resumePath = `${path}/${encodeURIComponent(blockId)}/stream`;
  return query ? `${resumePath}?${query}` : resumePath;
}

/**
 * Builds the transport for one block. `fetchImplementation` is the test seam;
 * the body is the SDK default `{id, messages, trigger, messageId}`.
 */
export function makeChatTransport(
  blockId: string,
  preset: string | null,
  fetchImplementation?: FetchFunction,
): DefaultChatTransport<UIMessage> {
  return new DefaultChatTransport<UIMessage>({
    api: chatApiUrl(blockId, preset),
    ...(fetchImplementation ? { fetch: fetchImplementation } : {}),
  });
}
