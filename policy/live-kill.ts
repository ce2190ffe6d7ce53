import { isKillSwitchEngaged, KILL_REASON, killedTools } from '../api/v1alpha1/annotations.ts';
import type { Bundle, BundleContent, KillSwitch } from './bundle.ts';
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
  const reason = annotations?.[KILL_REASON];
  const own: KillSwitch[] = isKillSwitchEngaged(annotations)
    ? [
        reason === undefined
          ? { source: 'McpServer', name: content.server.name }
          : { source: 'McpServer', name: content.server.name, reason },
      ]
    : [];
  const tools = killedTools(annotations);
  const next: BundleContent = {
    ...content,
    kill: {
      server: [...own, ...others],
      tools,
      ...(reason !== undefined && tools.length > 0 ? { reason } : {}),
    },
  };
  return { ...next, hash: contentHash(next) };
}
