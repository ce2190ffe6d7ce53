import { contentHash } from './hash.ts';

/**
 * The pinned identity of an MCP tool: sha256 over the canonical JSON (keys sorted at every level) of the
 * parts of its definition that tell a model what the tool does and accepts — name, description, input
 * and output schema, annotations. Display-only parts (title, icons, _meta) are left out, so a server
 * may restyle a tool without invalidating a review; anything a model reads or a call must satisfy is in.
 *
 * The sidecar (observation, quarantine), the operator (status) and the CLI (`portcullis` reporting digests
 * to pin) all use this one function, so a digest copied from any of them pins the same definition.
 */
export const DIGESTED_TOOL_FIELDS = [
  'name',
  'description',
  'inputSchema',
  'outputSchema',
  'annotations',
] as const;

export type DigestedToolField = (typeof DIGESTED_TOOL_FIELDS)[number];

/** A tool definition as a server publishes it in tools/list (only the digested fields are typed). */
export type ToolDefinitionLike = { readonly name: string } & {
  readonly [K in Exclude<DigestedToolField, 'name'>]?: unknown;
} & Readonly<Record<string, unknown>>;

/** The digested part of a definition. Absent fields stay absent (absent and null differ). */
export function canonicalToolDefinition(tool: ToolDefinitionLike): Record<string, unknown> {
  const canonical: Record<string, unknown> = {};
  for (const field of DIGESTED_TOOL_FIELDS) {
    if (Object.hasOwn(tool, field) && tool[field] !== undefined) canonical[field] = tool[field];
  }
  return canonical;
}

/** `sha256:<64 hex>`, the format of `spec.tools.pins[].digest`. */
export function toolDigest(tool: ToolDefinitionLike): string {
  return contentHash(canonicalToolDefinition(tool));
}

const MAX_SCHEMA_VERSION = 128;

/**
 * The schema version a tool declares, if any, so errors can name it: `_meta.schemaVersion` or
 * `_meta.version` (string or number), else the input schema's `$id`. MCP defines no such field; these
 * are the conventions servers use. Informational only: it is not part of the digest.
 */
export function toolSchemaVersion(tool: ToolDefinitionLike): string | undefined {
  const meta = tool['_meta'];
  const candidates: unknown[] = [];
  if (isRecord(meta)) candidates.push(meta['schemaVersion'], meta['version']);
  if (isRecord(tool.inputSchema)) candidates.push(tool.inputSchema['$id']);
  for (const value of candidates) {
    if ((typeof value === 'string' && value !== '') || (typeof value === 'number' && Number.isFinite(value)))
      return String(value).slice(0, MAX_SCHEMA_VERSION);
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
