/** A file: images inline, anything else as a download link. */
import type { FileUIPart, ReasoningFileUIPart } from 'ai';
import { isSafeFileUrl } from './format';

export function FilePart({ part }: { part: FileUIPart | ReasoningFileUIPart }) {
  const filename = 'filename' in part ? part.filename : undefined;
  const name = filename || part.mediaType;
  const safe = isSafeFileUrl(part.url);
  // `mediaType` may be just a top-level type such as "image" (protocol §1.5).
  const isImage = part.mediaType === 'image' || part.mediaType.startsWith('image/');
  return (
    <div className="part part-file" data-part="file" data-media-type={part.mediaType}>
      {!safe ? (
        <span>[file: {name}]</span>
      ) : isImage ? (
        <img src={part.url} alt={filename || 'image'} className="file-image" />
      ) : (
        <a href={part.url} download={filename || true} target="_blank" rel="noreferrer noopener">
          {name}
        </a>
      )}
    </div>
  );
}
