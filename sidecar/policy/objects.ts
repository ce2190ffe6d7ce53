import { parseAllDocuments } from 'yaml';
import { API_VERSION, GROUP } from '../../api/v1alpha1/group.ts';
import { mcpServer, toolPolicy, type McpServer, type ToolPolicy } from '../../api/v1alpha1/resources.ts';

/**
 * Reads the same YAML a user would `kubectl apply`: McpServers, ToolPolicies, and Namespaces (for
 * their kill-switch annotations). Everything is validated with the API's runtime schemas, which
 * refuse exactly what the API server refuses.
 */
export interface PolicyObjects {
  readonly servers: McpServer[];
  readonly policies: ToolPolicy[];
  readonly namespaces: Map<string, Record<string, string>>;
}

export type ObjectsResult =
  { readonly ok: true; readonly objects: PolicyObjects } | { readonly ok: false; readonly errors: string[] };

export function parsePolicyObjects(
  files: readonly { readonly name: string; readonly text: string }[],
): ObjectsResult {
  const errors: string[] = [];
  const objects: PolicyObjects = { servers: [], policies: [], namespaces: new Map() };
  for (const file of files) {
    for (const [index, document] of parseAllDocuments(file.text).entries()) {
      const where = `${file.name}#${index + 1}`;
      if (document.errors.length > 0) {
        errors.push(`${where}: ${document.errors.map((e) => e.message).join('; ')}`);
        continue;
      }
      const value = document.toJS() as Record<string, unknown> | null;
      if (value === null) continue; // an empty document (comments only, a trailing ---)
      // Skipping what we cannot read would silently drop a policy, and with it maybe a Deny rule.
      if (typeof value !== 'object' || Array.isArray(value)) {
        errors.push(
          `${where}: expected an object (a YAML mapping), found ${Array.isArray(value) ? 'a list' : typeof value}`,
        );
        continue;
      }
      if (value['apiVersion'] === 'v1' && value['kind'] === 'Namespace') {
        const metadata = value['metadata'] as
          { name?: string; annotations?: Record<string, string> } | undefined;
        if (metadata?.name) objects.namespaces.set(metadata.name, metadata.annotations ?? {});
        continue;
      }
      if (value['apiVersion'] !== API_VERSION) {
        // Other APIs' objects may share the files; our group in a version we do not know may not.
        if (String(value['apiVersion']).startsWith(`${GROUP}/`))
          errors.push(
            `${where}: unsupported apiVersion ${String(value['apiVersion'])}; expected ${API_VERSION}`,
          );
        continue;
      }
      const schema =
        value['kind'] === 'McpServer' ? mcpServer : value['kind'] === 'ToolPolicy' ? toolPolicy : undefined;
      if (schema === undefined) {
        errors.push(`${where}: unknown kind ${String(value['kind'])}`);
        continue;
      }
      const parsed = schema.safeParse(value);
      if (!parsed.success) {
        const details = parsed.error.issues.map((i) => `${i.path.join('.') || '(object)'}: ${i.message}`);
        errors.push(`${where} (${String(value['kind'])}): ${details.join('; ')}`);
        continue;
      }
      const object = parsed.data;
      object.metadata.namespace ??= 'default';
      if (object.kind === 'McpServer') objects.servers.push(object);
      else objects.policies.push(object);
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, objects };
}
