import { z } from 'zod';
import {
  condition,
  conditions,
  configMapKeyRef,
  dnsLabel,
  quantity,
  secretKeyRef,
  toolName,
} from './common.ts';
import { isCidr, isHttpsUrl } from './formats.ts';
import { killSwitchStatus } from './kill-switch-status.ts';
import { doc } from './schema-doc.ts';

// ---- workload -------------------------------------------------------------------------------------

const envVar = doc(
  z.strictObject({
    name: doc(
      z
        .string()
        .min(1)
        .max(256)
        .regex(/^[-._a-zA-Z][-._a-zA-Z0-9]*$/),
      'Name of the environment variable.',
    ),
    value: doc(z.string().max(32768).optional(), 'Literal value.'),
    secretKeyRef: doc(secretKeyRef.optional(), 'Take the value from a key of a Secret in this namespace.'),
    configMapKeyRef: doc(
      configMapKeyRef.optional(),
      'Take the value from a key of a ConfigMap in this namespace.',
    ),
  }),
  'An environment variable of the MCP server process. The sidecar never passes client credentials through environment or headers.',
  {
    validations: [
      {
        rule: '[has(self.value), has(self.secretKeyRef), has(self.configMapKeyRef)].filter(x, x).size() <= 1',
        message: 'set at most one of value, secretKeyRef and configMapKeyRef',
        check: (e) => [e.value, e.secretKeyRef, e.configMapKeyRef].filter((x) => x !== undefined).length <= 1,
      },
    ],
  },
);

const resourceList = z.strictObject({
  cpu: quantity('CPU, for example 250m or 1.').optional(),
  memory: quantity('Memory, for example 256Mi.').optional(),
});

export const resources = z.strictObject({
  requests: doc(resourceList.optional(), 'Resources the scheduler reserves.'),
  limits: doc(resourceList.optional(), 'Hard limits enforced by the kubelet.'),
});

const workload = z.strictObject({
  image: doc(z.string().min(1).max(512), 'Container image of the MCP server, ideally pinned by digest.'),
  imagePullPolicy: doc(
    z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
    'When the kubelet pulls the image.',
  ),
  imagePullSecrets: doc(
    z.array(dnsLabel).max(8).optional(),
    'Names of Secrets in this namespace used to pull the image.',
    { listSet: true },
  ),
  command: doc(
    z.array(z.string().max(4096)).min(1).max(64).optional(),
    'Entrypoint of the server process. Required for the Stdio transport: this is the process whose stdin/stdout speak MCP.',
  ),
  args: doc(z.array(z.string().max(4096)).max(128).optional(), 'Arguments to the entrypoint.'),
  workingDir: doc(z.string().max(4096).optional(), 'Working directory of the server process.'),
  env: doc(z.array(envVar).max(128).optional(), 'Environment of the server process.', {
    listMapKeys: ['name'],
  }),
  resources: doc(
    resources.optional(),
    'Compute resources of the server container (the sidecar has its own).',
  ),
  replicas: doc(
    z.int().min(0).max(100).default(1),
    'Number of pods. Each pod has its own sidecar; 0 scales the server down without deleting it.',
  ),
  nodeSelector: doc(
    z.record(z.string().max(317), z.string().max(63)).optional(),
    'Node labels the pods must be scheduled on.',
    {
      validations: [
        {
          rule: 'self.size() <= 32',
          message: 'at most 32 nodeSelector entries',
          check: (m) => Object.keys(m).length <= 32,
        },
      ],
    },
  ),
  podLabels: doc(
    z.record(z.string().max(317), z.string().max(63)).optional(),
    'Extra labels for the pods (the operator adds its own selector labels, which cannot be overridden).',
    {
      validations: [
        {
          rule: 'self.size() <= 32',
          message: 'at most 32 podLabels',
          check: (m) => Object.keys(m).length <= 32,
        },
      ],
    },
  ),
});

// ---- transport ------------------------------------------------------------------------------------

