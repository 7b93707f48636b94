/**
 * One block: header (title, rename, pinned preset, close) plus its chat.
 * Loads the saved conversation first and only then mounts the chat, so the
 * Chat is created with its history and `resume` reconnects onto that history
 * (calling setMessages after a resumed stream started would race it).
 */
import { useCallback, useEffect, useRef, useState, type KeyboardEvent } from 'react';
import type { ChatTransport, UIMessage } from 'ai';
import { describeError, getBlockMeta, loadConversation, patchBlockMeta, type PresetSummary } from './api';
import type { Block } from './blocks';
import { ChatView } from './ChatView';
import { Notice } from './Notice';

/** The block meta key holding a pinned preset name. */
export const PINNED_PRESET_KEY = 'ai:preset';

type LoadState =
  | { status: 'loading' }
  | { status: 'ready'; messages: UIMessage[] }
  | { status: 'failed'; message: string };

export type BlockPaneProps = {
  block: Block;
  urlPreset: string | null;
  presets: PresetSummary[];
  onClose: (blockId: string) => void;
  onRename: (blockId: string, title: string) => void;
  /** Test seams, passed through to ChatView. */
  transport?: ChatTransport<UIMessage>;
  resume?: boolean;
  /** Focus the composer once the chat is mounted. */
  autoFocus?: boolean;
};

/** Which preset the next request of this block will use, in words. */
export function describeEffectivePreset(urlPreset: string | null, pinned: string | null): string {
  if (urlPreset && pinned && pinned !== urlPreset) return `URL preset ${urlPreset} overrides pinned ${pinned}`;
  if (urlPreset) return `URL preset ${urlPreset}`;
  if (pinned) return `pinned ${pinned}`;
  return 'server default';
}

function TitleEditor({ block, onRename }: { block: Block; onRename: BlockPaneProps['onRename'] }) {
  const [draft, setDraft] = useState<string | null>(null);
  // Enter/Esc unmount the input, and some browsers then fire blur: this flag
  // keeps that blur from saving a cancelled edit or saving twice.
  const finished = useRef(false);
  if (draft === null) {
    return (
      <>
        <h2 className="block-title">{block.title}</h2>
        <button
          type="button"
          aria-label={`Rename block ${block.title}`}
          onClick={() => {
            finished.current = false;
            setDraft(block.title);
          }}
        >
          rename
        </button>
      </>
    );
  }
  const finish = (save: boolean) => {
    if (finished.current) return;
    finished.current = true;
    if (save && draft !== block.title) onRename(block.id, draft);
    setDraft(null);
  };
  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === 'Enter' || event.key === 'Escape') {
      event.preventDefault();
      // Esc here cancels the rename; it must not also stop the pane's stream.
      event.stopPropagation();
      finish(event.key === 'Enter');
    }
  };
  return (
    <input
      className="title-input"
      aria-label="Block title (Enter saves, Esc cancels)"
      value={draft}
      autoFocus
      maxLength={80}
      onChange={(event) => setDraft(event.target.value)}
      onKeyDown={onKeyDown}
      onBlur={() => finish(true)}
    />
  );
}

function usePinnedPreset(blockId: string) {
  const [pinned, setPinned] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    getBlockMeta(blockId).then(
      (meta) => {
        const value = meta[PINNED_PRESET_KEY];
        if (!cancelled) setPinned(typeof value === 'string' && value ? value : null);
      },
      (metaError: unknown) => {
        if (!cancelled) setError(`Could not read block settings: ${describeError(metaError)}`);
      },
    );
    return () => {
      cancelled = true;
    };
  }, [blockId]);
  const pin = useCallback(
    (name: string | null) => {
      patchBlockMeta(blockId, { [PINNED_PRESET_KEY]: name }).then(
        () => {
          setPinned(name);
          setError(null);
        },
        (pinError: unknown) => setError(`Could not pin preset: ${describeError(pinError)}`),
      );
    },
    [blockId],
  );
  return { pinned, pin, error };
}

function PinSelect({
  blockTitle,
  pinned,
  presets,
  onPin,
}: {
  blockTitle: string;
  pinned: string | null;
  presets: PresetSummary[];
  onPin: (name: string | null) => void;
}) {
  // A pinned preset the server no longer lists is still shown, so the select
  // reflects what is stored.
  const names = presets.map((preset) => preset.name);
  if (pinned && !names.includes(pinned)) names.push(pinned);
  return (
    <label className="pin-select">
      <span className="muted">pin</span>
      <select
        aria-label={`Pinned preset of block ${blockTitle}`}
        value={pinned ?? ''}
        onChange={(event) => onPin(event.target.value || null)}
      >
        <option value="">(none)</option>
        {names.map((name) => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </select>
    </label>
  );
}

export function BlockPane({
  block,
  urlPreset,
  presets,
  onClose,
  onRename,
  transport,
  resume,
  autoFocus,
}: BlockPaneProps) {
  const [load, setLoad] = useState<LoadState>({ status: 'loading' });
  const [attempt, setAttempt] = useState(0);
  const { pinned, pin, error: metaError } = usePinnedPreset(block.id);

  useEffect(() => {
    let cancelled = false;
    setLoad({ status: 'loading' });
    loadConversation(block.id).then(
      (messages) => !cancelled && setLoad({ status: 'ready', messages }),
      (loadError: unknown) =>
        !cancelled && setLoad({ status: 'failed', message: describeError(loadError) }),
    );
    return () => {
      cancelled = true;
    };
  }, [block.id, attempt]);

  return (
    <section className="block-pane" aria-label={`Block ${block.title}`} data-block-id={block.id}>
      <header className="block-header">
        <TitleEditor block={block} onRename={onRename} />
        <span className="spacer" />
        <PinSelect blockTitle={block.title} pinned={pinned} presets={presets} onPin={pin} />
        <button
          type="button"
          className="button-close"
          aria-label={`Close block ${block.title}`}
          onClick={() => onClose(block.id)}
        >
          ×
        </button>
      </header>
      <div className="block-preset muted" data-testid="effective-preset">
        {describeEffectivePreset(urlPreset, pinned)}
      </div>
      {metaError ? (
        <Notice tone="warning" kind="notice" live="status">
          {metaError}
        </Notice>
      ) : null}
      {load.status === 'loading' ? <p className="muted">Loading conversation…</p> : null}
      {load.status === 'failed' ? (
        <Notice
          tone="error"
          kind="load-error"
          live="alert"
          actions={
            <button type="button" aria-label="Retry loading" onClick={() => setAttempt((count) => count + 1)}>
              Retry
            </button>
          }
        >
          <span>Could not load the conversation: {load.message}</span>
        </Notice>
      ) : null}
      {load.status === 'ready' ? (
        <ChatView
          blockId={block.id}
          blockTitle={block.title}
          urlPreset={urlPreset}
          initialMessages={load.messages}
          transport={transport}
          resume={resume}
          autoFocus={autoFocus}
        />
      ) : null}
    </section>
  );
}
