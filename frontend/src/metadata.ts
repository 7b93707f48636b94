/**
 * The assistant message metadata the server attaches (`start`/`finish`
 * `messageMetadata`): which preset and model answered, and the token usage.
 * Read defensively: metadata is `unknown` on the wire and any key may be absent.
 */
import { isRecord } from './api';

/** AI SDK `LanguageModelUsage`; every key may be missing. */
export type TokenUsage = {
  inputTokens?: number;
  inputTokenDetails?: { noCacheTokens?: number; cacheReadTokens?: number; cacheWriteTokens?: number };
  outputTokens?: number;
  outputTokenDetails?: { textTokens?: number; reasoningTokens?: number };
  totalTokens?: number;
};

export type AnswerMetadata = {
  preset?: string;
  provider?: string;
  model?: string;
  /** Per-field provenance (`{preset: "url", model: "preset", ...}`) or one layer name. */
  resolvedFrom?: unknown;
  usage?: TokenUsage;
  /** Set when another model answered than the one resolved first (shape not fixed yet). */
  fallback?: unknown;
  /** When the answer started, if the server says (ms since epoch or ISO text). */
  createdAt?: unknown;
};

function numberOrUndefined(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined;
}

function readUsage(value: unknown): TokenUsage | undefined {
  if (!isRecord(value)) return undefined;
  const inputDetails = isRecord(value.inputTokenDetails) ? value.inputTokenDetails : {};
  const outputDetails = isRecord(value.outputTokenDetails) ? value.outputTokenDetails : {};
  return {
    inputTokens: numberOrUndefined(value.inputTokens),
    inputTokenDetails: {
      noCacheTokens: numberOrUndefined(inputDetails.noCacheTokens),
      cacheReadTokens: numberOrUndefined(inputDetails.cacheReadTokens),
      cacheWriteTokens: numberOrUndefined(inputDetails.cacheWriteTokens),
    },
    outputTokens: numberOrUndefined(value.outputTokens),
    outputTokenDetails: {
      textTokens: numberOrUndefined(outputDetails.textTokens),
      reasoningTokens: numberOrUndefined(outputDetails.reasoningTokens),
    },
    totalTokens: numberOrUndefined(value.totalTokens),
  };
}

export function readAnswerMetadata(metadata: unknown): AnswerMetadata {
  if (!isRecord(metadata)) return {};
  return {
    preset: stringOrUndefined(metadata.preset),
    provider: stringOrUndefined(metadata.provider),
    model: stringOrUndefined(metadata.model),
    resolvedFrom: metadata.resolvedFrom,
    usage: readUsage(metadata.usage),
    // The server sends `fallbackFrom: {preset, provider, model, reason}` (docs/api.md, "Fallbacks").
    fallback: metadata.fallbackFrom ?? metadata.fallback ?? undefined,
    createdAt: metadata.createdAt ?? undefined,
  };
}

/**
 * The layer the preset came from. The server sends per-field provenance
 * (`{preset: "url", model: "preset", maxTokens: "default", ...}`); the preset's
 * own layer is what answers "why this preset". A plain string is taken as is.
 */
export function formatResolvedFrom(resolvedFrom: unknown): string | undefined {
  if (typeof resolvedFrom === 'string') return resolvedFrom || undefined;
  if (!isRecord(resolvedFrom)) return undefined;
  return typeof resolvedFrom.preset === 'string' ? resolvedFrom.preset : undefined;
}

/** Every field's layer, "field=layer" separated by spaces, for a tooltip. */
export function formatProvenance(resolvedFrom: unknown): string | undefined {
  if (!isRecord(resolvedFrom)) return undefined;
  const entries = Object.entries(resolvedFrom).filter(([, value]) => typeof value === 'string');
  return entries.length > 0 ? entries.map(([key, value]) => `${key}=${String(value)}`).join(' ') : undefined;
}

/**
 * One line such as "in 1200 (cache read 1000, write 50) · out 300 (reasoning 120) · total 1500".
 * Parts whose numbers are missing are left out; undefined when nothing is known.
 */
export function formatUsage(usage: TokenUsage | undefined): string | undefined {
  if (!usage) return undefined;
  const pieces: string[] = [];
  if (usage.inputTokens !== undefined) {
    const cache: string[] = [];
    const read = usage.inputTokenDetails?.cacheReadTokens;
    const write = usage.inputTokenDetails?.cacheWriteTokens;
    if (read) cache.push(`cache read ${read}`);
    if (write) cache.push(`write ${write}`);
    pieces.push(`in ${usage.inputTokens}${cache.length ? ` (${cache.join(', ')})` : ''}`);
  }
  if (usage.outputTokens !== undefined) {
    const reasoning = usage.outputTokenDetails?.reasoningTokens;
    pieces.push(`out ${usage.outputTokens}${reasoning ? ` (reasoning ${reasoning})` : ''}`);
  }
  if (usage.totalTokens !== undefined) pieces.push(`total ${usage.totalTokens}`);
  return pieces.length > 0 ? pieces.join(' · ') : undefined;
}

function describeModel(value: Record<string, unknown>): string | undefined {
  const model = [value.provider, value.model].filter((item) => typeof item === 'string' && item).join('/');
  const preset = typeof value.preset === 'string' ? value.preset : '';
  return [preset, model].filter(Boolean).join(' ') || undefined;
}

/**
 * A fallback in words. The server's `fallbackFrom` is a record naming the preset
 * that failed (preset/provider/model keys) and why (`reason`); a plain string or
 * a record with `from` is read too.
 */
export function formatFallback(fallback: unknown): string | undefined {
  if (fallback === undefined || fallback === null || fallback === false) return undefined;
  if (typeof fallback === 'string') return fallback ? `fallback: ${fallback}` : undefined;
  if (fallback === true) return 'fallback';
  if (!isRecord(fallback)) return `fallback: ${String(fallback)}`;
  const from = isRecord(fallback.from)
    ? describeModel(fallback.from)
    : typeof fallback.from === 'string'
      ? fallback.from
      : describeModel(fallback);
  const reasonValue = fallback.reason ?? fallback.error ?? fallback.message;
  const reason = typeof reasonValue === 'string' ? reasonValue : undefined;
  return `fallback${from ? ` from ${from}` : ''}${reason ? ` (${reason})` : ''}`;
}

/** A timestamp from metadata (epoch ms or seconds, or ISO text), or undefined. */
export function readTime(value: unknown): Date | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) {
    return new Date(value < 1e12 ? value * 1000 : value);
  }
  if (typeof value === 'string' && value) {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? undefined : date;
  }
  return undefined;
}
