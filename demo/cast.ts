/**
 * Who takes part in the demo: two users and two agents (OAuth clients). The identity provider issues
 * tokens with exactly these claims, the walkthrough signs in as them, and `portcullis dev` prints tokens
 * for them. The policies in examples/demo decide what each may do; nothing here grants anything.
 */
export interface DemoUser {
  /** The token's sub. */
  readonly id: string;
  /** One line a person reads in the walkthrough. */
  readonly description: string;
  readonly groups: readonly string[];
  /** The tenant_id claim. */
  readonly tenant: string;
  /** Scopes the identity provider grants this user (intersected with what the agent asks for). */
  readonly scopes: readonly string[];
}

export interface DemoAgent {
  /** The OAuth client id: the token's azp and client_id. */
  readonly id: string;
  readonly description: string;
  /** Demo-only secret of a confidential client; the identity provider listens on loopback only. */
  readonly secret: string;
}

export const USERS = {
  alice: {
    id: 'alice',
    description: 'support engineer at Acme',
    groups: ['support'],
    tenant: 'acme',
    scopes: ['billing', 'billing:invoices:read'],
  },
  bob: {
    id: 'bob',
    description: 'platform engineer at Globex',
    groups: ['engineering'],
    tenant: 'globex',
    scopes: ['billing', 'billing:statements:export'],
  },
} as const satisfies Record<string, DemoUser>;

export const AGENTS = {
  supportCopilot: {
    id: 'support-copilot',
    description: "the support team's assistant",
    secret: 'demo-only-secret-support-copilot-0123456789abcdef',
  },
  opsAgent: {
    id: 'ops-agent',
    description: 'an operations automation agent',
    secret: 'demo-only-secret-ops-agent-0123456789abcdef',
  },
} as const satisfies Record<string, DemoAgent>;

export type UserName = keyof typeof USERS;
export type AgentName = keyof typeof AGENTS;

/** Who signs in through which agent, in the walkthrough and in `portcullis dev`. */
export const SIGN_INS: readonly { readonly user: DemoUser; readonly agent: DemoAgent }[] = [
  { user: USERS.alice, agent: AGENTS.supportCopilot },
  { user: USERS.bob, agent: AGENTS.opsAgent },
];

/** Every scope a demo token may carry, the identity provider's resource-server scope list. */
export const ALL_SCOPES: readonly string[] = [
  ...new Set(Object.values(USERS).flatMap((user: DemoUser) => user.scopes)),
];
