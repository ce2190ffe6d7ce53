import type { V1Container, V1Volume } from '@kubernetes/client-node';
import type { OperatorSettings } from '../settings.ts';

/** On each pod template: Enabled or Disabled, the operator's egressLock setting the pod was built with. */
export const EGRESS_LOCK_ANNOTATION = 'portcullis.dev/egress-lock';

/**
 * The legacy iptables backend locks /run/xtables.lock; the root filesystem is read-only, so /run is a
 * small in-memory volume of this container's own (the nft backend does not need it).
 */
const XTABLES_RUN = 'xtables-run';

/**
 * The pod's first init container: installs the egress lock in the pod's network namespace, which every
 * container shares, then exits. It is the one container that runs as root, because iptables needs
 * CAP_NET_ADMIN (and CAP_NET_RAW for the legacy backend) as an effective capability, and Kubernetes gives
 * added capabilities to a non-root process only in its bounding set. Nothing else: no other capability,
 * no privilege escalation, a read-only root filesystem, no token, no network beyond the kernel's netlink.
 * It exits before the server starts, and a failure to lock fails the pod (fail closed).
 */
export function egressLockContainer(settings: OperatorSettings): V1Container {
  return {
    name: 'egress-lock',
    image: settings.sidecarImage,
    imagePullPolicy: settings.sidecarImagePullPolicy,
    args: ['egress-lock', '--sidecar-uid', String(settings.sidecarUid)],
    securityContext: {
      runAsUser: 0,
      runAsNonRoot: false,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
    volumeMounts: [{ name: XTABLES_RUN, mountPath: '/run' }],
  };
}

export function egressLockVolumes(settings: OperatorSettings): V1Volume[] {
  if (settings.egressLock !== 'Enabled') return [];
  return [{ name: XTABLES_RUN, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }];
}
