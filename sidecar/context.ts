import type { Logger } from 'pino';
import type { LoadedPolicy } from '../policy/load.ts';
import type { Access } from './access.ts';
import type { AuditSink } from './audit/sink.ts';
import type { Authenticator } from './auth/authenticator.ts';
import type { SidecarConfig } from './config.ts';
import type { ToolContracts } from './contracts/tool-contracts.ts';
import type { Exchange } from './exchange.ts';
import type { CallLimiter } from './limits/call-limiter.ts';
import type { SidecarMetrics } from './observability/metrics.ts';
import type { PolicyHolder } from './policy/policy-holder.ts';
import type { SessionStore } from './session-store.ts';
import type { RequestTracer } from './tracing/request-trace.ts';
import type { Upstream } from './transports/upstream.ts';
import type { UpstreamIdentity } from './upstream-identity/upstream-identity.ts';

/** Everything the stages share, built once at start-up (I/O lives behind these interfaces). */
export interface SidecarContext {
  readonly config: SidecarConfig;
  readonly access: Access;
  readonly policy: PolicyHolder;
  /** The authenticator for the auth settings of this policy (rebuilt only when they change). */
  authenticatorFor(policy: LoadedPolicy): Authenticator;
  readonly upstream: Upstream;
  /** What the server receives instead of the client's token (upstreamAuth: None, Minted, TokenExchange). */
  readonly upstreamIdentity: UpstreamIdentity;
  readonly sessions: SessionStore;
  /** Forwarded tool calls still running, with how to stop each (kill switches engaged mid-call). */
  readonly inFlight: Map<Exchange, () => void>;
  /** Rate limits, call budgets and concurrency caps on tool calls (state survives policy updates). */
  readonly limits: CallLimiter;
  /** Observed tool definitions vs pins (quarantine), compiled input/output schemas. */
  readonly contracts: ToolContracts;
  readonly audit: AuditSink;
  readonly metrics: SidecarMetrics;
  /** Spans of requests, exported over OTLP; absent unless --otlp-traces-endpoint (tracing is off by default). */
  readonly tracer?: RequestTracer;
  readonly log: Logger;
  /** Wall clock (ms) for timestamps; performance.now() measures latency. */
  readonly clock: () => number;
}
