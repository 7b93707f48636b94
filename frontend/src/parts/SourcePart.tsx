/** Citations: `source-url` as a link, `source-document` as a labelled reference. */
import type { SourceDocumentUIPart, SourceUrlUIPart } from 'ai';
import { isSafeLinkUrl } from './format';

export function SourceUrlPart({ part }: { part: SourceUrlUIPart }) {
  const label = part.title || part.url;
  return (
    <div className="part part-source" data-part="source" data-source-kind="url">
      <span className="part-label">source</span>{' '}
      {isSafeLinkUrl(part.url) ? (
        <a href={part.url} target="_blank" rel="noreferrer noopener" title={part.url}>
          {label}
        </a>
      ) : (
        <span>{label}</span>
      )}
    </div>
  );
}

export function SourceDocumentPart({ part }: { part: SourceDocumentUIPart }) {
  return (
    <div className="part part-source" data-part="source" data-source-kind="document">
      <span className="part-label">document</span> <span>{part.title}</span>
      {part.filename ? <span className="muted"> ({part.filename})</span> : null}
      <span className="muted"> {part.mediaType}</span>
    </div>
  );
}
