/**
 * The page's `?preset=` query parameter: the URL layer of preset resolution,
 * shared by every block. Changing it pushes a history entry, so back/forward
 * walks through preset switches.
 */
import { useCallback, useEffect, useState } from 'react';

const PRESET_PARAMETER = 'preset';

/** The preset named by a `location.search` string, or null when absent or empty. */
export function readPresetFromSearch(search: string): string | null {
  const value = new URLSearchParams(search).get(PRESET_PARAMETER);
  return value ? value : null;
}

/**
 * `search` with the preset set (or removed for null), keeping every other
 * parameter. Returns '' or a string starting with '?'.
 */
export function searchWithPreset(search: string, preset: string | null): string {
  const parameters = new URLSearchParams(search);
  if (preset) parameters.set(PRESET_PARAMETER, preset);
  else parameters.delete(PRESET_PARAMETER);
  const text = parameters.toString();
  return text ? `?${text}` : '';
}

/**
 * Returns the current URL preset and a setter that pushes a new history entry.
 * Listens to `popstate` so back/forward updates every block without a reload.
 */
export function usePresetFromUrl(): [string | null, (preset: string | null) => void] {
  const [preset, setPresetState] = useState(() => readPresetFromSearch(window.location.search));

  useEffect(() => {
    const onPopState = () => setPresetState(readPresetFromSearch(window.location.search));
    window.addEventListener('popstate', onPopState);
    return () => window.removeEventListener('popstate', onPopState);
  }, []);

  const setPreset = useCallback((next: string | null) => {
    const normalized = next ? next : null;
    if (normalized === readPresetFromSearch(window.location.search)) return;
    const { pathname, hash } = window.location;
    const url = `${pathname}${searchWithPreset(window.location.search, normalized)}${hash}`;
    window.history.pushState({ preset: normalized }, '', url);
    setPresetState(normalized);
  }, []);

  return [preset, setPreset];
}
