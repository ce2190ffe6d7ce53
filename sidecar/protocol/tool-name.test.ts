import { describe, expect, it } from 'vitest';
import { toolNameProblem } from './tool-name.ts';

describe('toolNameProblem', () => {
  it.each(['read_invoice', 'a', 'ns.tool-1', 'server/tool', 'x:y', 'x'.repeat(128)])('accepts %j', (name) =>
    expect(toolNameProblem(name)).toBeUndefined(),
  );
  it.each([
    '',
    'x'.repeat(129),
    'read invoice',
    'read_invoice\n',
    'read_\u0131nvoice', // dotless i: uppercases to I
    'r\u0435ad_invoice', // Cyrillic e
    'read_invoice\u200b',
    '\u0000',
  ])('refuses %j', (name) => expect(toolNameProblem(name)).toBeTypeOf('string'));
});
