import { describe, expect, it } from 'vitest';
import {
  addBlock,
  closeBlock,
  DEFAULT_BLOCKS,
  isValidBlockId,
  nextBlockId,
  parseBlocksSetting,
  renameBlock,
} from './blocks';

describe('block ids', () => {
  it('accepts the server charset only', () => {
    expect(isValidBlockId('block-1')).toBe(true);
    expect(isValidBlockId('A_b-9')).toBe(true);
    expect(isValidBlockId('x'.repeat(64))).toBe(true);
    expect(isValidBlockId('x'.repeat(65))).toBe(false);
    expect(isValidBlockId('')).toBe(false);
    expect(isValidBlockId('blk/7')).toBe(false);
    expect(isValidBlockId('a b')).toBe(false);
  });

  it('picks the first free block-<n>', () => {
    expect(nextBlockId([])).toBe('block-1');
    expect(nextBlockId([{ id: 'block-1', title: 'a' }, { id: 'block-3', title: 'c' }])).toBe('block-2');
  });
});

describe('parseBlocksSetting', () => {
  it('falls back to one block-1 when the setting is absent or empty', () => {
    expect(parseBlocksSetting(undefined)).toEqual(DEFAULT_BLOCKS);
    expect(parseBlocksSetting([])).toEqual(DEFAULT_BLOCKS);
    expect(parseBlocksSetting('nonsense')).toEqual(DEFAULT_BLOCKS);
  });

  it('keeps valid entries, drops bad ids and duplicates, fills missing titles', () => {
    expect(
      parseBlocksSetting([
        { id: 'a', title: ' Research ' },
        { id: 'bad id', title: 'x' },
        { id: 'a', title: 'duplicate' },
        { id: 'b' },
        { id: 'c', title: '   ' },
        null,
      ]),
    ).toEqual([
      { id: 'a', title: 'Research' },
      { id: 'b', title: 'b' },
      { id: 'c', title: 'c' },
    ]);
  });
});

describe('block list changes', () => {
  const blocks = [{ id: 'block-1', title: 'one' }];

  it('adds, renames and closes without mutating', () => {
    const added = addBlock(blocks);
    expect(added).toEqual([...blocks, { id: 'block-2', title: 'block-2' }]);
    expect(renameBlock(added, 'block-2', '  two ')).toEqual([...blocks, { id: 'block-2', title: 'two' }]);
    expect(renameBlock(added, 'block-2', '')).toEqual(added);
    expect(closeBlock(added, 'block-1')).toEqual([{ id: 'block-2', title: 'block-2' }]);
    expect(blocks).toEqual([{ id: 'block-1', title: 'one' }]);
  });
});
