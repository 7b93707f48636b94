/**
 * The conversation of one block, driven by `useChat`: message list, error with
 * Retry, Clear, and the composer. Mounted by BlockPane once the saved
 * conversation has loaded.
 */
import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { useChat } from '@ai-sdk/react';
import {
  lastAssistantMessageIsCompleteWithApprovalResponses,
  type ChatTransport,
  type FileUIPart,
  type UIMessage,
} from 'ai';
import { ApiError, clearConversation, describeError, stopGeneration } from './api';
import { Composer } from './Composer';
import { filesToParts } from './files';
import { MessageView, type MessageActions } from './MessageView';
import { makeChatTransport } from './transport';

export type ChatViewProps = {
  blockId: string;
  blockTitle: string;
  /** The page URL preset, or null; changing it swaps the transport, not the chat. */
  urlPreset: string | null;
  /** The saved conversation, used when the Chat is created. */
  initialMessages: UIMessage[];
  /** Test seam: replaces the HTTP transport. */
  transport?: ChatTransport<UIMessage>;
  /** Reconnect to a generation still running on the server (off in unit tests). */
  resume?: boolean;
};

/** Keeps the list scrolled to the newest text unless the reader scrolled up. */
function useFollowBottom(dependency: unknown) {
  const listRef = useRef<HTMLDivElement>(null);
  const following = useRef(true);
  useEffect(() => {
    const list = listRef.current;
    if (list && following.current) list.scrollTop = list.scrollHeight;
  }, [dependency]);
  const onScroll = () => {
    const list = listRef.current;
    if (list) following.current = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  };
  return { listRef, onScroll };
}

export function ChatView({
  blockId,
  blockTitle,
  urlPreset,
  initialMessages,
  transport,
  resume = true,
}: ChatViewProps) {
  // useChat keeps one Chat per `id` and reads the transport from a latest-ref on
  // every request, so a new preset only needs a new transport object.
  const httpTransport = useMemo(() => makeChatTransport(blockId, urlPreset), [blockId, urlPreset]);
  const chat = useChat({
    id: blockId,
    messages: initialMessages,
    transport: transport ?? httpTransport,
    resume,
    // After the user answers every pending approval, continue the same answer.
    sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses,
  });
  const { messages, status, error } = chat;
  const busy = status === 'submitted' || status === 'streaming';
  const [notice, setNotice] = useState<string | null>(null);
  const { listRef, onScroll } = useFollowBottom(messages);

  const send = async (text: string, files: File[]) => {
    setNotice(null);
    try {
      const fileParts = await filesToParts(files);
      await (text.trim() ? chat.sendMessage({ text, files: fileParts }) : chat.sendMessage({ files: fileParts }));
    } catch (sendError) {
      // Request failures arrive as `error`; this catches unreadable attachments.
      setNotice(`Could not send: ${describeError(sendError)}`);
    }
  };

  const stop = () => {
    // Both are needed: stop() ends the local stream, but the server keeps
    // generating after a disconnect (so a reload can resume) until told to stop.
    void chat.stop();
    stopGeneration(blockId).catch((stopError: unknown) => {
      // 404/409: the generation already ended on the server; nothing to report.
      if (stopError instanceof ApiError && (stopError.status === 404 || stopError.status === 409)) return;
      setNotice(`Stop failed on the server: ${describeError(stopError)}`);
    });
  };

  const clear = async () => {
    try {
      await clearConversation(blockId);
      chat.setMessages([]);
      chat.clearError();
      setNotice(null);
    } catch (clearError) {
      setNotice(`Clear failed: ${describeError(clearError)}`);
    }
  };

  const actions: MessageActions = {
    onEdit: (messageId: string, text: string, files: FileUIPart[]) =>
      void chat.sendMessage({ text, files, messageId }),
    onRegenerate: (messageId: string) => void chat.regenerate({ messageId }),
    onApprovalResponse: (approvalId: string, approved: boolean) =>
      void chat.addToolApprovalResponse({ id: approvalId, approved }),
  };

  // Retry re-asks for the last answer (dropping a partial one). With no
  // messages (a failed resume on open) there is nothing to regenerate.
  const retry = () => void (messages.length > 0 ? chat.regenerate() : chat.clearError());

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    if (event.key === 'Escape' && busy) {
      event.preventDefault();
      stop();
    }
  };

  return (
    <div className="chat" data-status={status} onKeyDown={onKeyDown}>
      <div className="chat-toolbar">
        <span className="status" aria-live="polite" data-testid="chat-status">
          {status}
        </span>
        <span className="spacer" />
        <button
          type="button"
          aria-label={`Clear conversation of ${blockTitle}`}
          disabled={busy || messages.length === 0}
          onClick={() => void clear()}
        >
          clear
        </button>
      </div>
      <div className="message-list" ref={listRef} onScroll={onScroll} aria-label="Messages" role="log">
        {messages.length === 0 ? <p className="muted empty">No messages yet.</p> : null}
        {messages.map((message, index) => (
          <MessageView
            key={message.id}
            message={message}
            busy={busy}
            streaming={busy && index === messages.length - 1}
            actions={actions}
          />
        ))}
      </div>
      {error ? (
        <div className="chat-error" role="alert">
          <span>Error: {describeError(error) || 'the request failed.'}</span>
          <button type="button" aria-label="Retry" onClick={retry}>
            Retry
          </button>
        </div>
      ) : null}
      {notice ? (
        <div className="chat-notice" role="status">
          {notice}
        </div>
      ) : null}
      <Composer blockTitle={blockTitle} busy={busy} onSend={(text, files) => void send(text, files)} onStop={stop} />
    </div>
  );
}
