import { describe, expect, it } from 'vitest';
import { formatFallback, formatProvenance, formatResolvedFrom, formatUsage, readAnswerMetadata } from './metadata';

describe('readAnswerMetadata', () => {
  it('reads the server metadata and ignores wrong types', () => {
    expect(
      readAnswerMetadata({ preset: 'deep', provider: 'anthropic', model: 7, resolvedFrom: 'url' }),
    ).toMatchObject({ preset: 'deep', provider: 'anthropic', model: undefined, resolvedFrom: 'url' });
    expect(readAnswerMetadata(undefined)).toEqual({});
    expect(readAnswerMetadata('text')).toEqual({});
  });
});

describe('formatUsage', () => {
  it('shows input with cache details, output with reasoning, and total', () => {
    const usage = readAnswerMetadata({
      usage: {
        inputTokens: 1200,
        inputTokenDetails: { noCacheTokens: 150, cacheReadTokens: 1000, cacheWriteTokens: 50 },
        outputTokens: 300,
        outputTokenDetails: { textTokens: 180, reasoningTokens: 120 },
        totalTokens: 1500,
      },
    }).usage;
    expect(formatUsage(usage)).toBe('in 1200 (cache read 1000, write 50) · out 300 (reasoning 120) · total 1500');
  });

  it('leaves out what is missing', () => {
    expect(formatUsage(readAnswerMetadata({ usage: { outputTokens: 5 } }).usage)).toBe('out 5');
    expect(formatUsage(readAnswerMetadata({ usage: {} }).usage)).toBeUndefined();
    expect(formatUsage(undefined)).toBeUndefined();
  });
});

describe('formatResolvedFrom', () => {
  it('names the layer the preset came from', () => {
    expect(formatResolvedFrom('block')).toBe('block');
    expect(formatResolvedFrom({ preset: 'url', model: 'preset', maxTokens: 'default' })).toBe('url');
    expect(formatResolvedFrom({ model: 'preset' })).toBeUndefined();
    expect(formatResolvedFrom(null)).toBeUndefined();
  });

  it('lists every field for the tooltip', () => {
    expect(formatProvenance({ preset: 'url', model: 'preset' })).toBe('preset=url model=preset');
    expect(formatProvenance('url')).toBeUndefined();
  });
});

describe('fallbacks', () => {
  it("reads the server's fallbackFrom and says which preset failed and why", () => {
    const metadata = readAnswerMetadata({
      preset: 'gpt',
      provider: 'openai-chat',
      model: 'gpt-4o',
      fallbackFrom: { preset: 'claude', provider: 'anthropic', model: 'claude-sonnet-5-5', reason: 'overloaded' },
    });
    expect(formatFallback(metadata.fallback)).toBe('fallback from claude anthropic/claude-sonnet-5-5 (overloaded)');
  });
});
