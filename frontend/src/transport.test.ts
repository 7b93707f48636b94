import { describe, expect, it, vi } from 'vitest';
import type { UIMessage, UIMessageChunk } from 'ai';
import { chatApiUrl, makeChatTransport, resumeStreamUrl } from './transport';
import { fakeServer, sseResponse, textAnswer } from './test/fakeServer';

async function readAll(stream: ReadableStream<UIMessageChunk>): Promise<UIMessageChunk[]> {
  const chunks: UIMessageChunk[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return chunks;
    chunks.push(value);
  }
}

const userMessage: UIMessage = { id: 'u1', role: 'user', parts: [{ type: 'text', text: 'hi' }] };

describe('chatApiUrl', () => {
  it('omits ?preset= when the page has no URL preset', () => {
    expect(chatApiUrl('block-1', null)).toBe('/api/ai/chat/block-1');
  });

  it('adds the URL preset, encoded', () => {
    expect(chatApiUrl('block-1', 'deep')).toBe('/api/ai/chat/block-1?preset=deep');
    expect(chatApiUrl('blk/7', 'fast & cheap')).toBe('/api/ai/chat/blk%2F7?preset=fast%20%26%20cheap');
  });
});

describe('resumeStreamUrl', () => {
  it('puts /<chatId>/stream before the query, as DefaultChatTransport does', () => {
    expect(resumeStreamUrl('block-1', null)).toBe('/api/ai/chat/block-1/block-1/stream');
    expect(resumeStreamUrl('block-1', 'deep')).toBe('/api/ai/chat/block-1/block-1/stream?preset=deep');
  });
});

describe('makeChatTransport', () => {
  it('POSTs the default body to the block URL and parses the SSE answer', async () => {
    const server = fakeServer({ 'POST /api/ai/chat/blk%2F7': () => sseResponse(textAnswer('hello')) });
    const fetchSpy = vi.fn(server.fetch);
    const transport = makeChatTransport('blk/7', 'deep', fetchSpy);

    const stream = await transport.sendMessages({
      chatId: 'blk/7',
      messages: [userMessage],
      abortSignal: undefined,
      trigger: 'submit-message',
      messageId: undefined,
    });
    const chunks = await readAll(stream);

    expect(fetchSpy.mock.calls[0]?.[0]).toBe('/api/ai/chat/blk%2F7?preset=deep');
    const [request] = server.requests;
    expect(request?.method).toBe('POST');
    expect(request?.body).toEqual({ id: 'blk/7', messages: [userMessage], trigger: 'submit-message' });
    expect(chunks.map((chunk) => chunk.type)).toEqual([
      'start',
      'start-step',
      'text-start',
      'text-delta',
      'text-end',
      'finish-step',
      'finish',
    ]);
  });

  it('resumes with a GET to the stream URL and treats 204 as nothing to resume', async () => {
    const server = fakeServer({
      'GET /api/ai/chat/block-1/block-1/stream': () => new Response(null, { status: 204 }),
    });
    const transport = makeChatTransport('block-1', 'fast', server.fetch);
    const stream = await transport.reconnectToStream({ chatId: 'block-1' });
    expect(stream).toBeNull();
    expect(server.requests[0]?.url).toBe(resumeStreamUrl('block-1', 'fast'));
  });
});
