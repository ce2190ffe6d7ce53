import Ajv2020 from 'ajv/dist/2020.js';
import type { ErrorObject, Logger, ValidateFunction } from 'ajv';
import type { AuditEvent } from '../../api/audit/v1/event.ts';
import { auditEventJsonSchema } from '../../api/audit/v1/json-schema.ts';

/** Why an event was refused: where (a dotted path, '' for the event itself) and what. */
export interface EventProblem {
  readonly path: string;
  readonly message: string;
}

/** Checks one parsed line; `undefined` means it is an AuditEvent. */
export type EventValidator = (value: unknown) => EventProblem | undefined;

/**
 * The collector's AuditEvent check, compiled once from the JSON Schema the project generates from the zod
 * schema (api/audit/v1/json-schema.ts, published as docs/audit/audit-event.v1.schema.json), with ajv.
 *
 * Why not zod per line: at ingest rates the collector validates tens of thousands of events a second, and
 * zod's interpreted walk cost ~9 % of the collector's CPU; ajv generates one straight-line function. Why
 * from the generated schema rather than hand-written checks: the schema is already the published contract
 * and is derived from the zod schema, so a field added to the event is checked here without anyone
 * remembering to; a property-based differential test (event-validator.test.ts) holds it to accepting and
 * refusing exactly what zod does.
 *
 * The options make the JSON Schema mean what zod means:
 * - ajv's default string length, in code points (a surrogate pair is one, a lone surrogate one), is zod's
 *   too (zod 4 counts code points when the UTF-16 length is over a bound); the differential test pins it.
 * - `unicodeRegExp: false`: patterns compile without the `u` flag, as zod's own regular expressions are.
 * - `validateFormats: false`: `format` (uuid, date-time) is informational; every format zod checks is also
 *   a `pattern` (zod's own regex) in the generated schema, and ajv-formats' idea of a uuid differs.
 * - no defaults, coercion or removal of additional properties: the value is never changed, because the
 *   collector stores the event exactly as received (unknown, newer fields included).
 */
export function compileEventValidator(): EventValidator {
  const ajv = new Ajv2020.default({
    strict: true,
    allErrors: false,
    unicodeRegExp: false,
    validateFormats: false,
    logger: compileLogger,
  });
  const validate = ajv.compile(auditEventJsonSchema()) as ValidateFunction<AuditEvent>;
  return (value) => (validate(value) ? undefined : problemOf(validate.errors?.[0]));
}

/** A schema ajv would warn about (strict mode) is a defect of ours: fail at start-up, not at ingest. */
const compileLogger: Logger = {
  log: () => undefined,
  warn: (...args: unknown[]) => {
    throw new Error(`audit event validator: ${args.map(String).join(' ')}`);
  },
  error: (...args: unknown[]) => {
    throw new Error(`audit event validator: ${args.map(String).join(' ')}`);
  },
};

function problemOf(error: ErrorObject | undefined): EventProblem {
  if (error === undefined) return { path: '', message: 'invalid' };
  const path = error.instancePath.slice(1).replaceAll('/', '.');
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty: string }).missingProperty;
    return { path: path === '' ? missing : `${path}.${missing}`, message: 'is required' };
  }
  return { path, message: error.message ?? error.keyword };
}