const transport = doc(
  z.strictObject({
    type: doc(
      z.enum(['StreamableHTTP', 'Stdio']).default('StreamableHTTP'),
      'How the sidecar talks to the server container. StreamableHTTP: the server listens on loopback at port and path. ' +
        'Stdio: the server speaks MCP on stdin/stdout and is bridged to the sidecar inside the pod.',
    ),
    port: doc(
      z.int().min(1).max(65535).optional(),
      'Loopback port the server listens on (StreamableHTTP only; default 8080). Never exposed outside the pod.',
    ),
    path: doc(
      z
        .string()
        .max(256)
        .regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$/)
        .optional(),
      'HTTP path of the MCP endpoint on the server (StreamableHTTP only; default /mcp).',
    ),
  }),
  'The upstream transport between the sidecar and the server container.',
  {
    validations: [
      {
        rule: "self.type == 'StreamableHTTP' || (!has(self.port) && !has(self.path))",
        message: 'port and path apply only to the StreamableHTTP transport; a Stdio server has neither',
        check: (t) => t.type === 'StreamableHTTP' || (t.port === undefined && t.path === undefined),
      },
    ],
  },
);

// ---- inbound auth ---------------------------------------------------------------------------------

const httpsUrl = (description: string) =>
  doc(z.string().min(1).max(2048), description, {
    validations: [
      {
        rule: "isURL(self) && url(self).getScheme() == 'https' && url(self).getHostname() != ''",
        message: 'must be an absolute https URL',
        check: isHttpsUrl,
      },
    ],
  });

const claimName = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z0-9_:.\-/]+$/);

const claimMapping = z.strictObject({
  user: doc(claimName.default('sub'), 'Claim that names the end user.'),
  agent: doc(
    claimName.default('client_id'),
    'Claim that names the agent (the OAuth client). When the token carries an RFC 8693 `act` claim, act.sub wins.',
  ),
  tenant: doc(claimName.optional(), 'Claim that names the tenant, for argument bindings and audit.'),
  groups: doc(claimName.default('groups'), 'Claim holding the list of groups of the user.'),
});

/** PEM CA certificates for the identity provider's TLS, from a ConfigMap or a Secret of the server's namespace. */
export const caBundleRef = doc(
  z.strictObject({
    configMapKeyRef: doc(configMapKeyRef.optional(), 'A key of a ConfigMap in this namespace.'),
    secretKeyRef: doc(secretKeyRef.optional(), 'A key of a Secret in this namespace.'),
  }),
  'PEM CA certificates the sidecar trusts, in addition to the system roots, when it connects to the identity provider: issuer discovery, the JWKS and the token exchange endpoint (upstreamAuth TokenExchange). For an identity provider whose certificate a private CA signs. Replaces the operator-wide CA (operator setting identityProviderCa) for this server. New pods wait until the object exists; a missing ConfigMap or key makes condition ReferencesResolved False (Secrets are not checked: the operator reads none).',
  {
    validations: [
      {
        rule: '[has(self.configMapKeyRef), has(self.secretKeyRef)].filter(x, x).size() == 1',
        message: 'set exactly one of configMapKeyRef and secretKeyRef',
        check: (c) => [c.configMapKeyRef, c.secretKeyRef].filter((x) => x !== undefined).length === 1,
      },
    ],
  },
);

const auth = z.strictObject({
  issuer: httpsUrl('OpenID issuer URL; tokens must carry exactly this iss.'),
  jwksUri: doc(
    httpsUrl('JWKS URL. Default: jwks_uri from the issuer discovery document.').optional(),
    'JWKS URL. Default: jwks_uri from the issuer discovery document.',
  ),
  publicUrl: httpsUrl(
    'The URL clients use to reach this server through the sidecar. Protected Resource Metadata is built from it, never from request headers.',
  ),
  audience: doc(
    z.string().min(1).max(2048).optional(),
    'Canonical resource URI (RFC 8707) tokens must be issued for. Default: publicUrl. Tokens for any other audience are refused, and so are tokens whose aud array also names other resources (see allowSharedAudience).',
  ),
  algorithms: doc(
    z
      .array(
        z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']),
      )
      .min(1)
      .max(10)
      .default(['RS256', 'ES256']),
    'Signature algorithms accepted. Symmetric algorithms and none are never accepted.',
    { listSet: true },
  ),
  allowSharedAudience: doc(
    z.boolean().default(false),
    'Accept tokens whose aud array names other resources besides this one. Off by default: such a token is valid at every server it names, so whoever runs one of them can replay it here. Turn on only when the authorization server cannot issue single-audience tokens.',
  ),
  clockSkewSeconds: doc(
    z.int().min(0).max(300).default(30),
    'Tolerated clock skew for exp, nbf and iat (a token issued further in the future is refused).',
  ),
  requiredScopes: doc(
    z.array(z.string().min(1).max(256)).max(32).optional(),
    'Scopes every call needs; per-tool scopes come from ToolPolicy rules.',
    { listSet: true },
  ),
  claims: doc(
    claimMapping.default({ user: 'sub', agent: 'client_id', groups: 'groups' }),
    'Where identities come from in the verified token.',
  ),
  caBundle: caBundleRef.optional(),
});

