/**
 * The markdown renderer, split off the entry chunk: Streamdown and its parser
 * (unified, micromark, parse5, marked) weigh about as much as the rest of the
 * app. The import starts as soon as this module is evaluated, in parallel with
 * the first API calls; until it lands a text shows as plain wrapped text, which
 * is also what an old browser without dynamic import would keep.
 */
import { memo, useSyncExternalStore } from 'react';
import type { StreamdownView as View } from './StreamdownView';

type ViewComponent = typeof View;

let loadedView: ViewComponent | null = null;
const listeners = new Set<() => void>();
let loading: Promise<ViewComponent> | null = null;

/** Starts (once) and awaits the renderer chunk; unit tests await it in their setup. */
export function loadMarkdownRenderer(): Promise<ViewComponent> {
  loading ??= import('./StreamdownView').then((module) => {
    loadedView = module.StreamdownView;
    listeners.forEach((listener) => listener());
    return module.StreamdownView;
  });
  return loading;
}

void loadMarkdownRenderer();

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export const Markdown = memo(function Markdown({
  text,
  streaming = false,
  className,
}: {
  text: string;
  /** The text is still arriving: unterminated markdown is completed for display. */
  streaming?: boolean;
  className?: string;
}) {
  const Loaded = useSyncExternalStore(subscribe, () => loadedView);
  if (!Loaded) {
    return <div className={`markdown-plain ${className ?? ''}`}>{text}</div>;
  }
  return <Loaded text={text} streaming={streaming} className={className} />;
});
