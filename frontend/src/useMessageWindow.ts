/**
 * Long conversations open fast by rendering only the newest PAGE messages;
 * older ones come in a page at a time when the reader scrolls to the top (or
 * presses "show earlier"), with the scroll position kept where it was.
 * Measured in docs/benchmarks.md.
 */
import { useCallback, useEffect, useLayoutEffect, useRef, useState, type RefObject } from 'react';

export const PAGE = 40;

export function useMessageWindow(
  total: number,
  listRef: RefObject<HTMLDivElement | null>,
  following: RefObject<boolean>,
) {
  const [hiddenWanted, setHiddenWanted] = useState(() => Math.max(0, total - PAGE));
  // Messages removed (clear, edit) can only shrink what is hidden.
  const hidden = Math.min(hiddenWanted, Math.max(0, total - PAGE));
  const sentinelRef = useRef<HTMLDivElement>(null);
  const fromBottom = useRef<number | null>(null);

  const showEarlier = useCallback(() => {
    const list = listRef.current;
    if (list) fromBottom.current = list.scrollHeight - list.scrollTop;
    setHiddenWanted((current) => Math.max(0, Math.min(current, total - PAGE) - PAGE));
  }, [listRef, total]);

  useLayoutEffect(() => {
    // Keep the reader's place: the same distance from the bottom as before.
    const list = listRef.current;
    if (list && fromBottom.current !== null) {
      list.scrollTop = list.scrollHeight - fromBottom.current;
      fromBottom.current = null;
    }
  }, [hidden, listRef]);

  useEffect(() => {
    const sentinel = sentinelRef.current;
    if (!sentinel || hidden === 0) return;
    const observer = new IntersectionObserver((entries) => {
      // Only for a reader who scrolled up, not for the first frame of a short list.
      if (entries.some((entry) => entry.isIntersecting) && !following.current) showEarlier();
    });
    observer.observe(sentinel);
    return () => observer.disconnect();
  }, [hidden, showEarlier, following]);

  return { hidden, showEarlier, sentinelRef };
}
