import { z } from 'zod';
import { AUDIT_SCHEMA, auditEvent } from './event.ts';
import { heartbeat, ingestAck } from './ingest.ts';

/**
 * The published JSON Schemas of the audit contract (docs/audit/*.schema.json), rendered from the zod
 * schemas the sidecar and collector validate with, so the documents cannot drift from the code.
 */
export function renderAuditJsonSchemas(): Map<string, string> {
  const render = (id: string, title: string, schema: z.ZodType) =>
    `${JSON.stringify(jsonSchemaOf(id, title, schema), null, 2)}\n`;
  return new Map([
    ['audit-event.v1.schema.json', `${JSON.stringify(auditEventJsonSchema(), null, 2)}\n`],
    [
      'heartbeat.v1.schema.json',
      render('heartbeat.v1.json', 'Sidecar heartbeat to the collector', heartbeat),
    ],
    [
      'ingest-ack.v1.schema.json',
      render('ingest-ack.v1.json', 'Collector acknowledgement of a batch', ingestAck),
    ],
  ]);
}

/**
 * The audit event's JSON Schema as an object: what docs/audit/audit-event.v1.schema.json holds, and what the
 * collector compiles into its ingest validator (collector/ingest/event-validator.ts).
 */
export function auditEventJsonSchema(): Record<string, unknown> {
  return jsonSchemaOf('audit-event.v1.json', `Audit event (${AUDIT_SCHEMA})`, auditEvent);
}

function jsonSchemaOf(id: string, title: string, schema: z.ZodType): Record<string, unknown> {
  return {
    $id: `https://portcullis.dev/schemas/${id}`,
    title,
    ...z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }),
  };
}
