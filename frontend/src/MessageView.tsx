/**
 * One chat message: its parts, who answered (assistant metadata), and the
 * per-message actions (edit a user message, regenerate an answer).
 */
import { useState, type KeyboardEvent } from 'react';
import type { FileUIPart, UIMessage } from 'ai';
import { formatProvenance, formatResolvedFrom, formatUsage, readAnswerMetadata } from './metadata';
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
    .join('\n');
}

function AnswerFooter({ metadata }: { metadata: unknown }) {
  const answer = readAnswerMetadata(metadata);
  const usage = formatUsage(answer.usage);
  const resolvedFrom = formatResolvedFrom(answer.resolvedFrom);
  const model = [answer.provider, answer.model].filter(Boolean).join('/');
  if (!answer.preset && !model && !usage) return null;
  return (
    <div className="message-footer" data-testid="answer-metadata">
      {answer.preset ? <span data-field="preset">preset {answer.preset}</span> : null}
      {model ? <span data-field="model">{model}</span> : null}
      {resolvedFrom ? (
        <span data-field="resolved-from" title={formatProvenance(answer.resolvedFrom)}>
          from {resolvedFrom}
        </span>
      ) : null}
      {usage ? <span data-field="usage">{usage}</span> : null}
    </div>
  );
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

export function MessageView({
  message,
  busy,
  streaming = false,
  actions,
}: {
  message: UIMessage;
  /** This message is the one being streamed right now. */
  streaming?: boolean;
  /** True while this pane is sending or streaming: actions that start a request are disabled. */
  busy: boolean;
  actions: MessageActions;
}) {
  const [editing, setEditing] = useState(false);
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
    <article className={`message message-${message.role}`} data-role={message.role} data-message-id={message.id}>
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
}
