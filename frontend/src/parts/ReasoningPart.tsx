/** Reasoning ("thinking"): a collapsible, dimmed markdown block, open while it streams. */
import type { ReasoningUIPart } from 'ai';
import { Markdown } from '../markdown/Markdown';

export function ReasoningPart({ part }: { part: ReasoningUIPart }) {
  const streaming = part.state === 'streaming';
  // Providers may send reasoning with no text (OpenAI encrypted reasoning, Anthropic
  // redacted thinking); once done there is nothing to show.
  if (!streaming && !part.text) return null;
  return (
    // `open` follows streaming: React only touches it when the prop changes, so a
    // reader who opens a finished block keeps it open.
    <details className="part part-reasoning" data-part="reasoning" open={streaming}>
      <summary>{streaming ? 'Reasoning…' : 'Reasoning'}</summary>
      <Markdown className="reasoning-text" text={part.text} streaming={streaming} />
    </details>
  );
}
