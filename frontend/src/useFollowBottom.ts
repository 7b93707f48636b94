/**
 * Auto-scroll for a message list: while the reader is at the bottom, growth of
 * the content (new text, a highlighted code block, a loaded image) keeps the
 * newest line in view. Scrolling up pauses that and offers "jump to latest"
 * once something new arrives below; scrolling back down (or the jump) resumes.
 */
import { useCallback, useEffect, useRef, useState } from 'react';

/** How close to the bottom (px) still counts as "at the bottom". */
const SLACK = 40;

export function useFollowBottom() {
  const listRef = useRef<HTMLDivElement>(null);
  const contentRef = useRef<HTMLDivElement>(null);
  const following = useRef(true);
  const [newBelow, setNewBelow] = useState(false);

  const toBottom = useCallback(() => {
    const list = listRef.current;
    if (list) list.scrollTop = list.scrollHeight;
  }, []);

  useEffect(() => {
    const content = contentRef.current;
    if (!content) return;
    // ResizeObserver, not an effect on the messages: highlighting and math
    // change heights after React has rendered.
    const observer = new ResizeObserver(() => {
      if (following.current) toBottom();
      else setNewBelow(true);
    });
    observer.observe(content);
    toBottom();
    return () => observer.disconnect();
  }, [toBottom]);

  const onScroll = useCallback(() => {
    const list = listRef.current;
    if (!list) return;
    following.current = list.scrollHeight - list.scrollTop - list.clientHeight < SLACK;
    if (following.current) setNewBelow(false);
  }, []);

  const jumpToLatest = useCallback(() => {
    following.current = true;
    setNewBelow(false);
    toBottom();
  }, [toBottom]);

  return { listRef, contentRef, onScroll, following, newBelow, jumpToLatest };
}
