/**
 * Loads the block list from global settings and saves every change back with
 * `PATCH /api/settings {"ui:blocks": [...]}`.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { describeError, getSettings, patchSettings } from './api';
import { BLOCKS_SETTING_KEY, DEFAULT_BLOCKS, parseBlocksSetting, type Block } from './blocks';

export type BlocksState = {
  /** null until the settings have loaded, so panes do not mount twice. */
  blocks: Block[] | null;
  /** The last load or save failure, for a notice; the page keeps working locally. */
  error: string | null;
  changeBlocks: (change: (blocks: readonly Block[]) => Block[]) => void;
};

export function useBlocks(): BlocksState {
  const [blocks, setBlocks] = useState<Block[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  // The latest list outside React state, so a change computes from it once
  // (state updaters may run twice under StrictMode and must not save).
  const currentBlocks = useRef<Block[]>([]);
  // Saves run one after another so the server ends with the newest list.
  const saveQueue = useRef<Promise<void>>(Promise.resolve());

  useEffect(() => {
    let cancelled = false;
    getSettings()
      .then((settings) => parseBlocksSetting(settings[BLOCKS_SETTING_KEY]))
      .catch((loadError: unknown) => {
        if (!cancelled) setError(`Could not load blocks: ${describeError(loadError)}`);
        return [...DEFAULT_BLOCKS];
      })
      .then((loaded) => {
        if (cancelled) return;
        currentBlocks.current = loaded;
        setBlocks(loaded);
      });
    return () => {
      cancelled = true;
    };
  }, []);

  const changeBlocks = useCallback((change: (blocks: readonly Block[]) => Block[]) => {
    const next = change(currentBlocks.current);
    currentBlocks.current = next;
    setBlocks(next);
    saveQueue.current = saveQueue.current
      .then(() => patchSettings({ [BLOCKS_SETTING_KEY]: next }))
      .then(
        () => setError(null),
        (saveError: unknown) => setError(`Could not save blocks: ${describeError(saveError)}`),
      );
  }, []);

  return { blocks, error, changeBlocks };
}
