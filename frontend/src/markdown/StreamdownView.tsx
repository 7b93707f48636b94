/**
 * Model output as markdown, through Streamdown: GFM (tables, task lists,
 * strikethrough, autolinks), highlighted code with its language and a copy
 * button, math, and stable rendering of unterminated markdown mid-stream.
 *
 * Safety, in layers: raw HTML is never parsed (no rehype-raw), so `<script>`
 * or `<img onerror>` in an answer is shown as the text the model wrote;
 * rehype-sanitize and rehype-harden then allow links only to http(s) and
 * images only from http(s) or `data:image/…`; the `a` and `img` components
 * below check the URL once more before anything is clickable or fetched.
 */
import { memo, type ComponentProps } from 'react';
import {
  defaultRehypePlugins,
  Streamdown,
  type Components,
  type ControlsConfig,
  type DefaultComponents,
  type StreamdownProps,
} from 'streamdown';
import { isSafeImageUrl, isSafeLinkUrl } from '../parts/format';
import { useMarkdownPlugins } from './plugins';
import './markdown.css';

function SafeLink({ href, children }: ComponentProps<'a'>) {
  if (!href || !isSafeLinkUrl(href)) return <span className="blocked-link">{children}</span>;
  // A new tab, without the page URL as referrer or a handle back to this page.
  return (
    <a href={href} target="_blank" rel="noreferrer noopener">
      {children}
    </a>
  );
}

function SafeImage({ src, alt }: ComponentProps<'img'>) {
  const url = typeof src === 'string' ? src : '';
  if (!isSafeImageUrl(url)) return <span className="blocked-image">[image: {alt || 'blocked'}]</span>;
  return <img src={url} alt={alt ?? ''} loading="lazy" referrerPolicy="no-referrer" className="markdown-image" />;
}

function Strong({ children }: ComponentProps<'strong'>) {
  // Streamdown draws bold as a styled span; <strong> keeps the emphasis for screen readers.
  return <strong>{children}</strong>;
}

const components = { a: SafeLink, img: SafeImage, strong: Strong } satisfies Partial<DefaultComponents> as Components;

type PluginList = NonNullable<StreamdownProps['rehypePlugins']>;
type Pluggable = PluginList[number];

function hardenPlugin(): Pluggable {
  // Streamdown's default entry is [harden, options]; keep its function, use our allow-list.
  const entry = defaultRehypePlugins.harden;
  const plugin = Array.isArray(entry) ? entry[0] : entry;
  const origin = typeof window === 'undefined' ? 'http://localhost' : window.location.origin;
  return [
    plugin,
    {
      defaultOrigin: origin,
      // '*' still blocks javascript:, data: (links), file: and vbscript:; with no
      // extra protocols only http(s), mailto, irc, xmpp and blob pass, and the
      // components narrow that to http(s) (+ data:image for images).
      allowedLinkPrefixes: ['*'],
      allowedImagePrefixes: ['*'],
      allowDataImages: true,
      allowedProtocols: [],
    },
  ] as Pluggable;
}

type Schema = { protocols?: Record<string, string[] | undefined> };

function sanitizePlugin(): Pluggable {
  // Streamdown's schema, plus `data:` image sources; harden below narrows them to data:image/*.
  const entry = defaultRehypePlugins.sanitize;
  if (!Array.isArray(entry)) return entry as Pluggable;
  const [plugin, schema] = entry as [unknown, Schema];
  const src = [...(schema.protocols?.src ?? []), 'data'];
  return [plugin, { ...schema, protocols: { ...schema.protocols, src } }] as Pluggable;
}

// No `raw` entry: HTML in the markdown stays text (rehype-raw would parse it).
const rehypePlugins: PluginList = [sanitizePlugin(), hardenPlugin()];

// Code: copy only (a download of model output is one click too many). Tables:
// copy as markdown/CSV. No fullscreen overlays, no mermaid.
const controls: ControlsConfig = {
  code: { copy: true, download: false },
  table: { copy: true, download: false, fullscreen: false },
  image: false,
  mermaid: false,
};

const translations = { copyCode: 'Copy code', copyTable: 'Copy table' };
const noLinkModal = { enabled: false };
const noMailto = ['mailto'];

export const StreamdownView = memo(function StreamdownView({
  text,
  streaming = false,
  className,
}: {
  text: string;
  /** The text is still arriving: unterminated markdown is completed for display. */
  streaming?: boolean;
  className?: string;
}) {
  const plugins = useMarkdownPlugins(text);
  return (
    <Streamdown
      className={className ? `markdown ${className}` : 'markdown'}
      // Always the streaming mode (memoised blocks, unterminated markdown completed):
      // switching to 'static' when an answer ends would rebuild every element once more.
      mode="streaming"
      isAnimating={streaming}
      // Completing unterminated markdown is for text still arriving; on a finished
      // answer it would "close" things such as the `__` in `window.__name`.
      parseIncompleteMarkdown={streaming}
      rehypePlugins={rehypePlugins}
      components={components}
      controls={controls}
      plugins={plugins}
      linkSafety={noLinkModal}
      disableAutolinkProtocols={noMailto}
      lineNumbers={false}
      translations={translations}
    >
      {text}
    </Streamdown>
  );
});
