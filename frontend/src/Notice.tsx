/**
 * The one renderer for everything the app says about an answer or a pane:
 * who answered (preset, model, provenance, usage, a fallback), an approval the
 * server waits for, a warning such as "not saved", an error with Retry, a load
 * failure. A tone, an optional title, labelled fields, free content, actions.
 */
import type { ReactNode } from 'react';

export type NoticeTone = 'info' | 'warning' | 'error';

export type NoticeField = {
  /** Stable `data-field` name for tests and styling. */
  name: string;
  text: string;
  /** Longer explanation, shown on hover. */
  title?: string;
  /** A field that deserves attention (e.g. a fallback) in an otherwise quiet notice. */
  tone?: NoticeTone;
};

export function Notice({
  tone,
  kind,
  title,
  fields = [],
  children,
  actions,
  live,
  testId,
  label,
}: {
  tone: NoticeTone;
  /** What this notice is about (`data-notice`): answer-metadata, approval, not-saved, error, … */
  kind: string;
  title?: string;
  fields?: NoticeField[];
  children?: ReactNode;
  actions?: ReactNode;
  /** `alert` for errors that interrupt, `status` for news; none for static details. */
  live?: 'alert' | 'status';
  testId?: string;
  /** Accessible name of the group (e.g. "Approval for delete_file"). */
  label?: string;
}) {
  return (
    <div
      className={`notice notice-${tone}`}
      data-notice={kind}
      data-tone={tone}
      data-testid={testId}
      role={live ?? (label ? 'group' : undefined)}
      aria-label={label}
    >
      {title ? <strong className="notice-title">{title}</strong> : null}
      {fields.map((field) => (
        <span
          key={field.name}
          className={field.tone ? `notice-field notice-${field.tone}` : 'notice-field'}
          data-field={field.name}
          title={field.title}
        >
          {field.text}
        </span>
      ))}
      {children}
      {actions ? <span className="notice-actions">{actions}</span> : null}
    </div>
  );
}
