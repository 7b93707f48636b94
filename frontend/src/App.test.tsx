import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { App } from './App';
import { fakeServer, jsonResponse, sseResponse, textAnswer, type FakeServer } from './test/fakeServer';

let server: FakeServer;

beforeEach(() => {
  window.history.replaceState(null, '', '/?preset=fast');
  server = fakeServer({
    'GET /api/settings': () =>
      jsonResponse({ 'ui:blocks': [{ id: 'block-1', title: 'Research' }, { id: 'block-2', title: 'Code' }] }),
    'PATCH /api/settings': () => jsonResponse({}),
    'GET /api/me': () => jsonResponse({ name: 'default', role: 'admin', implicit: true }),
    'GET /api/ai/presets': () =>
      jsonResponse({
        presets: [
          { name: 'fast', description: 'quick', provider: 'openai', model: 'small', apiKeyPresent: true },
          { name: 'deep', description: 'slow', provider: 'anthropic', model: 'big', apiKeyPresent: false },
        ],
      }),
  });
  for (const id of ['block-1', 'block-2', 'block-3']) {
    server.route(`GET /api/ai/conversations/${id}`, () => jsonResponse({ error: 'none' }, 404));
    server.route(`GET /api/blocks/${id}/meta`, () => jsonResponse({}));
    server.route(`GET /api/ai/chat/${id}/${id}/stream`, () => new Response(null, { status: 204 }));
    server.route(`POST /api/ai/chat/${id}`, (request) => sseResponse(textAnswer(`${id} via ${request.search}`)));
  }
  vi.stubGlobal('fetch', server.fetch);
});

async function sendIn(title: string, text: string) {
  const pane = screen.getByRole('region', { name: `Block ${title}` });
  const input = await within(pane).findByRole('textbox', { name: `Message to ${title}` });
  await waitFor(() => expect(within(pane).getByTestId('chat-status').textContent).toBe('ready'));
  fireEvent.change(input, { target: { value: text } });
  fireEvent.keyDown(input, { key: 'Enter' });
  return pane;
}

describe('App', () => {
  it('shows who is signed in on a shared server, and nothing for the single implicit user', async () => {
    server.route('GET /api/me', () => jsonResponse({ name: 'alice', role: 'user', implicit: false }));
    const { unmount } = render(<App />);
    expect((await screen.findByLabelText('Signed in as')).textContent).toBe('alice');
    unmount();
    server.route('GET /api/me', () => jsonResponse({ name: 'default', role: 'admin', implicit: true }));
    render(<App />);
    await screen.findByRole('region', { name: 'Block Research' });
    expect(screen.queryByLabelText('Signed in as')).toBeNull();
  });

  it('opens the blocks stored in settings side by side', async () => {
    render(<App />);
    expect(await screen.findByRole('region', { name: 'Block Research' })).toBeTruthy();
    expect(screen.getByRole('region', { name: 'Block Code' })).toBeTruthy();
  });

  it('falls back to block-1 when no blocks are stored', async () => {
    server.route('GET /api/settings', () => jsonResponse({}));
    render(<App />);
    expect(await screen.findByRole('region', { name: 'Block block-1' })).toBeTruthy();
  });

  it('adds, renames and closes blocks, saving the list each time', async () => {
    render(<App />);
    await screen.findByRole('region', { name: 'Block Research' });

    fireEvent.click(screen.getByRole('button', { name: 'Add block' }));
    expect(await screen.findByRole('region', { name: 'Block block-3' })).toBeTruthy();

    fireEvent.click(screen.getByRole('button', { name: 'Rename block block-3' }));
    const titleInput = screen.getByRole('textbox', { name: 'Block title (Enter saves, Esc cancels)' });
    fireEvent.change(titleInput, { target: { value: 'Notes' } });
    fireEvent.keyDown(titleInput, { key: 'Enter' });
    expect(await screen.findByRole('region', { name: 'Block Notes' })).toBeTruthy();

    fireEvent.click(screen.getByRole('button', { name: 'Close block Code' }));
    await waitFor(() => expect(screen.queryByRole('region', { name: 'Block Code' })).toBeNull());

    await waitFor(() => expect(server.requestsTo('PATCH /api/settings')).toHaveLength(3));
    expect(server.requestsTo('PATCH /api/settings').map((request) => request.body)).toEqual([
      { 'ui:blocks': [{ id: 'block-1', title: 'Research' }, { id: 'block-2', title: 'Code' }, { id: 'block-3', title: 'block-3' }] },
      { 'ui:blocks': [{ id: 'block-1', title: 'Research' }, { id: 'block-2', title: 'Code' }, { id: 'block-3', title: 'Notes' }] },
      { 'ui:blocks': [{ id: 'block-1', title: 'Research' }, { id: 'block-3', title: 'Notes' }] },
    ]);
  });

  it('switches the URL preset for every block without reloading their chats', async () => {
    render(<App />);
    const switcher = await screen.findByRole('combobox', { name: 'Preset for all blocks (URL)' });
    await within(switcher).findByRole('option', { name: 'deep (anthropic/big) (no API key)' });
    expect((switcher as HTMLSelectElement).value).toBe('fast');

    const research = await sendIn('Research', 'one');
    await within(research).findByText('block-1 via ?preset=fast');

    fireEvent.change(switcher, { target: { value: 'deep' } });
    expect(window.location.search).toBe('?preset=deep');
    const code = await sendIn('Code', 'two');
    await within(code).findByText('block-2 via ?preset=deep');
    // block-1 kept its answer: the preset switch did not remount it.
    expect(within(research).getAllByText('block-1 via ?preset=fast')).toHaveLength(1);
    expect(server.requestsTo('GET /api/ai/conversations/block-1')).toHaveLength(1);

    // Back restores the previous preset.
    window.history.replaceState(null, '', '/?preset=fast');
    window.dispatchEvent(new PopStateEvent('popstate'));
    await waitFor(() => expect((switcher as HTMLSelectElement).value).toBe('fast'));

    fireEvent.change(switcher, { target: { value: '' } });
    expect(window.location.search).toBe('');
    await sendIn('Code', 'three');
    await within(code).findByText('block-2 via');
  });
});
