import { z } from 'zod';
import { conditions, dnsLabel, labelSelector, toolPattern } from './common.ts';
import { rateLimit } from './mcpserver.ts';
import { doc } from './schema-doc.ts';

const IDENTITY_SOURCE = /^(user|agent|tenant|claims\.[A-Za-z0-9_:.\-/]+)$/;

const subjectName = z.string().min(1).max(256);

const subjects = z.strictObject({
  users: doc(z.array(subjectName).max(256).optional(), 'End users (the mapped user claim), exact match.', {
    listSet: true,
  }),
  groups: doc(z.array(subjectName).max(64).optional(), 'Groups of the user (the mapped groups claim).', {
    listSet: true,
  }),
  agents: doc(z.array(subjectName).max(64).optional(), 'Agents (OAuth clients or RFC 8693 actors).', {
    listSet: true,
  }),
  tenants: doc(z.array(subjectName).max(256).optional(), 'Tenants (the mapped tenant claim).', {
    listSet: true,
  }),
});

const argumentBinding = doc(
  z.strictObject({
    path: doc(
      z
        .string()
        .min(1)
        .max(256)
        .regex(/^[A-Za-z_$][A-Za-z0-9_$-]*(\.[A-Za-z_$][A-Za-z0-9_$-]*)*$/),
      'Dot-separated path of the argument, for example customer_id or filter.customer_id.',
    ),
    from: doc(
      z.string().min(1).max(263),
      'Where the value comes from: user, agent, tenant, or claims.<name> of the verified token.',
      {
        validations: [
          {
            rule: "self in ['user', 'agent', 'tenant'] || self.matches('^claims\\\\.[A-Za-z0-9_:.\\\\-/]+$')",
            message:
              'from must be user, agent, tenant or claims.<claim name>: values come from the verified token, never from the request',
            check: (from) => IDENTITY_SOURCE.test(from),
          },
        ],
      },
    ),
    mode: doc(
      z.enum(['Force', 'Require']).default('Force'),
      'Force: the argument is set to the value whatever the client sent. Require: the call is refused unless the client sent exactly that value.',
    ),
  }),
  'Binds a call argument to the verified identity, so a caller cannot act for another user or tenant.',
);

const ruleLimits = z.strictObject({
  rate: doc(rateLimit.optional(), 'Calls per second.'),
  rateKey: doc(
    z.enum(['Rule', 'Tool', 'Subject', 'SubjectTool']).default('Subject'),
    'What the rate is counted per: the whole rule, each tool (across callers), each user, or each (user, tool).',
  ),
  maxConcurrency: doc(
    z.int().min(1).max(10_000).optional(),
    'Calls of the matched tools in flight at once, per pod.',
  ),
  timeoutSeconds: doc(
    z.int().min(1).max(3600).optional(),
    'Call timeout for the matched tools; upstream work is cancelled when it fires.',
  ),
  maxCallsPerSession: doc(z.int().min(1).max(1_000_000).optional(), 'Budget of calls per MCP session.'),
});

