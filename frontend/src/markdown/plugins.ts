/**
 * Highlighting (Shiki) and math (KaTeX) are the heavy parts of the markdown
 * renderer, so they load on first need: when some text holds a code fence or
 * math. Until then Streamdown shows code unhighlighted and math as source.
 * One module-level store, shared by every Markdown view on the page.
 */
import { useEffect, useSyncExternalStore } from 'react';
import type { PluginConfig } from 'streamdown';

type Loaded = { code?: PluginConfig['code']; math?: PluginConfig['math'] };

let loaded: Loaded = {};
let plugins: PluginConfig = {};
const listeners = new Set<() => void>();
const started = { code: false, math: false };

function publish(next: Loaded) {
  loaded = { ...loaded, ...next };
  plugins = { ...loaded };
  listeners.forEach((listener) => listener());
}

/** Fenced code (``` or ~~~) anywhere in the text. */
export function needsCode(text: string): boolean {
  return /(^|\n) {0,3}(```|~~~)/.test(text);
}

/** Display math (`$$`) or LaTeX delimiters; single `$` is prose (prices), as in the math plugin. */
export function needsMath(text: string): boolean {
  return text.includes('$$') || text.includes('\\[') || text.includes('\\(');
}

function loadCode() {
  if (started.code) return;
  started.code = true;
  void import('./codePlugin').then((module) => publish({ code: module.codePlugin }));
}

function loadMath() {
  if (started.math) return;
  started.math = true;
  void import('./mathPlugin').then((module) => publish({ math: module.mathPlugin }));
}

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The Streamdown plugins loaded so far; starts loading what `text` needs. */
export function useMarkdownPlugins(text: string): PluginConfig {
  const wantsCode = needsCode(text);
  const wantsMath = needsMath(text);
  useEffect(() => {
    if (wantsCode) loadCode();
    if (wantsMath) loadMath();
  }, [wantsCode, wantsMath]);
  return useSyncExternalStore(subscribe, () => plugins);
}

/** Test hook: load both now and resolve once they are in. */
export async function preloadMarkdownPlugins(): Promise<void> {
  const [code, math] = await Promise.all([import('./codePlugin'), import('./mathPlugin')]);
  started.code = started.math = true;
  publish({ code: code.codePlugin, math: math.mathPlugin });
}
