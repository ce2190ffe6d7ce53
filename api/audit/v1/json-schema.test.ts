import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { renderAuditJsonSchemas } from './json-schema.ts';

const docsDir = join(import.meta.dirname, '../../../docs/audit');

const event = {
  schema: 'portcullis.dev/audit/v1',
  id: '0b8d6f4e-7a53-4a61-9a0e-5f1f3b0f2a11',
  kind: 'call',
  time: '2026-11-22T10:00:00.000Z',
  requestId: 'r-1',
  server: { namespace: 'finance', name: 'billing' },
  method: 'tools/call',
  tool: 'read_invoice',
  user: 'alice',
  decision: 'allowed',
  latencyMs: 1.5,
  sidecar: 'abc123',
  seq: 1,
};

describe('published audit JSON Schemas', () => {
  it('match the committed docs/audit/*.schema.json (run `make crds` after changing api/audit)', () => {
    for (const [file, text] of renderAuditJsonSchemas())
      expect(readFileSync(join(docsDir, file), 'utf8'), file).toBe(text);
  });

  it('accept a valid event, tolerate unknown fields, and refuse a broken one', () => {
    const ajv = new Ajv2020.default({ strict: false });
    addFormats.default(ajv);
    const validate = ajv.compile(JSON.parse(renderAuditJsonSchemas().get('audit-event.v1.schema.json')!));
    expect(validate(event)).toBe(true);
    expect(validate({ ...event, addedInV1_1: true })).toBe(true);
    expect(validate({ ...event, seq: 0 })).toBe(false);
    expect(validate({ ...event, decision: 'maybe' })).toBe(false);
    const { sidecar: _s, ...unstamped } = event;
    expect(validate(unstamped)).toBe(false);
  });
});
