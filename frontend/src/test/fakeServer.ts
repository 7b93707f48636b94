/**
 * A stand-in for the Chatwire backend at the `fetch` seam: routes requests by
 * "METHOD /path" (path as sent, still percent-encoded; query string ignored), records every request,
 * and speaks the real UI message stream framing (SSE `data:` lines + [DONE]).
 */
import type { UIMessageChunk } from 'ai';

export type RecordedRequest = {
  method: string;
  path: string;
  search: string;
  url: string;
  body: unknown;
  signal: AbortSignal | undefined;
};

export type Handler = (request: RecordedRequest) => Response | Promise<Response>;

export type FakeServer = {
  fetch: typeof globalThis.fetch;
  requests: RecordedRequest[];
  /** Requests whose "METHOD /path" equals `route`. */
  requestsTo: (route: string) => RecordedRequest[];
  /** Adds or replaces a route while the test runs. */
  route: (route: string, handler: Handler) => void;
};

export function fakeServer(routes: Record<string, Handler> = {}): FakeServer {
  const table = new Map(Object.entries(routes));
  const requests: RecordedRequest[] = [];
  const fetchImplementation = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input instanceof Request ? input.url : input), 'http://chatwire.test');
    const method = (init?.method ?? 'GET').toUpperCase();
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined;
    const request: RecordedRequest = {
      method,
      path: url.pathname,
      search: url.search,
      url: `${url.pathname}${url.search}`,
      body,
      signal: init?.signal ?? undefined,
    };
    requests.push(request);
    const handler = table.get(`${method} ${url.pathname}`);
    if (!handler) return new Response('not found', { status: 404 });
    return handler(request);
  };
  return {
    fetch: fetchImplementation as typeof globalThis.fetch,
    requests,
    requestsTo: (route) => requests.filter((request) => `${request.method} ${request.path}` === route),
    route: (route, handler) => table.set(route, handler),
  };
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  'x-vercel-ai-ui-message-stream': 'v1',
};

export function sseText(chunks: readonly UIMessageChunk[]): string {
  return chunks.map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`).join('') + 'data: [DONE]\n\n';
}

/** A complete UI message stream response. */
export function sseResponse(chunks: readonly UIMessageChunk[]): Response {
  return new Response(sseText(chunks), { headers: SSE_HEADERS });
}

/**
 * A stream that sends `chunks` and then stays open until the request is
 * aborted, like a model still generating.
 */
export function openSseResponse(chunks: readonly UIMessageChunk[], signal: AbortSignal | undefined): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(`data: ${JSON.stringify(chunk)}\n\n`));
      signal?.addEventListener('abort', () => controller.error(new DOMException('aborted', 'AbortError')));
    },
  });
  return new Response(body, { headers: SSE_HEADERS });
}

export function jsonResponse(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json' } });
}

/** A short text answer with the server's metadata, as one step. */
export function textAnswer(text: string, metadata?: Record<string, unknown>): UIMessageChunk[] {
  return [
    { type: 'start', messageMetadata: metadata },
    { type: 'start-step' },
    { type: 'text-start', id: 't1' },
    { type: 'text-delta', id: 't1', delta: text },
    { type: 'text-end', id: 't1' },
    { type: 'finish-step' },
    { type: 'finish', finishReason: 'stop', messageMetadata: metadata },
  ];
}
