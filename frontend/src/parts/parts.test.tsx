import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/react';
import type { DynamicToolUIPart, ToolUIPart } from 'ai';
import { PartView, type MessagePart } from './PartView';
import { ToolPart } from './ToolPart';

function renderPart(part: MessagePart, index = 1) {
  const onApprovalResponse = vi.fn();
  const view = render(<PartView part={part} index={index} onApprovalResponse={onApprovalResponse} />);
  return { ...view, onApprovalResponse };
}

describe('text parts', () => {
  it('render markdown with emphasis, lists and code blocks with their language and a copy button', () => {
    const { container } = renderPart({
      type: 'text',
      state: 'done',
      text: 'Some **bold** text\n\n- one\n- two\n\n```python\nprint("hi")\n```\n\nand `inline`',
    });
    const part = container.querySelector('[data-part="text"]');
    expect(part?.querySelector('strong')?.textContent).toBe('bold');
    expect(part?.querySelectorAll('li')).toHaveLength(2);
    const block = part?.querySelector('[data-streamdown="code-block"]');
    expect(block?.getAttribute('data-language')).toBe('python');
    expect(block?.querySelector('[data-streamdown="code-block-header"]')?.textContent).toBe('python');
    expect(block?.querySelector('pre code')?.textContent).toBe('print("hi")');
    expect(block?.querySelector('button[aria-label="Copy code"]')).not.toBeNull();
    expect(part?.querySelector('[data-streamdown="inline-code"], p code')?.textContent).toBe('inline');
  });

  it('render GFM: tables, task lists, strikethrough and autolinks', () => {
    const { container } = renderPart({
      type: 'text',
      state: 'done',
      text: '| pod | status |\n|---|---|\n| api | ~~down~~ up |\n\n- [x] done\n- [ ] todo\n\nsee https://docs.example/a',
    });
    expect([...container.querySelectorAll('th')].map((cell) => cell.textContent)).toEqual(['pod', 'status']);
    expect(container.querySelector('td del')?.textContent).toBe('down');
    const boxes = [...container.querySelectorAll<HTMLInputElement>('li input[type="checkbox"]')];
    expect(boxes.map((box) => box.checked)).toEqual([true, false]);
    expect(boxes.every((box) => box.disabled)).toBe(true);
    expect(container.querySelector('a')?.getAttribute('href')).toBe('https://docs.example/a');
  });

  it('show raw HTML as text and never render unsafe links or images', () => {
    const { container } = renderPart({
      type: 'text',
      state: 'done',
      text:
        'a <script>alert(1)</script><b>raw</b> <img src=x onerror=alert(1)> [click](javascript:alert(1)) [ok](https://example.com)' +
        ' ![pixel](data:image/png;base64,AAAA) ![svg](data:image/svg+xml;base64,PHN2Zz4=) ![js](javascript:alert(1))',
    });
    expect(container.querySelector('script, b, [onerror]')).toBeNull();
    expect(container.textContent).toContain('<script>alert(1)</script><b>raw</b>');
    const links = container.querySelectorAll('a');
    expect(links).toHaveLength(1);
    expect(links[0]?.getAttribute('href')).toBe('https://example.com/');
    expect(links[0]?.getAttribute('rel')).toBe('noreferrer noopener');
    const images = container.querySelectorAll('img');
    expect([...images].map((image) => image.getAttribute('src'))).toEqual(['data:image/png;base64,AAAA']);
    expect(images[0]?.getAttribute('referrerpolicy')).toBe('no-referrer');
  });

  it('complete unterminated markdown while streaming', () => {
    const { container } = renderPart({ type: 'text', state: 'streaming', text: 'Half **bold text' });
    expect(container.querySelector('strong')?.textContent).toBe('bold text');
    expect(container.textContent).not.toContain('**');
    const fence = renderPart({ type: 'text', state: 'streaming', text: 'Code:\n\n```python\nprint(' });
    expect(fence.container.querySelector('[data-streamdown="code-block"] pre code')?.textContent).toBe('print(');
  });
});

describe('reasoning parts', () => {
  it('are open while streaming and collapsed when done, text kept in the DOM', () => {
    const { container, rerender } = renderPart({ type: 'reasoning', text: 'thinking hard', state: 'streaming' });
    const details = () => container.querySelector('details[data-part="reasoning"]') as HTMLDetailsElement;
    expect(details().open).toBe(true);
    expect(details().textContent).toContain('thinking hard');

    rerender(
      <PartView part={{ type: 'reasoning', text: 'thinking hard', state: 'done' }} index={1} onApprovalResponse={vi.fn()} />,
    );
    expect(details().open).toBe(false);
    expect(details().textContent).toContain('thinking hard');
  });

  it('draw nothing for finished reasoning without text (encrypted or redacted)', () => {
    const { container } = renderPart({ type: 'reasoning', text: '', state: 'done' });
    expect(container.querySelector('[data-part="reasoning"]')).toBeNull();
  });
});

const base = { toolCallId: 'call-1', input: { city: 'Paris' } };

const toolStates: Array<[string, DynamicToolUIPart, string]> = [
  ['input-streaming', { type: 'dynamic-tool', toolName: 'weather', toolCallId: 'call-1', state: 'input-streaming', rawInput: '{"ci' }, '{"ci'],
  ['input-available', { type: 'dynamic-tool', toolName: 'weather', ...base, state: 'input-available' }, 'running'],
  ['output-available', { type: 'dynamic-tool', toolName: 'weather', ...base, state: 'output-available', output: { temperature: 21 } }, '"temperature": 21'],
  ['output-error', { type: 'dynamic-tool', toolName: 'weather', ...base, state: 'output-error', errorText: 'upstream timed out' }, 'upstream timed out'],
  ['approval-responded', { type: 'dynamic-tool', toolName: 'weather', ...base, state: 'approval-responded', approval: { id: 'ap-1', approved: true } }, 'Approved'],
  ['output-denied', { type: 'dynamic-tool', toolName: 'weather', ...base, state: 'output-denied', approval: { id: 'ap-1', approved: false, reason: 'not now' } }, 'Denied: not now'],
];