// ---- upstream auth --------------------------------------------------------------------------------

const upstreamAuth = doc(
  z.strictObject({
    mode: doc(
      z.enum(['None', 'Minted', 'TokenExchange']).default('None'),
      'What the server container receives instead of the client token, which is never forwarded. ' +
        'None: identity context headers over loopback. Minted: a short-lived JWT signed by the sidecar, scoped to the one tool called. ' +
        'TokenExchange: a token from RFC 8693 exchange at the identity provider.',
    ),
    minted: doc(
      z
        .object({
          audience: doc(
            z.string().min(1).max(2048),
            'aud of minted tokens: the upstream system that verifies them.',
          ),
          issuer: doc(
            z.string().min(1).max(2048).optional(),
            'iss of minted tokens. Default: the sidecar URL.',
          ),
          signingKeySecretRef: doc(
            secretKeyRef,
            'Secret key holding the PEM private signing key (rotated by replacing it).',
          ),
          ttlSeconds: doc(
            z.int().min(5).max(60).default(60),
            'Lifetime of a minted token; at most 60 seconds.',
          ),
        })
        .optional(),
      'Settings for mode Minted.',
    ),
    tokenExchange: doc(
      z
        .object({
          tokenEndpoint: httpsUrl('Token endpoint of the identity provider that performs RFC 8693 exchange.'),
          clientId: doc(
            z.string().min(1).max(256),
            'Client id the sidecar authenticates with at the token endpoint.',
          ),
          clientSecretRef: doc(secretKeyRef, 'Secret key holding the client secret.'),
          audience: doc(z.string().min(1).max(2048), 'audience (or resource) requested for the upstream.'),
          scopes: doc(
            z.array(z.string().min(1).max(256)).max(32).optional(),
            'Scopes requested for every exchanged token.',
            {
              listSet: true,
            },
          ),
        })
        .optional(),
      'Settings for mode TokenExchange.',
    ),
  }),
  'How the server container learns who is calling.',
  {
    validations: [
      {
        rule: "self.mode == 'Minted' ? has(self.minted) : !has(self.minted)",
        message: 'minted settings are required with mode Minted and not allowed otherwise',
        check: (u) => (u.mode === 'Minted') === (u.minted !== undefined),
      },
      {
        rule: "self.mode == 'TokenExchange' ? has(self.tokenExchange) : !has(self.tokenExchange)",
        message: 'tokenExchange settings are required with mode TokenExchange and not allowed otherwise',
        check: (u) => (u.mode === 'TokenExchange') === (u.tokenExchange !== undefined),
      },
    ],
  },
);

// ---- tools ----------------------------------------------------------------------------------------

const toolPin = z.strictObject({
  name: doc(toolName, 'Tool name as the server publishes it.'),
  digest: doc(
    z.string().max(71),
    'sha256 of the canonical tool definition (name, description, input and output schema, annotations), as `portcullis` reports in record mode.',
    {
      validations: [
        {
          rule: "self.matches('^sha256:[a-f0-9]{64}$')",
          message:
            'digest must be sha256: followed by 64 lowercase hex digits, as reported in status.observedTools',
          check: (digest) => /^sha256:[a-f0-9]{64}$/.test(digest),
        },
      ],
    },
  ),
});

const tools = z.strictObject({
  pinning: doc(
    z.enum(['Disabled', 'Record', 'Enforce']).optional(),
    'Disabled: no pinning. Record: observe and report digests in status, refuse nothing. ' +
      'Enforce: an unknown or drifted tool is quarantined (hidden and refused). Default: Enforce when pins exist, else Disabled.',
  ),
  pins: doc(z.array(toolPin).max(256).optional(), 'Reviewed tool definitions.', { listMapKeys: ['name'] }),
});

// ---- protocol -------------------------------------------------------------------------------------

