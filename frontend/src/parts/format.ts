/** Small helpers shared by the part renderers. */

/** Pretty JSON for tool input/output; strings are shown as they are. */
export function formatJson(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    // Not JSON-serialisable (cannot come off the wire, but a local edit could do it).
    return String(value);
  }
}

const LINK_PROTOCOLS = new Set(['http:', 'https:']);
const FILE_PROTOCOLS = new Set(['http:', 'https:', 'data:', 'blob:']);

function hasProtocol(url: string, allowed: Set<string>): boolean {
  try {
    return allowed.has(new URL(url, window.location.href).protocol);
  } catch {
    return false;
  }
}

/**
 * Sources come from the model or a search tool, so only http(s) links become
 * clickable; anything else (javascript:, file:) is shown as text.
 */
export function isSafeLinkUrl(url: string): boolean {
  return hasProtocol(url, LINK_PROTOCOLS);
}

/**
 * Images in model output: http(s) or an inline `data:image/…` (never an SVG,
 * which is a document that can hold script when opened on its own).
 */
export function isSafeImageUrl(url: string): boolean {
  if (/^data:image\/(png|jpe?g|gif|webp|avif);/i.test(url)) return true;
  return hasProtocol(url, LINK_PROTOCOLS);
}

/** Files may also be inline `data:` URLs (uploads, generated images) or blob: previews. */
export function isSafeFileUrl(url: string): boolean {
  return hasProtocol(url, FILE_PROTOCOLS);
}