describe('tool parts', () => {
  it.each(toolStates)('render state %s with data-state and its content', (state, part, expected) => {
    const { container } = renderPart(part);
    const tool = container.querySelector('[data-part="tool"]');
    expect(tool?.getAttribute('data-state')).toBe(state);
    expect(tool?.getAttribute('data-tool-name')).toBe('weather');
    expect(tool?.textContent).toContain(expected);
  });

  it('say "no result" instead of "running" once the answer stopped streaming', () => {
    const part = toolStates[1]![1];
    const { container } = render(<ToolPart part={part} answerStreaming={false} onApprovalResponse={vi.fn()} />);
    expect(container.textContent).toContain('no result');
    expect(container.textContent).not.toContain('running');
  });

  it('show the input of a finished call', () => {
    const { container } = renderPart(toolStates[2]![1]);
    expect(container.textContent).toContain('"city": "Paris"');
  });

  it('ask for approval with Approve and Deny buttons that answer the approval id', () => {
    const part: DynamicToolUIPart = {
      type: 'dynamic-tool',
      toolName: 'delete_file',
      ...base,
      state: 'approval-requested',
      approval: { id: 'ap-7', requestReason: 'deletes data' },
    };
    const { container, onApprovalResponse } = renderPart(part);
    expect(container.querySelector('[data-state="approval-requested"]')?.textContent).toContain('deletes data');
    fireEvent.click(screen.getByRole('button', { name: 'Approve delete_file' }));
    fireEvent.click(screen.getByRole('button', { name: 'Deny delete_file' }));
    expect(onApprovalResponse.mock.calls).toEqual([
      ['ap-7', true],
      ['ap-7', false],
    ]);
  });

  it('name static tool parts after the tool- prefix', () => {
    const part = {
      type: 'tool-get_time',
      toolCallId: 'call-2',
      state: 'output-available',
      input: {},
      output: '12:00',
    } as ToolUIPart;
    const { container } = render(<ToolPart part={part} onApprovalResponse={vi.fn()} />);
    const tool = container.querySelector('[data-part="tool"]');
    expect(tool?.getAttribute('data-tool-name')).toBe('get_time');
    expect(tool?.textContent).toContain('12:00');
  });

  it('mark partial output', () => {
    const { container } = renderPart({ ...(toolStates[2]![1] as DynamicToolUIPart), preliminary: true } as DynamicToolUIPart);
    expect(container.textContent).toContain('output (partial)');
  });
});

describe('sources', () => {
  it('render source-url as a link and unsafe URLs as text', () => {
    const { container } = renderPart({ type: 'source-url', sourceId: 's1', url: 'https://docs.example/a', title: 'Docs' });
    const link = container.querySelector('[data-part="source"] a');
    expect(link?.getAttribute('href')).toBe('https://docs.example/a');
    expect(link?.textContent).toBe('Docs');

    const unsafe = renderPart({ type: 'source-url', sourceId: 's2', url: 'javascript:alert(1)' });
    expect(unsafe.container.querySelector('a')).toBeNull();
    expect(unsafe.container.textContent).toContain('javascript:alert(1)');
  });

  it('render source-document with title and file name', () => {
    const { container } = renderPart({
      type: 'source-document',
      sourceId: 'd1',
      mediaType: 'application/pdf',
      title: 'Annual report',
      filename: 'report.pdf',
    });
    const source = container.querySelector('[data-part="source"]');
    expect(source?.getAttribute('data-source-kind')).toBe('document');
    expect(source?.textContent).toContain('Annual report');
    expect(source?.textContent).toContain('report.pdf');
  });
});

describe('files', () => {
  it('show images inline', () => {
    const { container } = renderPart({ type: 'file', mediaType: 'image/png', url: 'data:image/png;base64,AAAA', filename: 'cat.png' });
    const image = container.querySelector('[data-part="file"] img');
    expect(image?.getAttribute('src')).toBe('data:image/png;base64,AAAA');
    expect(image?.getAttribute('alt')).toBe('cat.png');
  });

  it('link other files', () => {
    const { container } = renderPart({ type: 'file', mediaType: 'application/pdf', url: 'https://files.example/r.pdf', filename: 'r.pdf' });
    const link = container.querySelector('[data-part="file"] a');
    expect(link?.getAttribute('href')).toBe('https://files.example/r.pdf');
    expect(link?.textContent).toBe('r.pdf');
    expect(container.querySelector('img')).toBeNull();
  });

  it('refuse javascript: URLs', () => {
    const { container } = renderPart({ type: 'file', mediaType: 'image/png', url: 'javascript:alert(1)' });
    expect(container.querySelector('img, a')).toBeNull();
  });
});

describe('other parts', () => {
  it('draw step-start as a separator, except at the start of a message', () => {
    expect(renderPart({ type: 'step-start' }, 2).container.querySelector('[data-part="step-start"]')).not.toBeNull();
    expect(renderPart({ type: 'step-start' }, 0).container.innerHTML).toBe('');
  });

  it('ignore data parts', () => {
    expect(renderPart({ type: 'data-weather', data: { temperature: 1 } }).container.innerHTML).toBe('');
  });
});
