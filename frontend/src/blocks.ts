/**
 * The list of chat blocks (panes) and its stored form, global setting `ui:blocks`.
 * Pure functions only; useBlocks.ts does the loading and saving.
 */
import { isRecord } from './api';

/** One pane: a conversation keyed by `id` on the server, shown under `title`. */
export type Block = { id: string; title: string };

/** The global settings key holding `Block[]`. */
export const BLOCKS_SETTING_KEY = 'ui:blocks';

/** The server's block id charset; ids outside it are rejected by its routes. */
const BLOCK_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const MAX_TITLE_LENGTH = 80;

export const DEFAULT_BLOCKS: readonly Block[] = [{ id: 'block-1', title: 'block-1' }];

export function isValidBlockId(id: string): boolean {
  return BLOCK_ID_PATTERN.test(id);
}

/** A trimmed, length-capped title; an empty one falls back to the id. */
export function normalizeTitle(title: string, id: string): string {
  const trimmed = title.trim().slice(0, MAX_TITLE_LENGTH);
  return trimmed || id;
}

/**
 * Reads the stored setting. Anything malformed is dropped entry by entry
 * (the setting is user-editable through the API), duplicates keep the first
 * entry, and an empty or absent list gives the single default block.
 */
export function parseBlocksSetting(value: unknown): Block[] {
  if (!Array.isArray(value)) return [...DEFAULT_BLOCKS];
  const blocks: Block[] = [];
  const seen = new Set<string>();
  for (const entry of value) {
    if (!isRecord(entry) || typeof entry.id !== 'string' || !isValidBlockId(entry.id)) continue;
    if (seen.has(entry.id)) continue;
    seen.add(entry.id);
    const title = typeof entry.title === 'string' ? entry.title : entry.id;
    blocks.push({ id: entry.id, title: normalizeTitle(title, entry.id) });
  }
  return blocks.length > 0 ? blocks : [...DEFAULT_BLOCKS];
}

/** The first free `block-<n>` id, counting from 1. */
export function nextBlockId(blocks: readonly Block[]): string {
  const taken = new Set(blocks.map((block) => block.id));
  for (let number = 1; ; number++) {
    const candidate = `block-${number}`;
    if (!taken.has(candidate)) return candidate;
  }
}

export function addBlock(blocks: readonly Block[]): Block[] {
  const id = nextBlockId(blocks);
  return [...blocks, { id, title: id }];
}

/** Removes a block from the page; its saved conversation stays on the server. */
export function closeBlock(blocks: readonly Block[], id: string): Block[] {
  return blocks.filter((block) => block.id !== id);
}

export function renameBlock(blocks: readonly Block[], id: string, title: string): Block[] {
  return blocks.map((block) =>
    block.id === id ? { ...block, title: normalizeTitle(title, id) } : block,
  );
}