const rule = doc(
  z.strictObject({
    name: doc(dnsLabel, 'Rule name, unique in the policy; shown in audit events and denials.'),
    effect: doc(
      z.enum(['Allow', 'Deny']).default('Allow'),
      'Allow or Deny. Deny beats Allow; a kill switch beats both.',
    ),
    tools: doc(z.array(toolPattern).min(1).max(64), 'Tool names or globs (`*`, `?`) the rule applies to.', {
      listSet: true,
    }),
    subjects: doc(
      subjects.optional(),
      'Who the rule applies to; every listed dimension must match. Omitted: every authenticated caller.',
    ),
    scopes: doc(
      z.array(z.string().min(1).max(256)).max(32).optional(),
      'Token scopes an Allow needs; a caller without them gets 403 insufficient_scope naming them.',
      { listSet: true },
    ),
    when: doc(
      z.string().min(1).max(4096).optional(),
      'CEL condition over `claims` (the verified token), `principal` (user, agent, tenant, groups), `tool` and `args`. Compiled when the policy loads.',
    ),
    arguments: doc(z.array(argumentBinding).max(32).optional(), 'Argument bindings (Allow rules only).', {
      listMapKeys: ['path'],
    }),
    limits: doc(ruleLimits.optional(), 'Limits on the calls this rule allows (Allow rules only).'),
    upstreamScopes: doc(
      z
        .array(
          z
            .string()
            .min(1)
            .max(256)
            .regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/),
        )
        .max(16)
        .optional(),
      'Downstream scopes the server container needs for the calls this rule allows (Allow rules only). ' +
        'With upstreamAuth Minted or TokenExchange they are added to the tool scope (tool:<name>) of the token the server receives.',
      { listSet: true },
    ),
  }),
  'One rule. A call is allowed only if some Allow rule matches and no Deny rule does.',
  {
    validations: [
      {
        rule: "self.effect == 'Allow' || (!has(self.arguments) && !has(self.limits) && !has(self.scopes))",
        message: 'arguments, limits and scopes apply only to Allow rules',
        check: (r) =>
          r.effect === 'Allow' ||
          (r.arguments === undefined && r.limits === undefined && r.scopes === undefined),
      },
      {
        rule: "self.effect == 'Allow' || !has(self.upstreamScopes)",
        message: 'upstreamScopes apply only to Allow rules',
        check: (r) => r.effect === 'Allow' || r.upstreamScopes === undefined,
      },
      {
        rule: '!has(self.subjects) || [has(self.subjects.users), has(self.subjects.groups), has(self.subjects.agents), has(self.subjects.tenants)].exists(x, x)',
        message:
          'subjects needs at least one of users, groups, agents and tenants; omit subjects to match every caller',
        check: (r) =>
          r.subjects === undefined ||
          [r.subjects.users, r.subjects.groups, r.subjects.agents, r.subjects.tenants].some(
            (x) => x !== undefined,
          ),
      },
    ],
  },
);

const targets = doc(
  z.strictObject({
    servers: doc(z.array(dnsLabel).min(1).max(64).optional(), 'Names of McpServers in this namespace.', {
      listSet: true,
    }),
    selector: doc(labelSelector.optional(), 'Labels of McpServers in this namespace.'),
  }),
  'Which McpServers in this namespace the policy applies to.',
  {
    validations: [
      {
        rule: 'has(self.servers) != has(self.selector)',
        message: 'set exactly one of servers and selector',
        check: (t) => (t.servers === undefined) !== (t.selector === undefined),
      },
    ],
  },
);

const auditSettings = z.strictObject({
  arguments: doc(
    z.enum(['Digest', 'Redacted', 'Full']).optional(),
    'Overrides the server audit setting for calls this policy decides.',
  ),
  redact: doc(
    z.array(z.string().min(1).max(256)).max(64).optional(),
    'Argument paths removed in Redacted mode.',
    {
      listSet: true,
    },
  ),
});

export const toolPolicySpec = doc(
  z.strictObject({
    targets,
    mode: doc(
      z.enum(['Enforce', 'Audit']).default('Enforce'),
      'Enforce: decisions are applied. Audit (shadow): decisions that would deny are counted and audited, not applied.',
    ),
    rules: doc(z.array(rule).min(1).max(128), 'The rules.', { listMapKeys: ['name'] }),
    audit: doc(auditSettings.optional(), 'Audit settings for calls this policy decides.'),
  }),
  'Which tools of the targeted McpServers may be called, by whom, under which conditions and limits.',
);

export const toolPolicyStatus = doc(
  z.strictObject({
    observedGeneration: doc(z.int().min(0).optional(), 'The metadata.generation the operator last acted on.'),
    conditions,
    servers: doc(z.array(dnsLabel).max(1024).optional(), 'McpServers this policy currently applies to.', {
      listSet: true,
    }),
    serverCount: doc(z.int().min(0).optional(), 'How many McpServers this policy applies to.'),
  }),
  'Observed state, written by the operator only.',
);

export type ToolPolicySpec = z.infer<typeof toolPolicySpec>;
export type ToolPolicySpecInput = z.input<typeof toolPolicySpec>;
export type ToolPolicyStatus = z.infer<typeof toolPolicyStatus>;
export const toolPolicyConditionTypes = ['Accepted'] as const;
