import { z } from 'zod';
import { API_VERSION, MCP_SERVER_KIND, TOOL_POLICY_KIND } from './group.ts';
import { mcpServerSpec, mcpServerStatus } from './mcpserver.ts';
import { toolPolicySpec, toolPolicyStatus } from './toolpolicy.ts';
import type { CelRule } from './schema-doc.ts';

/** The part of ObjectMeta Portcullis reads; other fields pass through untouched. */
export const objectMeta = z.looseObject({
  name: z.string().min(1).max(253),
  namespace: z.string().min(1).max(63).optional(),
  uid: z.string().optional(),
  generation: z.int().optional(),
  resourceVersion: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

const mcpServerShape = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(MCP_SERVER_KIND),
  metadata: objectMeta,
  spec: mcpServerSpec,
  status: mcpServerStatus.optional(),
});

/** Rules over the whole object; in the CRD they sit at the root, where CEL sees metadata.name and spec. */
export const mcpServerRootRules: readonly CelRule<z.output<typeof mcpServerShape>>[] = [
  {
    rule: 'self.metadata.name.size() <= 50',
    message:
      'McpServer names are at most 50 characters, so the names of the objects derived from them fit in 63',
    check: (s) => s.metadata.name.length <= 50,
  },
  {
    rule: "self.spec.transport.type != 'Stdio' || has(self.spec.workload.command)",
    message: 'the Stdio transport needs spec.workload.command: the process that speaks MCP on stdin/stdout',
    check: (s) => s.spec.transport.type !== 'Stdio' || s.spec.workload.command !== undefined,
  },
];

export const mcpServer = mcpServerRootRules.reduce(
  (schema, rule) => schema.refine(rule.check, { message: rule.message }),
  mcpServerShape,
);

export const toolPolicy = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(TOOL_POLICY_KIND),
  metadata: objectMeta,
  spec: toolPolicySpec,
  status: toolPolicyStatus.optional(),
});

export type ObjectMeta = z.infer<typeof objectMeta>;
export type McpServer = z.infer<typeof mcpServer>;
export type McpServerInput = z.input<typeof mcpServer>;
export type ToolPolicy = z.infer<typeof toolPolicy>;
export type ToolPolicyInput = z.input<typeof toolPolicy>;
