/**
 * One chat message: its parts, who answered (assistant metadata), and the
 * per-message actions (edit a user message, regenerate an answer).
 */
import { memo, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import type { FileUIPart, UIMessage } from 'ai';
import {
  formatFallback,
  formatProvenance,
  formatResolvedFrom,
  formatUsage,
  readAnswerMetadata,
} from './metadata';
import { Notice, type NoticeField } from './Notice';
import { PartView } from './parts/PartView';
import type { ApprovalResponder } from './parts/ToolPart';

export type MessageActions = {
  /** Re-sends an edited user message; later messages are replaced by the new answer. */
  onEdit: (messageId: string, text: string, files: FileUIPart[]) => void;
  onRegenerate: (messageId: string) => void;
  onApprovalResponse: ApprovalResponder;
};

function messageText(message: UIMessage): string {
  return message.parts
    .filter((part) => part.type === 'text')
    .map((part) => part.text)
    .join('\n\n');
}

function AnswerFooter({ metadata }: { metadata: unknown }) {
  const answer = readAnswerMetadata(metadata);
  const model = [answer.provider, answer.model].filter(Boolean).join('/');
  const resolvedFrom = formatResolvedFrom(answer.resolvedFrom);
  const usage = formatUsage(answer.usage);
  const fallback = formatFallback(answer.fallback);
  const fields: NoticeField[] = [];
  if (answer.preset) fields.push({ name: 'preset', text: `preset ${answer.preset}` });
  if (model) fields.push({ name: 'model', text: model });
  if (fallback) fields.push({ name: 'fallback', text: fallback, tone: 'warning' });
  if (resolvedFrom) {
    fields.push({ name: 'resolved-from', text: `from ${resolvedFrom}`, title: formatProvenance(answer.resolvedFrom) });
  }
  if (usage) fields.push({ name: 'usage', text: usage });
  if (fields.length === 0) return null;
  return <Notice tone="info" kind="answer-metadata" testId="answer-metadata" fields={fields} />;
}

/** Copies the message's text (markdown source) to the clipboard, and says so. */
function CopyButton({ text }: { text: string }) {
  const [copied, setCopied] = useState<'copied' | 'failed' | null>(null);
  const copy = () => {
    navigator.clipboard.writeText(text).then(
      () => setCopied('copied'),
      () => setCopied('failed'),
    );
    window.setTimeout(() => setCopied(null), 2000);
  };
  return (
    <button type="button" aria-label="Copy message" disabled={!text} onClick={copy}>
      {copied ?? 'copy'}
    </button>
  );
}

function Timestamp({ time }: { time: Date | undefined }) {
  if (!time) return null;
  const full = time.toLocaleString();
  return (
    <time className="message-time" dateTime={time.toISOString()} title={full}>
      {time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}
    </time>
  );
}

/**
 * While an answer streams, its box never shrinks: when a retried step replaces
 * the partial text (a `reset-step` chunk), the new text fills the same space
 * instead of the list jumping up and back down. Released when the answer ends.
 */
function useNoShrinkWhileStreaming(streaming: boolean) {
  const ref = useRef<HTMLElement>(null);
  const tallest = useRef(0);
  useLayoutEffect(() => {
    const element = ref.current;
    if (!element) return;
    if (!streaming) {
      tallest.current = 0;
      element.style.minHeight = '';
      return;
    }
    const height = element.getBoundingClientRect().height;
    if (height > tallest.current) {
      tallest.current = height;
      element.style.minHeight = `${height}px`;
    }
  });
  return ref;
}

function EditForm({
  initialText,
  onSave,
  onCancel,
}: {
  initialText: string;
  onSave: (text: string) => void;
  onCancel: () => void;
}) {
  const [text, setText] = useState(initialText);
  const save = () => {
    if (text.trim()) onSave(text);
  };
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      save();
    } else if (event.key === 'Escape') {
      // Esc cancels the edit here instead of stopping the pane's stream.
      event.preventDefault();
      event.stopPropagation();
      onCancel();
    }
  };
  return (
    <div className="edit-form">
      <textarea
        aria-label="Edit message"
        value={text}
        autoFocus
        rows={Math.min(10, Math.max(2, text.split('\n').length))}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={onKeyDown}
      />
      <button type="button" aria-label="Send edited message" onClick={save} disabled={!text.trim()}>
        Save &amp; send
      </button>
      <button type="button" aria-label="Cancel edit" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}

export const MessageView = memo(function MessageView({
  message,
  busy,
  streaming = false,
  actions,
  time,
}: {
  message: UIMessage;
  /** When the message was written, if known (shown on hover and focus). */
  time?: Date;
  /** This message is the one being streamed right now. */
  streaming?: boolean;
  /** True while this pane is sending or streaming: actions that start a request are disabled. */
  busy: boolean;
  actions: MessageActions;
}) {
  const [editing, setEditing] = useState(false);
  const articleRef = useNoShrinkWhileStreaming(streaming);
  const isUser = message.role === 'user';
  const isAssistant = message.role === 'assistant';
  // A failed or stopped answer can be saved with no content; say so instead of an empty row.
  const empty = !streaming && message.parts.every((part) => part.type === 'step-start');

  const saveEdit = (text: string) => {
    setEditing(false);
    // Attachments stay with the edited message.
    const files = message.parts.filter((part): part is FileUIPart => part.type === 'file');
    actions.onEdit(message.id, text, files);
  };

  return (
    <article
      ref={articleRef}
      className={`message message-${message.role}`}
      data-role={message.role}
      data-message-id={message.id}
      aria-label={isUser ? 'Your message' : isAssistant ? 'Answer' : 'System message'}
    >
      <div className="message-role" aria-hidden="true">
        {isUser ? '>' : isAssistant ? '<' : '#'}
      </div>
      <div className="message-body">
        {editing ? (
          <EditForm initialText={messageText(message)} onSave={saveEdit} onCancel={() => setEditing(false)} />
        ) : (
          message.parts.map((part, index) => (
            <PartView
              key={index}
              part={part}
              index={index}
              answerStreaming={streaming}
              onApprovalResponse={actions.onApprovalResponse}
            />
          ))
        )}
        {empty && !editing ? <p className="muted">(no content)</p> : null}
        {isAssistant ? <AnswerFooter metadata={message.metadata} /> : null}
        {!editing && (isUser || isAssistant) ? (
          <div className="message-actions">
            <Timestamp time={time} />
            <CopyButton text={messageText(message)} />
            {isUser ? (
              <button type="button" aria-label="Edit message" disabled={busy} onClick={() => setEditing(true)}>
                edit
              </button>
            ) : (
              <button
                type="button"
                aria-label="Regenerate answer"
                disabled={busy}
                onClick={() => actions.onRegenerate(message.id)}
              >
                regenerate
              </button>
            )}
          </div>
        ) : null}
      </div>
    </article>
  );
});
