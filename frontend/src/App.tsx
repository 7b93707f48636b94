/**
 * The page: a top bar (preset switcher, add block) and the block panes side by side.
 */
import { useEffect, useRef, useState } from 'react';
import { getSignedInName } from './api';
import { addBlock, closeBlock, renameBlock } from './blocks';
import { BlockPane } from './BlockPane';
import { Notice } from './Notice';
import { PresetSwitcher } from './PresetSwitcher';
import { useBlocks } from './useBlocks';
import { usePresetFromUrl } from './usePresetFromUrl';
import { usePresets } from './usePresets';

export function App() {
  const [urlPreset, setUrlPreset] = usePresetFromUrl();
  const { presets, error: presetsError } = usePresets();
  const { blocks, error: blocksError, changeBlocks } = useBlocks();
  const notices = [presetsError, blocksError].filter(Boolean);
  // Keyboard flow: a new block gets the caret; closing one returns focus to "+ block".
  const [focusNewest, setFocusNewest] = useState(false);
  const addButton = useRef<HTMLButtonElement>(null);
  const signedIn = useSignedInName();

  return (
    <div className="app">
      <header className="top-bar">
        <h1 className="app-name">chatwire</h1>
        <PresetSwitcher presets={presets} value={urlPreset} onChange={setUrlPreset} />
        <span className="spacer" />
        {signedIn ? (
          <span className="signed-in muted" aria-label="Signed in as">
            {signedIn}
          </span>
        ) : null}
        <button
          ref={addButton}
          type="button"
          data-focus-handoff
          aria-label="Add block"
          disabled={blocks === null}
          onClick={() => {
            setFocusNewest(true);
            changeBlocks(addBlock);
          }}
        >
          + block
        </button>
      </header>
      {notices.map((notice) => (
        <Notice key={notice} tone="warning" kind="notice" live="status">
          {notice}
        </Notice>
      ))}
      <main className="blocks" aria-label="Blocks">
        {blocks === null ? <p className="muted">Loading…</p> : null}
        {blocks?.length === 0 ? <p className="muted">No blocks open. Add one with “+ block”.</p> : null}
        {blocks?.map((block, index) => (
          // Keyed by id: renaming or switching presets never remounts a pane.
          <BlockPane
            key={block.id}
            block={block}
            urlPreset={urlPreset}
            presets={presets}
            autoFocus={focusNewest && index === blocks.length - 1}
            onClose={(blockId) => {
              changeBlocks((current) => closeBlock(current, blockId));
              addButton.current?.focus();
            }}
            onRename={(blockId, title) => changeBlocks((current) => renameBlock(current, blockId, title))}
          />
        ))}
      </main>
    </div>
  );
}

/** The signed-in user's name on a shared server (issue 19); null for a single-user server or on error. */
function useSignedInName(): string | null {
  const [name, setName] = useState<string | null>(null);
  useEffect(() => {
    let current = true;
    getSignedInName().then(
      (value) => current && setName(value),
      () => undefined, // an older server without /api/me: no label
    );
    return () => {
      current = false;
    };
  }, []);
  return name;
}
