import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/react';
import type { UIMessage } from 'ai';
import { MessageView, type MessageActions } from './MessageView';

function actions(): MessageActions {
  return { onEdit: vi.fn(), onRegenerate: vi.fn(), onApprovalResponse: vi.fn() };
}

const user: UIMessage = {
  id: 'u1',
  role: 'user',
  parts: [
    { type: 'file', mediaType: 'image/png', url: 'data:image/png;base64,AAAA', filename: 'a.png' },
    { type: 'text', text: 'look at this' },
  ],
};

describe('MessageView', () => {
  it('marks the role and keeps attachments when a user message is edited', () => {
    const handlers = actions();
    const { container } = render(<MessageView message={user} busy={false} actions={handlers} />);
    expect(container.querySelector('[data-role="user"]')).not.toBeNull();
    expect(screen.queryByTestId('answer-metadata')).toBeNull();

    fireEvent.click(screen.getByRole('button', { name: 'Edit message' }));
    const editor = screen.getByRole('textbox', { name: 'Edit message' });
    expect((editor as HTMLTextAreaElement).value).toBe('look at this');
    fireEvent.change(editor, { target: { value: 'look again' } });
    fireEvent.click(screen.getByRole('button', { name: 'Send edited message' }));
    expect(handlers.onEdit).toHaveBeenCalledWith('u1', 'look again', [user.parts[0]]);
  });

  it('cancels an edit with Esc without sending', () => {
    const handlers = actions();
    render(<MessageView message={user} busy={false} actions={handlers} />);
    fireEvent.click(screen.getByRole('button', { name: 'Edit message' }));
    fireEvent.keyDown(screen.getByRole('textbox', { name: 'Edit message' }), { key: 'Escape' });
    expect(screen.queryByRole('textbox', { name: 'Edit message' })).toBeNull();
    expect(handlers.onEdit).not.toHaveBeenCalled();
  });

  it('disables edit and regenerate while the pane is busy', () => {
    const answer: UIMessage = { id: 'a1', role: 'assistant', parts: [{ type: 'text', text: 'hi' }] };
    render(<MessageView message={answer} busy actions={actions()} />);
    expect((screen.getByRole('button', { name: 'Regenerate answer' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('says so when a saved answer has no content', () => {
    const answer: UIMessage = { id: 'a1', role: 'assistant', metadata: { preset: 'fast' }, parts: [{ type: 'step-start' }] };
    render(<MessageView message={answer} busy={false} actions={actions()} />);
    expect(screen.getByText('(no content)')).toBeTruthy();
    expect(screen.getByTestId('answer-metadata').textContent).toContain('preset fast');
  });
});
