/** A text part rendered as markdown (see markdown/Markdown.tsx for what is allowed). */
import type { TextUIPart } from 'ai';
import { Markdown } from '../markdown/Markdown';

export function TextPart({ part }: { part: TextUIPart }) {
  const streaming = part.state === 'streaming';
  return (
    <div className="part part-text" data-part="text" data-streaming={streaming || undefined}>
      <Markdown text={part.text} streaming={streaming} />
    </div>
  );
}
