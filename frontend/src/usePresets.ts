/** Loads the preset list once for the switcher and the per-block pin selects. */
import { useEffect, useState } from 'react';
import { describeError, listPresets, type PresetSummary } from './api';

export function usePresets(): { presets: PresetSummary[]; error: string | null } {
  const [presets, setPresets] = useState<PresetSummary[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    listPresets().then(
      (loaded) => !cancelled && setPresets(loaded),
      (loadError: unknown) => !cancelled && setError(`Could not load presets: ${describeError(loadError)}`),
    );
    return () => {
      cancelled = true;
    };
  }, []);
  return { presets, error };
}
