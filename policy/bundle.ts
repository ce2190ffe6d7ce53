import { z } from 'zod';
import { mcpServerSpec } from '../api/v1alpha1/mcpserver.ts';
import { toolPolicySpec } from '../api/v1alpha1/toolpolicy.ts';

/**
 * The compiled policy for one McpServer: plain, comparable data with a content hash. The operator
 * writes it, the sidecar reads it (and validates it with this schema at that boundary), and the
 * sidecar's file mode builds it with the same compiler.
 */
export const BUNDLE_FORMAT = 'portcullis.dev/bundle/v1';

const killSource = z.enum(['McpServer', 'Namespace', 'ToolPolicy']);

export const killSwitchSchema = z.strictObject({
  source: killSource,
  name: z.string(),
  reason: z.string().optional(),
  /** Who engaged it (portcullis.dev/killed-by); for audit and status, never for callers. */
  by: z.string().optional(),
});

/** Why (and who) for one tool killed by name (portcullis.dev/killed-tools-reasons). */
export const killRecordSchema = z.strictObject({
  reason: z.string().optional(),
  by: z.string().optional(),
});

export const bundlePolicySchema = z.strictObject({
  name: z.string(),
  mode: toolPolicySpec.shape.mode.unwrap(),
  rules: toolPolicySpec.shape.rules,
  audit: toolPolicySpec.shape.audit,
  /** The policy's own kill switch: every tool it selects is refused. */
  kill: killSwitchSchema.optional(),
});

export const bundleContentSchema = z.strictObject({
  format: z.literal(BUNDLE_FORMAT),
  server: z.strictObject({
    namespace: z.string(),
    name: z.string(),
    generation: z.int().optional(),
  }),
  spec: mcpServerSpec,
  kill: z.strictObject({
    /** Whole-server switches (the server's own annotation and its Namespace's). */
    server: z.array(killSwitchSchema),
    /** Tools killed by name on the McpServer. */
    tools: z.array(z.string()),
    /**
     * The reason of every killed tool, as older CLIs wrote it (portcullis.dev/kill-reason shared with the
     * server switch); set only when the McpServer has no killed-tools-reasons annotation.
     */
    reason: z.string().optional(),
    /** Per killed tool, its own reason and who killed it; absent when there are none. */
    toolReasons: z.record(z.string(), killRecordSchema).optional(),
  }),
  /** Policies targeting the server, sorted by name: evaluation order is part of the contract. */
  policies: z.array(bundlePolicySchema),
});

export const bundleSchema = bundleContentSchema.extend({
  hash: z.string().regex(/^sha256:[a-f0-9]{64}$/),
});

export type BundleContent = z.infer<typeof bundleContentSchema>;
export type Bundle = z.infer<typeof bundleSchema>;
export type BundlePolicy = z.infer<typeof bundlePolicySchema>;
export type BundleRule = BundlePolicy['rules'][number];
export type KillSwitch = z.infer<typeof killSwitchSchema>;

/** Where the operator publishes a server's bundle and the sidecar watches for it: the contract between them. */
export const BUNDLE_KEY = 'bundle.json';

export function bundleConfigMapName(serverName: string): string {
  return `${serverName}-mcp-policy`;
}
