/** The page-wide preset select; its value is the URL's `?preset=`. */
import type { PresetSummary } from './api';

function optionLabel(preset: PresetSummary): string {
  const model = [preset.provider, preset.model].filter(Boolean).join('/');
  const keyMissing = preset.apiKeyPresent === false ? ' (no API key)' : '';
  return `${preset.name}${model ? ` (${model})` : ''}${keyMissing}`;
}

export function PresetSwitcher({
  presets,
  value,
  onChange,
}: {
  presets: PresetSummary[];
  value: string | null;
  onChange: (preset: string | null) => void;
}) {
  const known = presets.some((preset) => preset.name === value);
  const selected = presets.find((preset) => preset.name === value);
  return (
    <label className="preset-switcher">
      <span className="muted">preset</span>
      <select
        aria-label="Preset for all blocks (URL)"
        value={value ?? ''}
        title={selected?.description}
        onChange={(event) => onChange(event.target.value || null)}
      >
        <option value="">(no URL preset)</option>
        {presets.map((preset) => (
          <option key={preset.name} value={preset.name} title={preset.description}>
            {optionLabel(preset)}
          </option>
        ))}
        {/* A preset typed into the URL that the server does not list stays selectable. */}
        {value && !known ? <option value={value}>{value} (unknown)</option> : null}
      </select>
    </label>
  );
}
