import { z } from 'zod';
import { API_VERSION, MCP_SERVER_KIND, TOOL_POLICY_KIND } from './group.ts';
import { mcpServerSpec, mcpServerStatus } from './mcpserver.ts';
import { toolPolicySpec, toolPolicyStatus } from './toolpolicy.ts';

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

export const mcpServer = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(MCP_SERVER_KIND),
  metadata: objectMeta,
  spec: mcpServerSpec,
  status: mcpServerStatus.optional(),
});

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
