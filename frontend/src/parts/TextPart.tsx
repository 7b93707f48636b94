/** A text part rendered as markdown. Raw HTML is never rendered. */
import type { TextUIPart } from 'ai';
import Markdown, { type Components } from 'react-markdown';
import { isSafeLinkUrl } from './format';

const markdownComponents: Components = {
  // Links leave the app in a new tab and do not leak the page URL.
  a: ({ href, children }) =>
    href && isSafeLinkUrl(href) ? (
      <a href={href} target="_blank" rel="noreferrer noopener">
        {children}
      </a>
    ) : (
      <span>{children}</span>
    ),
  // Model output should not make the browser fetch arbitrary images; show the link instead.
  img: ({ src, alt }) => <span className="markdown-image">[image: {alt || String(src ?? '')}]</span>,
};

export function TextPart({ part }: { part: TextUIPart }) {
  return (
    <div className="part part-text" data-part="text" data-streaming={part.state === 'streaming' || undefined}>
      {/* skipHtml: raw HTML in model output is dropped, not rendered or shown as tags. */}
      <Markdown components={markdownComponents} skipHtml>
        {part.text}
      </Markdown>
    </div>
  );
}