const protocol = z.strictObject({
  extensionMethods: doc(
    z.enum(['Forward', 'Refuse']).default('Forward'),
    'JSON-RPC methods outside the ones MCP defines and outside its namespaces (e.g. acme.example/reindex). ' +
      'Forward: passed to the server as written (it implements them or answers method not found). ' +
      'Refuse: answered 400 by the sidecar. Methods in MCP namespaces that MCP does not define, and look-alikes ' +
      'of defined ones (case, Unicode compatibility forms), are refused either way.',
  ),
});

// ---- limits, egress, resilience, audit ------------------------------------------------------------

export const rateLimit = doc(
  z.strictObject({
    requestsPerSecond: doc(z.int().min(1).max(1_000_000), 'Sustained calls per second.'),
    burst: doc(
      z.int().min(1).max(1_000_000).optional(),
      'Calls allowed at once above the sustained rate. Default: requestsPerSecond.',
    ),
  }),
  'A token bucket.',
  {
    validations: [
      {
        rule: '!has(self.burst) || self.burst >= self.requestsPerSecond',
        message: 'burst must be at least requestsPerSecond',
        check: (r) => r.burst === undefined || r.burst >= r.requestsPerSecond,
      },
    ],
  },
);

const limits = z.strictObject({
  maxConcurrency: doc(
    z.int().min(1).max(10_000).default(64),
    'Calls in flight at once across the server, per pod.',
  ),
  maxQueue: doc(
    z.int().min(0).max(10_000).default(64),
    'Calls waiting for a concurrency slot; beyond it calls are refused.',
  ),
  queueTimeoutSeconds: doc(z.int().min(0).max(300).default(5), 'How long a call may wait for a slot.'),
  rate: doc(rateLimit.optional(), 'Calls per second across the server, per pod.'),
  maxRequestSize: quantity('Largest request body accepted (default 1Mi).').optional(),
  maxResponseSize: quantity(
    'Largest tool result passed back (default 10Mi); streamed, not buffered.',
  ).optional(),
  callTimeoutSeconds: doc(
    z.int().min(1).max(3600).default(30),
    'Default per-call timeout; upstream work is cancelled when it fires.',
  ),
});

const egressRule = doc(
  z.strictObject({
    host: doc(
      z
        .string()
        .max(253)
        .regex(/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$/)
        .optional(),
      'DNS name (or *.suffix) reachable through the sidecar egress proxy. Resolved names must not be private addresses.',
    ),
    cidr: doc(
      z.string().max(64).optional(),
      'An IP range, allowed by NetworkPolicy and the egress proxy. The only way to allow private ranges.',
      {
        validations: [
          { rule: 'isCIDR(self)', message: 'must be a CIDR such as 10.20.0.0/16', check: isCidr },
        ],
      },
    ),
    ports: doc(z.array(z.int().min(1).max(65535)).min(1).max(16).default([443]), 'Destination ports.', {
      listSet: true,
    }),
  }),
  'One allowed destination.',
  {
    validations: [
      {
        rule: 'has(self.host) != has(self.cidr)',
        message: 'set exactly one of host and cidr',
        check: (e) => (e.host === undefined) !== (e.cidr === undefined),
      },
    ],
  },
);

const egress = z.strictObject({
  allow: doc(
    z.array(egressRule).max(64).optional(),
    'Destinations the server may reach. Empty: none (DNS and the sidecar only).',
  ),
  maxConnections: doc(z.int().min(1).max(10_000).default(64), 'Concurrent egress connections per pod.'),
});

const resilience = z.strictObject({
  failurePolicy: doc(
    z.enum(['Closed', 'Open']).default('Closed'),
    'When the policy source is stale longer than maxStalenessSeconds: Closed refuses calls, Open keeps the last good policy.',
  ),
  maxStalenessSeconds: doc(
    z.int().min(5).max(86_400).default(300),
    'How long the last good policy may go unconfirmed.',
  ),
});

const audit = z.strictObject({
  durability: doc(
    z.enum(['Auto', 'Strict', 'Batched']).default('Auto'),
    'Strict: the event is durable before the call is forwarded. Batched: written before the call is forwarded (a crashed ' +
      'sidecar loses nothing), on disk within the sync interval (50 ms by default), not waited for. ' +
      'Auto: Strict except for tools annotated readOnlyHint.',
  ),
  arguments: doc(
    z.enum(['Digest', 'Redacted', 'Full']).default('Digest'),
    'What audit events keep of call arguments: only a digest, the arguments with redact paths removed, or all of them.',
  ),
  redact: doc(
    z.array(z.string().min(1).max(256)).max(64).optional(),
    'Argument paths (dot-separated) removed in Redacted mode.',
    {
      listSet: true,
    },
  ),
});

