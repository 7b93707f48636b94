import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ApiError,
  clearConversation,
  describeError,
  errorBodyMessage,
  getSettings,
  listPresets,
  loadConversation,
  patchBlockMeta,
} from './api';
import { fakeServer, jsonResponse, type FakeServer } from './test/fakeServer';

let server: FakeServer;

beforeEach(() => {
  server = fakeServer();
  vi.stubGlobal('fetch', server.fetch);
});

describe('errorBodyMessage', () => {
  it("unwraps the server's {error: {code, message}} and simpler shapes", () => {
    expect(errorBodyMessage('{"error":{"code":"stream_active","message":"A stream is running."}}')).toBe(
      'A stream is running.',
    );
    expect(errorBodyMessage('{"error":"bad"}')).toBe('bad');
    expect(errorBodyMessage('plain text\n')).toBe('plain text');
    expect(describeError(new Error('{"error":{"code":"x","message":"nice"}}'))).toBe('nice');
  });
});

describe('REST helpers', () => {
  it('encode block ids and send JSON', async () => {
    server.route('PATCH /api/blocks/a%20b/meta', () => jsonResponse({ 'ai:preset': 'deep' }));
    await patchBlockMeta('a b', { 'ai:preset': 'deep' });
    expect(server.requests[0]?.body).toEqual({ 'ai:preset': 'deep' });
  });

  it('treat a missing conversation as empty, and other failures as errors', async () => {
    expect(await loadConversation('block-1')).toEqual([]);
    server.route('GET /api/ai/conversations/block-1', () =>
      jsonResponse({ error: { code: 'internal', message: 'database locked' } }, 500),
    );
    const failure = await loadConversation('block-1').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApiError);
    expect((failure as ApiError).status).toBe(500);
    expect((failure as ApiError).message).toBe('database locked');
    await expect(clearConversation('block-1')).resolves.toBeUndefined();
  });

  it('read presets and settings defensively', async () => {
    server.route('GET /api/ai/presets', () => jsonResponse({ presets: [{ name: 'fast' }, { nope: 1 }] }));
    server.route('GET /api/settings', () => jsonResponse({ 'ui:blocks': [] }));
    expect(await listPresets()).toEqual([{ name: 'fast' }]);
    expect(await getSettings()).toEqual({ 'ui:blocks': [] });
  });
});
