import type { Bundle, BundleContent } from './bundle.ts';
import { mcpServerKills } from './compile.ts';
import { contentHash } from './hash.ts';

/**
 * A bundle with the kill switches of its own McpServer taken from that server's live annotations. The
 * sidecar watches its McpServer directly, so a security team's annotation bites even while the
 * operator is down. Kill switches from the Namespace and from ToolPolicies still arrive with bundles.
 */
export function withLiveServerKills(
  bundle: Bundle,
  annotations: Readonly<Record<string, string>> | undefined,
): Bundle {
  const { hash: _hash, ...content } = bundle;
  const others = content.kill.server.filter((k) => k.source !== 'McpServer');
  const { own, kill } = mcpServerKills(content.server.name, annotations);
  const next: BundleContent = {
    ...content,
    kill: { server: [...(own ? [own] : []), ...others], ...kill },
  };
  return { ...next, hash: contentHash(next) };
}
