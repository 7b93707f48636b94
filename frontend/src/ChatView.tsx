/**
 * The conversation of one block, driven by `useChat`: message list, error with
 * Retry, Clear, and the composer. Mounted by BlockPane once the saved
 * conversation has loaded.
 */
import { useMemo, useRef, useState, type KeyboardEvent } from 'react';
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
import { readTime } from './metadata';
import { Notice } from './Notice';
import { makeChatTransport } from './transport';
import { useFollowBottom } from './useFollowBottom';
import { PAGE, useMessageWindow } from './useMessageWindow';

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
  /** Put the caret in the composer on mount (a block the user just added). */
  autoFocus?: boolean;
};

/**
 * When each message was written: the metadata's `createdAt` (user messages
 * carry it from this page; answers once the server sends one), else the time
 * this page first saw it. Messages loaded with the conversation have neither.
 */
function useMessageTimes(messages: UIMessage[]): (message: UIMessage) => Date | undefined {
  const seen = useRef<Map<string, Date> | null>(null);
  if (seen.current === null) seen.current = new Map(messages.map((message) => [message.id, new Date(NaN)]));
  const map = seen.current;
  for (const message of messages) if (!map.has(message.id)) map.set(message.id, new Date());
  return (message) => {
    const fromMetadata = readTime((message.metadata as { createdAt?: unknown } | undefined)?.createdAt);
    const local = map.get(message.id);
    return fromMetadata ?? (local && !Number.isNaN(local.getTime()) ? local : undefined);
  };
}

/** The server says so in the error chunk's text when it could not store an answer. */
function isNotSaved(message: string): boolean {
  return /not (been )?saved/i.test(message);
}

export function ChatView({
  blockId,
  blockTitle,
  urlPreset,
  initialMessages,
  transport,
  resume = true,
  autoFocus = false,
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
  const { listRef, contentRef, onScroll, following, newBelow, jumpToLatest } = useFollowBottom();
  const { hidden, showEarlier, sentinelRef } = useMessageWindow(messages.length, listRef, following);
  const timeOf = useMessageTimes(messages);
  // The message views are memoised; their actions must not change on every render.
  const chatRef = useRef(chat);
  chatRef.current = chat;

  const send = async (text: string, files: File[]) => {
    setNotice(null);
    try {
      const fileParts = await filesToParts(files);
      // createdAt travels with the message and is saved with it (the server keeps metadata).
      const metadata = { createdAt: Date.now() };
      jumpToLatest();
      await (text.trim()
        ? chat.sendMessage({ text, files: fileParts, metadata })
        : chat.sendMessage({ files: fileParts, metadata }));
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

  const actions: MessageActions = useMemo(
    () => ({
      onEdit: (messageId: string, text: string, files: FileUIPart[]) =>
        void chatRef.current.sendMessage({ text, files, messageId, metadata: { createdAt: Date.now() } }),
      onRegenerate: (messageId: string) => void chatRef.current.regenerate({ messageId }),
      onApprovalResponse: (approvalId: string, approved: boolean) =>
        void chatRef.current.addToolApprovalResponse({ id: approvalId, approved }),
    }),
    [],
  );

  // Retry re-asks for the last answer (dropping a partial one). With no
  // messages (a failed resume on open) there is nothing to regenerate.
  const retry = () => void (messages.length > 0 ? chat.regenerate() : chat.clearError());

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    if (event.key === 'Escape' && busy) {
      event.preventDefault();
      stop();
    }
  };

  const errorText = error ? describeError(error) || 'the request failed.' : '';
  const notSaved = isNotSaved(errorText);
  const shown = messages.slice(hidden);

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
      <div
        className="message-list"
        ref={listRef}
        onScroll={onScroll}
        aria-label={`Messages of ${blockTitle}`}
        role="log"
        // Focusable so a keyboard user can scroll it with the arrow keys.
        tabIndex={0}
      >
        <div ref={contentRef} className="message-list-content">
          {hidden > 0 ? (
            <div ref={sentinelRef} className="show-earlier">
              <button type="button" onClick={showEarlier}>
                show {Math.min(hidden, PAGE)} earlier of {hidden}
              </button>
            </div>
          ) : null}
          {messages.length === 0 ? <p className="muted empty">No messages yet.</p> : null}
          {shown.map((message, index) => (
            <MessageView
              key={message.id}
              message={message}
              busy={busy}
              streaming={busy && hidden + index === messages.length - 1}
              actions={actions}
              time={timeOf(message)}
            />
          ))}
        </div>
      </div>
      {newBelow ? (
        <button type="button" className="jump-latest" onClick={jumpToLatest}>
          ↓ jump to latest
        </button>
      ) : null}
      {error ? (
        <Notice
          tone={notSaved ? 'warning' : 'error'}
          kind={notSaved ? 'not-saved' : 'error'}
          title={notSaved ? 'Not saved' : undefined}
          live="alert"
          actions={
            <button type="button" aria-label="Retry" onClick={retry}>
              Retry
            </button>
          }
        >
          <span>{notSaved ? errorText : `Error: ${errorText}`}</span>
        </Notice>
      ) : null}
      {notice ? (
        <Notice tone="warning" kind="notice" live="status">
          {notice}
        </Notice>
      ) : null}
      <Composer
        blockTitle={blockTitle}
        busy={busy}
        autoFocus={autoFocus}
        onSend={(text, files) => void send(text, files)}
        onStop={stop}
      />
    </div>
  );
}
