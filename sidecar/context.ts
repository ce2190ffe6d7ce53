import type { Logger } from 'pino';
import type { LoadedPolicy } from '../policy/load.ts';
import type { Access } from './access.ts';
import type { AuditSink } from './audit/sink.ts';
import type { Authenticator } from './auth/authenticator.ts';
import type { SidecarConfig } from './config.ts';
import type { Exchange } from './exchange.ts';
import type { SidecarMetrics } from './observability/metrics.ts';
import type { PolicyHolder } from './policy/policy-holder.ts';
import type { SessionStore } from './session-store.ts';
import type { Upstream } from './transports/upstream.ts';

/** Everything the stages share, built once at start-up (I/O lives behind these interfaces). */
export interface SidecarContext {
  readonly config: SidecarConfig;
  readonly access: Access;
  readonly policy: PolicyHolder;
  /** The authenticator for the auth settings of this policy (rebuilt only when they change). */
  authenticatorFor(policy: LoadedPolicy): Authenticator;
  readonly upstream: Upstream;
  readonly sessions: SessionStore;
  /** Forwarded tool calls still running, with how to stop each (kill switches engaged mid-call). */
  readonly inFlight: Map<Exchange, () => void>;
  readonly audit: AuditSink;
  readonly metrics: SidecarMetrics;
  readonly log: Logger;
  /** Wall clock (ms) for timestamps; performance.now() measures latency. */
  readonly clock: () => number;
}
