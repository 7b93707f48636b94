/**
 * The input row of a pane: text, image attachments, Send / Stop.
 * Enter sends, Shift+Enter inserts a newline (Esc is handled by the pane).
 */
import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';

export function Composer({
  blockTitle,
  busy,
  autoFocus = false,
  onSend,
  onStop,
}: {
  blockTitle: string;
  autoFocus?: boolean;
  /** A request is in flight: Send is replaced by Stop. */
  busy: boolean;
  onSend: (text: string, files: File[]) => void;
  onStop: () => void;
}) {
  const [text, setText] = useState('');
  const [files, setFiles] = useState<File[]>([]);
  const fileInput = useRef<HTMLInputElement>(null);
  const textInput = useRef<HTMLTextAreaElement>(null);
  const canSend = !busy && (text.trim() !== '' || files.length > 0);

  useEffect(() => {
    // The pane mounts after its conversation loads; take the caret only if the
    // user has not moved on meanwhile (focus still on the control that asked for it).
    const active = document.activeElement;
    if (autoFocus && (!active || active === document.body || active.matches('[data-focus-handoff]'))) {
      textInput.current?.focus();
    }
    // Only on mount: this is a hand-off, not a focus trap.
  }, []);

  const send = () => {
    if (!canSend) return;
    onSend(text, files);
    setText('');
    setFiles([]);
    if (fileInput.current) fileInput.current.value = '';
    // Send turns into Stop, which would drop focus to the page; keep it in the input.
    textInput.current?.focus();
  };

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    send();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    // isComposing: Enter that confirms an IME candidate must not send.
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  };

  const attachedNames = files.map((file) => file.name).join(', ');

  return (
    <form className="composer" onSubmit={onSubmit} aria-label={`Compose to ${blockTitle}`}>
      <textarea
        ref={textInput}
        className="composer-input"
        aria-label={`Message to ${blockTitle}`}
        placeholder="Message (Enter sends, Shift+Enter newline, Esc stops)"
        rows={Math.min(8, Math.max(2, text.split('\n').length))}
        value={text}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={onKeyDown}
      />
      <div className="composer-row">
        <label className="button attach-button">
          attach
          <input
            ref={fileInput}
            type="file"
            accept="image/*"
            multiple
            className="visually-hidden"
            aria-label="Attach images"
            onChange={(event) => setFiles(Array.from(event.target.files ?? []))}
          />
        </label>
        {attachedNames ? (
          <span className="muted attached" data-testid="attachments">
            {attachedNames}
            <button
              type="button"
              className="link-button"
              aria-label="Remove attachments"
              onClick={() => {
                setFiles([]);
                if (fileInput.current) fileInput.current.value = '';
              }}
            >
              ×
            </button>
          </span>
        ) : null}
        <span className="spacer" />
        {busy ? (
          <button type="button" className="button-stop" aria-label="Stop generating" onClick={onStop}>
            Stop
          </button>
        ) : (
          <button type="submit" className="button-send" aria-label="Send message" disabled={!canSend}>
            Send
          </button>
        )}
      </div>
    </form>
  );
}
