import type { KubernetesObject } from '@kubernetes/client-node';
import type { McpServer } from '../../api/v1alpha1/resources.ts';
import type { Bundle } from '../../policy/bundle.ts';
import type { OperatorSettings } from '../settings.ts';
import { buildDeployment } from './deployment.ts';
import { buildNetworkPolicy } from './network-policy.ts';
import { buildPolicyBundle } from './policy-bundle.ts';
import { buildRole, buildRoleBinding } from './rbac.ts';
import { buildService } from './service.ts';
import { buildServiceAccount } from './service-account.ts';

/**
 * Every object an McpServer owns, in apply order (identity and permissions before the pods that use
 * them; the policy bundle before the sidecars that wait for it). Pure: same inputs, same objects.
 */
export function buildChildren(
  server: McpServer,
  bundle: Bundle,
  settings: OperatorSettings,
): KubernetesObject[] {
  return [
    buildServiceAccount(server),
    buildRole(server),
    buildRoleBinding(server),
    buildPolicyBundle(
      server,
      bundle,
      settings.collector?.caBundle,
      // Copied only for servers that use it (no CA of their own).
      server.spec.auth.caBundle ? undefined : settings.identityProviderCa?.caBundle,
    ),
    buildService(server, settings),
    buildNetworkPolicy(server, settings),
    buildDeployment(server, settings),
  ];
}
