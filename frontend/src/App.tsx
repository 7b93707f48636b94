/**
 * The page: a top bar (preset switcher, add block) and the block panes side by side.
 */
import { addBlock, closeBlock, renameBlock } from './blocks';
import { BlockPane } from './BlockPane';
import { PresetSwitcher } from './PresetSwitcher';
import { useBlocks } from './useBlocks';
import { usePresetFromUrl } from './usePresetFromUrl';
import { usePresets } from './usePresets';

export function App() {
  const [urlPreset, setUrlPreset] = usePresetFromUrl();
  const { presets, error: presetsError } = usePresets();
  const { blocks, error: blocksError, changeBlocks } = useBlocks();
  const notices = [presetsError, blocksError].filter(Boolean);

  return (
    <div className="app">
      <header className="top-bar">
        <h1 className="app-name">chatwire</h1>
        <PresetSwitcher presets={presets} value={urlPreset} onChange={setUrlPreset} />
        <span className="spacer" />
        <button
          type="button"
          aria-label="Add block"
          disabled={blocks === null}
          onClick={() => changeBlocks(addBlock)}
        >
          + block
        </button>
      </header>
      {notices.map((notice) => (
        <div key={notice} className="chat-notice" role="status">
          {notice}
        </div>
      ))}
      <main className="blocks">
        {blocks === null ? <p className="muted">Loading…</p> : null}
        {blocks?.length === 0 ? <p className="muted">No blocks open. Add one with “+ block”.</p> : null}
        {blocks?.map((block) => (
          // Keyed by id: renaming or switching presets never remounts a pane.
          <BlockPane
            key={block.id}
            block={block}
            urlPreset={urlPreset}
            presets={presets}
            onClose={(blockId) => changeBlocks((current) => closeBlock(current, blockId))}
            onRename={(blockId, title) => changeBlocks((current) => renameBlock(current, blockId, title))}
          />
        ))}
      </main>
    </div>
  );
}
