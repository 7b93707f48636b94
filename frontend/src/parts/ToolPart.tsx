/**
 * A tool call (`tool-<name>` or `dynamic-tool`) in any of its seven states,
 * with Approve/Deny buttons while the server waits for an approval.
 */
import { getToolName, type DynamicToolUIPart, type ToolUIPart } from 'ai';
import { Markdown } from '../markdown/Markdown';
import { Notice } from '../Notice';
import { formatJson } from './format';

export type AnyToolPart = ToolUIPart | DynamicToolUIPart;

/** Answers a pending approval; the pane calls `addToolApprovalResponse`. */
export type ApprovalResponder = (approvalId: string, approved: boolean) => void;

const STATE_LABELS: Record<AnyToolPart['state'], string> = {
  'input-streaming': 'receiving input…',
  'input-available': 'running…',
  'approval-requested': 'needs approval',
  'approval-responded': 'answered',
  'output-available': 'done',
  'output-error': 'failed',
  'output-denied': 'denied',
};

function JsonBlock({ label, value, open }: { label: string; value: unknown; open?: boolean }) {
  const text = formatJson(value);
  if (!text) return null;
  return (
    <details className="tool-json" open={open}>
      <summary>{label}</summary>
      <pre>
        <code>{text}</code>
      </pre>
    </details>
  );
}

function ToolInput({ part }: { part: AnyToolPart }) {
  if (part.state === 'input-streaming') {
    // Partial input: prefer the raw text so the reader sees exactly what arrived.
    return <JsonBlock label="input (streaming)" value={part.rawInput ?? part.input} open />;
  }
  // While the user decides, the approval notice shows the input in full instead.
  if (part.state === 'approval-requested') return null;
  return <JsonBlock label="input" value={part.input} />;
}

function ApprovalRequest({
  part,
  toolName,
  onApprovalResponse,
}: {
  part: Extract<AnyToolPart, { state: 'approval-requested' }>;
  toolName: string;
  onApprovalResponse: ApprovalResponder;
}) {
  const input = formatJson(part.input);
  // Longest backtick run + 1: a fence the input itself cannot close.
  const fence = '`'.repeat(Math.max(3, ...Array.from(input.matchAll(/`+/g), (match) => match[0].length + 1)));
  const language = typeof part.input === 'string' ? 'text' : 'json';
  return (
    <Notice
      tone="warning"
      kind="approval"
      label={`Approval for ${toolName}`}
      title={`${toolName} needs your approval`}
      actions={
        <>
          <button
            type="button"
            className="button-approve"
            aria-label={`Approve ${toolName}`}
            onClick={() => onApprovalResponse(part.approval.id, true)}
          >
            Approve
          </button>
          <button
            type="button"
            className="button-deny"
            aria-label={`Deny ${toolName}`}
            onClick={() => onApprovalResponse(part.approval.id, false)}
          >
            Deny
          </button>
        </>
      }
    >
      {part.approval.requestReason ? <p className="notice-text">{part.approval.requestReason}</p> : null}
      {input ? (
        <div className="approval-input" data-testid="approval-input">
          <Markdown text={`${fence}${language}\n${input}\n${fence}`} />
        </div>
      ) : null}
    </Notice>
  );
}

function ToolResult({
  part,
  toolName,
  onApprovalResponse,
}: {
  part: AnyToolPart;
  toolName: string;
  onApprovalResponse: ApprovalResponder;
}) {
  switch (part.state) {
    case 'input-streaming':
    case 'input-available':
      return null;
    case 'approval-requested':
      return <ApprovalRequest part={part} toolName={toolName} onApprovalResponse={onApprovalResponse} />;
    case 'approval-responded':
      return (
        <p className="tool-note">
          {part.approval.approved ? 'Approved; waiting for the result…' : 'Denied; waiting for the model…'}
        </p>
      );
    case 'output-available':
      return (
        <JsonBlock label={part.preliminary ? 'output (partial)' : 'output'} value={part.output} open />
      );
    case 'output-error':
      return <pre className="tool-error">{part.errorText}</pre>;
    case 'output-denied':
      return (
        <p className="tool-note tool-denied">
          Denied{part.approval.reason ? `: ${part.approval.reason}` : ''}
        </p>
      );
  }
}

/**
 * The state label. A call without a result is only "running" while its answer
 * streams; afterwards it waits for something else (a client-side tool, or a
 * stream that was stopped), so say that instead of spinning forever.
 */
function stateLabel(part: AnyToolPart, answerStreaming: boolean): string {
  if (!answerStreaming && (part.state === 'input-streaming' || part.state === 'input-available')) {
    return 'no result';
  }
  return STATE_LABELS[part.state];
}

export function ToolPart({
  part,
  answerStreaming = true,
  onApprovalResponse,
}: {
  part: AnyToolPart;
  /** Whether the message holding this part is still streaming. */
  answerStreaming?: boolean;
  onApprovalResponse: ApprovalResponder;
}) {
  const toolName = getToolName(part);
  return (
    <div
      className={`part part-tool tool-state-${part.state}`}
      data-part="tool"
      data-state={part.state}
      data-tool-name={toolName}
      data-tool-call-id={part.toolCallId}
    >
      <div className="tool-header">
        <span className="part-label">tool</span> <span className="tool-name">{part.title || toolName}</span>
        {part.providerExecuted ? <span className="muted"> (provider)</span> : null}
        <span className="tool-state"> {stateLabel(part, answerStreaming)}</span>
      </div>
      <ToolInput part={part} />
      <ToolResult part={part} toolName={toolName} onApprovalResponse={onApprovalResponse} />
    </div>
  );
}