export const mcpServerSpec = doc(
  z.strictObject({
    workload: doc(workload, 'The MCP server container and its pods.'),
    transport: doc(
      transport.default({ type: 'StreamableHTTP' }),
      'How the sidecar reaches the server container.',
    ),
    auth: doc(auth, 'How clients authenticate to the sidecar (OAuth 2.1 resource server).'),
    upstreamAuth: doc(
      upstreamAuth.default({ mode: 'None' }),
      'How the server container learns who is calling.',
    ),
    tools: doc(tools.optional(), 'Tool pinning.'),
    protocol: doc(
      protocol.default({ extensionMethods: 'Forward' }),
      'What the sidecar forwards beyond the methods MCP defines.',
    ),
    limits: doc(
      limits.default({ maxConcurrency: 64, maxQueue: 64, queueTimeoutSeconds: 5, callTimeoutSeconds: 30 }),
      'Server-wide limits, enforced per pod.',
    ),
    egress: doc(egress.optional(), 'What the server container may reach over the network.'),
    resilience: doc(
      resilience.default({ failurePolicy: 'Closed', maxStalenessSeconds: 300 }),
      'Behaviour when the policy source is unavailable.',
    ),
    audit: doc(audit.default({ durability: 'Auto', arguments: 'Digest' }), 'Audit settings.'),
    sidecar: doc(
      z
        .strictObject({ resources: doc(resources.optional(), 'Compute resources of the sidecar container.') })
        .optional(),
      'Settings of the Portcullis sidecar container.',
    ),
  }),
  'Desired state of the MCP server and the gate in front of it.',
);

// ---- status ---------------------------------------------------------------------------------------

const observedTool = z.strictObject({
  name: doc(toolName, 'Tool name.'),
  digest: doc(z.string().max(80), 'Digest of the definition the server currently publishes.'),
  state: doc(
    z.enum(['Pinned', 'Drifted', 'Unpinned', 'Quarantined']),
    'How the definition compares with the pins.',
  ),
});

export const mcpServerStatus = doc(
  z.strictObject({
    observedGeneration: doc(z.int().min(0).optional(), 'The metadata.generation the operator last acted on.'),
    conditions,
    policyHash: doc(
      z.string().max(80).optional(),
      'Hash of the policy bundle the operator compiled for this server.',
    ),
    servedPolicyHashes: doc(
      z
        .array(
          z.strictObject({
            hash: doc(z.string().max(80), 'A policy hash reported by sidecars.'),
            sidecars: doc(z.int().min(0), 'How many sidecars serve it.'),
          }),
        )
        .max(16)
        .optional(),
      'Policy hashes the sidecars report serving; one entry equal to policyHash means all are current.',
      { listMapKeys: ['hash'] },
    ),
    endpoint: doc(
      z.string().max(2048).optional(),
      'In-cluster URL of the sidecar, the only entrance to the server.',
    ),
    replicas: doc(z.int().min(0).optional(), 'Pods that exist.'),
    readyReplicas: doc(z.int().min(0).optional(), 'Pods that are ready.'),
    killSwitch: killSwitchStatus,
    servedTools: doc(
      z.int().min(0).optional(),
      'How many of the observed tools the sidecars serve: published, not quarantined, not killed. ' +
        '0 with Ready pods means callers see no tools (see the ToolsServed condition).',
    ),
    observedTools: doc(
      z.array(observedTool).max(256).optional(),
      'Tools the server publishes and how they compare with the pins.',
      {
        listMapKeys: ['name'],
      },
    ),
  }),
  'Observed state, written by the operator only.',
);

export type McpServerSpec = z.infer<typeof mcpServerSpec>;
export type McpServerSpecInput = z.input<typeof mcpServerSpec>;
export type McpServerStatus = z.infer<typeof mcpServerStatus>;
export const mcpServerConditionTypes = [
  'Ready',
  'WorkloadReady',
  'PolicyReady',
  'Killed',
  'ToolDrift',
  'ToolsServed',
  'EgressLocked',
] as const;
export { condition };
