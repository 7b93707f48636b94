import { afterEach, describe, expect, it } from 'vitest';
import { act, renderHook } from '@testing-library/react';
import { readPresetFromSearch, searchWithPreset, usePresetFromUrl } from './usePresetFromUrl';

describe('readPresetFromSearch', () => {
  it('reads the preset and treats an empty value as none', () => {
    expect(readPresetFromSearch('?preset=deep')).toBe('deep');
    expect(readPresetFromSearch('?x=1&preset=fast%20one')).toBe('fast one');
    expect(readPresetFromSearch('?preset=')).toBeNull();
    expect(readPresetFromSearch('')).toBeNull();
  });
});

describe('searchWithPreset', () => {
  it('sets, replaces and removes the preset, keeping other parameters', () => {
    expect(searchWithPreset('', 'deep')).toBe('?preset=deep');
    expect(searchWithPreset('?debug=1&preset=fast', 'deep')).toBe('?debug=1&preset=deep');
    expect(searchWithPreset('?debug=1&preset=fast', null)).toBe('?debug=1');
    expect(searchWithPreset('?preset=fast', null)).toBe('');
  });
});

describe('usePresetFromUrl', () => {
  afterEach(() => window.history.replaceState(null, '', '/'));

  it('starts from the URL, pushes a history entry on change, and follows popstate', () => {
    window.history.replaceState(null, '', '/?preset=fast#top');
    const lengthBefore = window.history.length;
    const { result } = renderHook(() => usePresetFromUrl());
    expect(result.current[0]).toBe('fast');

    act(() => result.current[1]('deep'));
    expect(result.current[0]).toBe('deep');
    expect(window.location.search).toBe('?preset=deep');
    expect(window.location.hash).toBe('#top');
    expect(window.history.length).toBe(lengthBefore + 1);

    // Setting the same preset again adds no history entry.
    act(() => result.current[1]('deep'));
    expect(window.history.length).toBe(lengthBefore + 1);

    // What the browser does on Back: the URL changes, then popstate fires.
    act(() => {
      window.history.replaceState(null, '', '/?preset=fast');
      window.dispatchEvent(new PopStateEvent('popstate'));
    });
    expect(result.current[0]).toBe('fast');

    act(() => result.current[1](null));
    expect(result.current[0]).toBeNull();
    expect(window.location.search).toBe('');
  });
});
