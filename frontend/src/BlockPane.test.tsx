/**
 * A pane end to end at the fetch seam: the real useChat + DefaultChatTransport
 * against a fake backend that speaks the real SSE wire format.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import type { UIMessage } from 'ai';
import { BlockPane, describeEffectivePreset, type BlockPaneProps } from './BlockPane';
import {
  fakeServer,
  jsonResponse,
  openSseResponse,
  sseResponse,
  textAnswer,
  type FakeServer,
  type RecordedRequest,
} from './test/fakeServer';

const CHAT = 'POST /api/ai/chat/block-1';
const metadata = {
  preset: 'fast',
  provider: 'anthropic',
  model: 'claude-x',
  resolvedFrom: { preset: 'url', model: 'preset', maxTokens: 'default' },
  usage: { inputTokens: 10, outputTokens: 4, totalTokens: 14 },
};

let server: FakeServer;

beforeEach(() => {
  server = fakeServer({
    'GET /api/ai/conversations/block-1': () => jsonResponse({ blockId: 'block-1', messages: [], version: 0 }),
    'GET /api/blocks/block-1/meta': () => jsonResponse({}),
    'PATCH /api/blocks/block-1/meta': () => jsonResponse({}),
    'DELETE /api/ai/conversations/block-1': () => new Response(null, { status: 204 }),
    'POST /api/ai/chat/block-1/stop': () => jsonResponse({ stopped: true }),
    'GET /api/ai/chat/block-1/block-1/stream': () => new Response(null, { status: 204 }),
  });
  vi.stubGlobal('fetch', server.fetch);
});

function renderPane(overrides: Partial<BlockPaneProps> = {}) {
  const props: BlockPaneProps = {
    block: { id: 'block-1', title: 'Research' },
    urlPreset: null,
    presets: [{ name: 'fast' }, { name: 'deep' }],
    onClose: vi.fn(),
    onRename: vi.fn(),
    resume: false,
    ...overrides,
  };
  const view = render(<BlockPane {...props} />);
  return { ...view, props, rerenderWith: (next: Partial<BlockPaneProps>) => view.rerender(<BlockPane {...props} {...next} />) };
}

async function type(text: string) {
  const input = await screen.findByRole('textbox', { name: 'Message to Research' });
  fireEvent.change(input, { target: { value: text } });
  fireEvent.keyDown(input, { key: 'Enter' });
}

function assistantMessages() {
  return document.querySelectorAll('[data-role="assistant"]');
}

function bodyOf(request: RecordedRequest | undefined) {
  return request?.body as { id: string; trigger: string; messageId?: string; messages: UIMessage[] };
}

async function waitForReady() {
  await waitFor(() => expect(screen.getByTestId('chat-status').textContent).toBe('ready'));
}

describe('BlockPane', () => {
  it('is a labelled section that loads the saved conversation before chatting', async () => {
    const saved: UIMessage[] = [
      { id: 'u0', role: 'user', parts: [{ type: 'text', text: 'earlier question' }] },
      { id: 'a0', role: 'assistant', metadata, parts: [{ type: 'text', text: 'earlier answer' }] },
    ];
    server.route('GET /api/ai/conversations/block-1', () => jsonResponse({ messages: saved, version: 2 }));
    server.route(CHAT, () => sseResponse(textAnswer('new **answer**', metadata)));
    renderPane();

    const section = screen.getByRole('region', { name: 'Block Research' });
    expect(await within(section).findByText('earlier answer')).toBeTruthy();
    await type('next question');

    await waitFor(() => expect(assistantMessages()).toHaveLength(2));
    expect(assistantMessages()[1]?.querySelector('strong')?.textContent).toBe('answer');
    const [request] = server.requestsTo(CHAT);
    expect(request?.search).toBe('');
    const body = bodyOf(request);
    expect(body.trigger).toBe('submit-message');
    expect(body.messages.map((message) => message.id).slice(0, 2)).toEqual(['u0', 'a0']);
    expect(body.messages).toHaveLength(3);
  });

  it('shows which preset and model answered, with token usage', async () => {
    server.route(CHAT, () => sseResponse(textAnswer('hi', metadata)));
    renderPane();
    await type('hello');
    const footer = await screen.findByTestId('answer-metadata');
    expect(footer.textContent).toContain('preset fast');
    expect(footer.textContent).toContain('anthropic/claude-x');
    expect(footer.textContent).toContain('from url');
    expect(footer.querySelector('[data-field="resolved-from"]')?.getAttribute('title')).toBe(
      'preset=url model=preset maxTokens=default',
    );
    expect(footer.textContent).toContain('in 10 · out 4 · total 14');
  });

  it('switches presets without remounting: same chat, new URL', async () => {
    server.route(CHAT, (request) => sseResponse(textAnswer(`answer via ${request.search}`)));
    const { rerenderWith } = renderPane({ urlPreset: 'fast' });
    await type('one');
    await screen.findByText('answer via ?preset=fast');

    rerenderWith({ urlPreset: 'deep' });
    expect(screen.getByTestId('effective-preset').textContent).toBe('URL preset deep');
    await type('two');
    await screen.findByText('answer via ?preset=deep');

    expect(screen.getByText('answer via ?preset=fast')).toBeTruthy();
    expect(server.requestsTo(CHAT).map((request) => request.search)).toEqual(['?preset=fast', '?preset=deep']);
    expect(server.requestsTo('GET /api/ai/conversations/block-1')).toHaveLength(1);
  });

  it('Esc stops both the local stream and the server generation', async () => {
    server.route(CHAT, (request) =>
      openSseResponse(
        [{ type: 'start' }, { type: 'start-step' }, { type: 'text-start', id: 't' }, { type: 'text-delta', id: 't', delta: 'partial' }],
        request.signal,
      ),
    );
    renderPane();
    await type('long task');
    await screen.findByText('partial');
    expect(screen.getByRole('button', { name: 'Stop generating' })).toBeTruthy();

    fireEvent.keyDown(screen.getByRole('textbox', { name: 'Message to Research' }), { key: 'Escape' });
    await waitForReady();
    expect(server.requestsTo('POST /api/ai/chat/block-1/stop')).toHaveLength(1);
    expect(screen.getByText('partial')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Send message' })).toBeTruthy();
  });

  it('continues automatically after a tool approval', async () => {
    let call = 0;
    server.route(CHAT, () => {
      call += 1;
      if (call === 1) {
        return sseResponse([
          { type: 'start', messageId: 'a1' },
          { type: 'start-step' },
          { type: 'tool-input-available', toolCallId: 'c1', toolName: 'delete_file', input: { path: '/tmp/x' }, dynamic: true },
          { type: 'tool-approval-request', approvalId: 'ap-1', toolCallId: 'c1' },
          { type: 'finish-step' },
          { type: 'finish', finishReason: 'tool-calls' },
        ]);
      }
      return sseResponse([
        { type: 'start', messageId: 'a1' },
        { type: 'tool-output-available', toolCallId: 'c1', output: { deleted: true }, dynamic: true },
        { type: 'start-step' },
        { type: 'text-start', id: 't2' },
        { type: 'text-delta', id: 't2', delta: 'Deleted it.' },
        { type: 'text-end', id: 't2' },
        { type: 'finish-step' },
        { type: 'finish', finishReason: 'stop' },
      ]);
    });
    renderPane();
    await type('delete /tmp/x');
    fireEvent.click(await screen.findByRole('button', { name: 'Approve delete_file' }));

    await screen.findByText('Deleted it.');
    const follow = bodyOf(server.requestsTo(CHAT)[1]);
    expect(follow.trigger).toBe('submit-message');
    expect(follow.messageId).toBe('a1');
    const lastPart = follow.messages.at(-1)?.parts.find((part) => part.type === 'dynamic-tool');
    expect(lastPart).toMatchObject({ state: 'approval-responded', approval: { id: 'ap-1', approved: true } });
    expect(document.querySelector('[data-part="tool"]')?.getAttribute('data-state')).toBe('output-available');
    expect(assistantMessages()).toHaveLength(1);
  });

  it('shows an error with Retry, which regenerates', async () => {
    let call = 0;
    server.route(CHAT, () => {
      call += 1;
      return call === 1
        ? jsonResponse({ error: { code: 'upstream_unavailable', message: 'model overloaded' } }, 503)
        : sseResponse(textAnswer('second try'));
    });
    renderPane();
    await type('hello');
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toBe('Error: model overloadedRetry');

    fireEvent.click(within(alert).getByRole('button', { name: 'Retry' }));
    await screen.findByText('second try');
    expect(bodyOf(server.requestsTo(CHAT)[1]).trigger).toBe('regenerate-message');
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('edits a user message and regenerates an answer', async () => {
    let call = 0;
    server.route(CHAT, () => sseResponse(textAnswer(`answer ${(call += 1)}`)));
    renderPane();
    await type('first wording');
    await screen.findByText('answer 1');

    fireEvent.click(screen.getByRole('button', { name: 'Edit message' }));
    const editor = screen.getByRole('textbox', { name: 'Edit message' });
    fireEvent.change(editor, { target: { value: 'second wording' } });
    fireEvent.keyDown(editor, { key: 'Enter' });
    await screen.findByText('answer 2');
    const edit = bodyOf(server.requestsTo(CHAT)[1]);
    const userId = bodyOf(server.requestsTo(CHAT)[0]).messages[0]?.id;
    expect(edit).toMatchObject({ trigger: 'submit-message', messageId: userId });
    expect(edit.messages).toHaveLength(1);
    expect(edit.messages[0]?.parts).toEqual([{ type: 'text', text: 'second wording' }]);
    expect(screen.queryByText('first wording')).toBeNull();

    await waitForReady();
    fireEvent.click(screen.getByRole('button', { name: 'Regenerate answer' }));
    await screen.findByText('answer 3');
    const regenerate = bodyOf(server.requestsTo(CHAT)[2]);
    expect(regenerate.trigger).toBe('regenerate-message');
    expect(regenerate.messageId).toBeDefined();
    expect(assistantMessages()).toHaveLength(1);
  });

  it('Shift+Enter does not send', async () => {
    renderPane();
    const input = await screen.findByRole('textbox', { name: 'Message to Research' });
    fireEvent.change(input, { target: { value: 'line one' } });
    fireEvent.keyDown(input, { key: 'Enter', shiftKey: true });
    expect(server.requestsTo(CHAT)).toHaveLength(0);
  });

  it('Clear deletes the saved conversation and empties the pane', async () => {
    server.route(CHAT, () => sseResponse(textAnswer('something')));
    renderPane();
    await type('hello');
    await screen.findByText('something');
    await waitForReady();

    fireEvent.click(screen.getByRole('button', { name: 'Clear conversation of Research' }));
    await screen.findByText('No messages yet.');
    expect(server.requestsTo('DELETE /api/ai/conversations/block-1')).toHaveLength(1);
  });

  it('sends attached images as file parts', async () => {
    server.route(CHAT, () => sseResponse(textAnswer('a cat')));
    renderPane();
    const fileInput = await screen.findByLabelText('Attach images');
    const file = new File([new Uint8Array([137, 80, 78, 71])], 'cat.png', { type: 'image/png' });
    const transfer = new DataTransfer();
    transfer.items.add(file);
    fireEvent.change(fileInput, { target: { files: transfer.files } });
    expect(screen.getByTestId('attachments').textContent).toContain('cat.png');
    await type('what is this?');

    await screen.findByText('a cat');
    const parts = bodyOf(server.requestsTo(CHAT)[0]).messages[0]?.parts;
    expect(parts?.[0]).toMatchObject({ type: 'file', mediaType: 'image/png', filename: 'cat.png' });
    expect((parts?.[0] as { url: string }).url).toMatch(/^data:image\/png;base64,/);
    expect(parts?.[1]).toEqual({ type: 'text', text: 'what is this?' });
    expect(document.querySelector('[data-role="user"] [data-part="file"] img')).not.toBeNull();
  });

  it('offers to retry when the conversation cannot be loaded', async () => {
    server.route('GET /api/ai/conversations/block-1', () => new Response('database locked', { status: 500 }));
    renderPane();
    expect((await screen.findByRole('alert')).textContent).toContain('database locked');
    server.route('GET /api/ai/conversations/block-1', () => jsonResponse({ messages: [], version: 0 }));
    fireEvent.click(screen.getByRole('button', { name: 'Retry loading' }));
    await screen.findByText('No messages yet.');
  });

  it('shows and changes the pinned preset through block meta', async () => {
    server.route('GET /api/blocks/block-1/meta', () => jsonResponse({ 'ai:preset': 'deep' }));
    renderPane();
    const select = await screen.findByRole('combobox', { name: 'Pinned preset of block Research' });
    await waitFor(() => expect((select as HTMLSelectElement).value).toBe('deep'));
    expect(screen.getByTestId('effective-preset').textContent).toBe('pinned deep');

    fireEvent.change(select, { target: { value: '' } });
    await waitFor(() => expect(screen.getByTestId('effective-preset').textContent).toBe('server default'));
    expect(server.requestsTo('PATCH /api/blocks/block-1/meta')[0]?.body).toEqual({ 'ai:preset': null });
  });

  it('asks the server for a running stream on open (resume) and accepts 204', async () => {
    renderPane({ resume: true });
    await waitFor(() => expect(server.requestsTo('GET /api/ai/chat/block-1/block-1/stream')).toHaveLength(1));
    await waitForReady();
    expect(screen.queryByRole('alert')).toBeNull();
  });
});

describe('describeEffectivePreset', () => {
  it('follows the server order: URL over pinned over default', () => {
    expect(describeEffectivePreset(null, null)).toBe('server default');
    expect(describeEffectivePreset(null, 'deep')).toBe('pinned deep');
    expect(describeEffectivePreset('fast', null)).toBe('URL preset fast');
    expect(describeEffectivePreset('fast', 'fast')).toBe('URL preset fast');
    expect(describeEffectivePreset('fast', 'deep')).toBe('URL preset fast overrides pinned deep');
  });
});
