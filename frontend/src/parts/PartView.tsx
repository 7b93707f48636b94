/** Picks the renderer for one message part. */
import { isToolUIPart, type UIMessage } from 'ai';
import { FilePart } from './FilePart';
import { ReasoningPart } from './ReasoningPart';
import { SourceDocumentPart, SourceUrlPart } from './SourcePart';
import { TextPart } from './TextPart';
import { ToolPart, type ApprovalResponder } from './ToolPart';

export type MessagePart = UIMessage['parts'][number];

export function PartView({
  part,
  index,
  answerStreaming = true,
  onApprovalResponse,
}: {
  part: MessagePart;
  /** Position in the message; a leading step boundary is not drawn. */
  index: number;
  /** Whether the message holding this part is still streaming. */
  answerStreaming?: boolean;
  onApprovalResponse: ApprovalResponder;
}) {
  if (isToolUIPart(part)) {
    return <ToolPart part={part} answerStreaming={answerStreaming} onApprovalResponse={onApprovalResponse} />;
  }
  switch (part.type) {
    case 'text':
      return <TextPart part={part} />;
    case 'reasoning':
      return <ReasoningPart part={part} />;
    case 'source-url':
      return <SourceUrlPart part={part} />;
    case 'source-document':
      return <SourceDocumentPart part={part} />;
    case 'file':
    case 'reasoning-file':
      return <FilePart part={part} />;
    case 'step-start':
      return index === 0 ? null : <hr className="step-separator" data-part="step-start" aria-hidden="true" />;
    default:
      // `data-*` parts are app data the server may add later, `custom` is
      // provider-specific content, and steering messages are experimental:
      // none has a meaning this UI knows, so they are not drawn.
      return null;
  }
}
