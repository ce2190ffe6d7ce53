import { describe, expect, it } from 'vitest';
import { repeatedSingletonHeader } from './repeated-headers.ts';

describe('repeatedSingletonHeader', () => {
  it('finds a repeated singleton whatever the case of its names', () => {
    expect(
      repeatedSingletonHeader(['Host', 'a', 'Content-Type', 'application/json', 'content-type', 'text/x']),
    ).toBe('content-type');
    expect(repeatedSingletonHeader(['MCP-Method', 'tools/call', 'mcp-method', 'tools/list'])).toBe(
      'mcp-method',
    );
  });
  it('allows headers that may repeat, and one copy of each singleton', () => {
    expect(
      repeatedSingletonHeader(['Host', 'a', 'Accept', 'x', 'Accept', 'y', 'X-Any', '1', 'x-any', '2']),
    ).toBeUndefined();
  });
});
