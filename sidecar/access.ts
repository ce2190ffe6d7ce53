import type { LoadedPolicy } from '../policy/load.ts';
import { isLoopback, type SidecarConfig } from './config.ts';

/**
 * Who may address this endpoint: the Host names (DNS-rebinding defence), the browser Origins, and the
 * exact MCP path. Derived from the config and the policy's publicUrl, recomputed when policy changes.
 */
export interface Access {
  allowedHosts(): ReadonlySet<string>;
  /** Listed explicitly, or, for a sidecar listening on loopback only, any loopback origin. */
  originAllowed(origin: string): boolean;
  mcpPath(): string;
  update(policy: LoadedPolicy): void;
  /** Recompute, e.g. once the listening port is known. */
  refresh(): void;
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

export function createAccess(config: SidecarConfig, listenPort: () => number): Access {
  let hosts = new Set<string>();
  let path = config.path ?? '/mcp';
  const origins = new Set(config.allowedOrigins);

  let lastPublicUrl: string | undefined;
  function compute(publicUrl: string | undefined): void {
    lastPublicUrl = publicUrl;
    const next = new Set(config.allowedHosts.map((h) => h.toLowerCase()));
    if (publicUrl) next.add(new URL(publicUrl).host.toLowerCase());
    if (isLoopback(config.listen.host)) {
      for (const name of LOOPBACK_NAMES) {
        next.add(name);
        next.add(`${name}:${listenPort()}`);
      }
    }
    hosts = next;
    if (config.path === undefined && publicUrl) path = new URL(publicUrl).pathname;
  }
  compute(undefined);

  return {
    allowedHosts: () => hosts,
    originAllowed(origin) {
      if (origins.has(origin)) return true;
      if (!isLoopback(config.listen.host) || !URL.canParse(origin)) return false;
      const { hostname, protocol } = new URL(origin);
      return (protocol === 'http:' || protocol === 'https:') && LOOPBACK_NAMES.includes(hostname);
    },
    mcpPath: () => path,
    update: (policy) => compute(policy.bundle.spec.auth.publicUrl),
    refresh: () => compute(lastPublicUrl),
  };
}
