import type {
  V1ConfigMapProjection,
  V1VolumeProjection,
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1ResourceRequirements,
  V1SecurityContext,
  V1Volume,
} from '@kubernetes/client-node';
import { COLLECTOR_AUDIENCE } from '../../api/audit/v1/identity.ts';
import type { McpServerSpec } from '../../api/v1alpha1/mcpserver.ts';
import type { McpServer } from '../../api/v1alpha1/resources.ts';
import type { OperatorSettings } from '../settings.ts';
import { egressLockContainer, egressLockVolumes, EGRESS_LOCK_ANNOTATION } from './egress-lock-pod.ts';
import { bundleConfigMapName } from '../../policy/bundle.ts';
import { COLLECTOR_CA_KEY, IDP_CA_KEY } from './policy-bundle.ts';
import { childMetadata, childName, commonLabels, selectorLabels } from './names.ts';

/**
 * The server's pods: the MCP server container and the Portcullis sidecar, its only entrance. The pod
 * gets no service-account token; a projected token is mounted into the sidecar alone, so the server
 * container cannot talk to the API server. Both containers run non-root on a read-only root filesystem
 * with every capability dropped. With the egress lock (the default) they run as two fixed UIDs, and an
 * init container lets only the sidecar's send beyond loopback (see egress-lock.ts).
 */
export const BRIDGE_DIR = '/portcullis/bridge';
export const BRIDGE_BINARY = `${BRIDGE_DIR}/portcullis-stdio-bridge`;
/** Where the Portcullis image ships the bridge (the Dockerfile's COPY destination). */
export const IMAGE_BRIDGE_BINARY = '/usr/local/bin/portcullis-stdio-bridge';
export const BRIDGE_SOCKET = `${BRIDGE_DIR}/stdio.sock`;
const TOKEN_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Upstream-identity secrets (the minting key, the token-exchange client secret), sidecar only. */
export const UPSTREAM_SECRETS_DIR = '/var/run/portcullis/upstream';
const SIGNING_KEY_FILE = 'signing-key.pem';
/** The audit write-ahead log (an emptyDir: it outlives a crashed sidecar container, not the pod). */
export const AUDIT_WAL_DIR = '/var/lib/portcullis/audit';
/** A service-account token whose audience is the collector: it is useless against the API server. */
export const COLLECTOR_TOKEN_DIR = '/var/run/secrets/portcullis.dev/collector';
const CLIENT_SECRET_FILE = 'client-secret';
/** The CA the sidecar trusts (besides the system roots) for its identity provider. */
export const IDP_CA_DIR = '/var/run/portcullis/idp-ca';
export const IDP_CA_FILE = `${IDP_CA_DIR}/ca.crt`;

/**
 * Where the sidecar finds its identity provider's CA: the McpServer's own (spec.auth.caBundle), else the
 * operator-wide one (a ConfigMap or Secret of that name in the server's namespace, or the PEM the operator
 * copies beside the bundle). Undefined: the system roots alone.
 */
export function identityProviderCaSource(
  server: McpServer,
  settings: OperatorSettings,
): V1VolumeProjection | undefined {
  const own = server.spec.auth.caBundle;
  const fallback = settings.identityProviderCa;
  const configMap = own ? own.configMapKeyRef : fallback?.configMapKeyRef;
  const secret = own ? own.secretKeyRef : fallback?.secretKeyRef;
  if (configMap)
    return { configMap: { name: configMap.name, items: [{ key: configMap.key, path: 'ca.crt' }] } };
  if (secret) return { secret: { name: secret.name, items: [{ key: secret.key, path: 'ca.crt' }] } };
  if (!own && fallback?.caBundle)
    return {
      configMap: {
        name: bundleConfigMapName(server.metadata.name),
        items: [{ key: IDP_CA_KEY, path: 'ca.crt' }],
      },
    };
  return undefined;
}

/** Volumes and sidecar flags for the upstream identity mode: the secrets are read from files, rotated in place. */
function upstreamIdentity(server: McpServer): { volumes: V1Volume[]; args: string[] } {
  const { upstreamAuth } = server.spec;
  const secretVolume = (name: string, key: string, path: string): V1Volume => ({
    name: 'upstream-identity',
    secret: { secretName: name, items: [{ key, path }], defaultMode: 0o400 },
  });
  if (upstreamAuth.mode === 'Minted' && upstreamAuth.minted) {
    const ref = upstreamAuth.minted.signingKeySecretRef;
    return {
      volumes: [secretVolume(ref.name, ref.key, SIGNING_KEY_FILE)],
      args: ['--signing-key', `${UPSTREAM_SECRETS_DIR}/${SIGNING_KEY_FILE}`],
    };
  }
  if (upstreamAuth.mode === 'TokenExchange' && upstreamAuth.tokenExchange) {
    const ref = upstreamAuth.tokenExchange.clientSecretRef;
    return {
      volumes: [secretVolume(ref.name, ref.key, CLIENT_SECRET_FILE)],
      args: ['--token-exchange-secret', `${UPSTREAM_SECRETS_DIR}/${CLIENT_SECRET_FILE}`],
    };
  }
  return { volumes: [], args: [] };
}

const RESTRICTED: V1SecurityContext = {
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

type Resources = NonNullable<McpServerSpec['workload']['resources']>;

/** RESTRICTED, as a fixed UID when the egress lock tells the containers apart by it. */
function restrictedAs(settings: OperatorSettings, uid: number): V1SecurityContext {
  return settings.egressLock === 'Enabled' ? { ...RESTRICTED, runAsUser: uid } : RESTRICTED;
}

/** Quantities as Kubernetes writes them: strings ("500m", "1"), whatever the user typed. */
function resourceRequirements(resources: Resources): V1ResourceRequirements {
  const list = (values: Resources['limits']) =>
    values &&
    Object.fromEntries(
      Object.entries(values)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, String(v)]),
    );
  const requests = list(resources.requests);
  const limits = list(resources.limits);
  return { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) };
}

function serverEnv(server: McpServer, settings: OperatorSettings): V1EnvVar[] {
  const proxy = `http://127.0.0.1:${settings.egressProxyPort}`;
  const own = (server.spec.workload.env ?? []).map((e): V1EnvVar => {
    if (e.secretKeyRef) return { name: e.name, valueFrom: { secretKeyRef: e.secretKeyRef } };
    if (e.configMapKeyRef) return { name: e.name, valueFrom: { configMapKeyRef: e.configMapKeyRef } };
    return { name: e.name, value: e.value ?? '' };
  });
  // Outbound traffic goes through the sidecar's egress proxy, which applies spec.egress.
  return [
    ...own,
    { name: 'HTTP_PROXY', value: proxy },
    { name: 'HTTPS_PROXY', value: proxy },
    { name: 'http_proxy', value: proxy },
    { name: 'https_proxy', value: proxy },
    { name: 'NO_PROXY', value: '127.0.0.1,localhost' },
    { name: 'no_proxy', value: '127.0.0.1,localhost' },
    // Node's fetch ignores the variables above unless told (Node >= 22.21 / 24.5); many MCP servers are
    // Node. Without it their calls go direct, and the egress lock refuses them.
    { name: 'NODE_USE_ENV_PROXY', value: '1' },
  ];
}

function serverContainer(server: McpServer, settings: OperatorSettings): V1Container {
  const { workload, transport } = server.spec;
  const stdio = transport.type === 'Stdio';
  return {
    name: 'server',
    image: workload.image,
    ...(workload.imagePullPolicy ? { imagePullPolicy: workload.imagePullPolicy } : {}),
    // A stdio server runs under the bridge, which exposes its stdin/stdout on a socket in the pod.
    ...(stdio
      ? {
          command: [
            BRIDGE_BINARY,
            '--socket',
            BRIDGE_SOCKET,
            '--',
            ...workload.command!,
            ...(workload.args ?? []),
          ],
        }
      : {
          ...(workload.command ? { command: workload.command } : {}),
          ...(workload.args ? { args: workload.args } : {}),
        }),
    ...(workload.workingDir ? { workingDir: workload.workingDir } : {}),
    env: serverEnv(server, settings),
    ...(workload.resources ? { resources: resourceRequirements(workload.resources) } : {}),
    securityContext: restrictedAs(settings, settings.serverUid),
    volumeMounts: [
      { name: 'tmp', mountPath: '/tmp' },
      ...(stdio ? [{ name: 'bridge', mountPath: BRIDGE_DIR }] : []),
    ],
  };
}

function upstreamArgs(server: McpServer): string[] {
  const { transport } = server.spec;
  if (transport.type === 'Stdio') return ['--upstream-socket', BRIDGE_SOCKET];
  return ['--upstream', `http://127.0.0.1:${transport.port ?? 8080}${transport.path ?? '/mcp'}`];
}

function sidecarContainer(server: McpServer, settings: OperatorSettings): V1Container {
  const namespace = server.metadata.namespace ?? 'default';
  const probe = (path: string) => ({ httpGet: { path, port: 'admin' }, periodSeconds: 5, timeoutSeconds: 2 });
  return {
    name: 'portcullis',
    image: settings.sidecarImage,
    imagePullPolicy: settings.sidecarImagePullPolicy,
    args: [
      'sidecar',
      '--policy-source',
      'kubernetes',
      '--server',
      `${namespace}/${server.metadata.name}`,
      '--listen',
      `0.0.0.0:${settings.sidecarPort}`,
      '--admin-listen',
      `0.0.0.0:${settings.adminPort}`,
      '--egress-listen',
      `127.0.0.1:${settings.egressProxyPort}`,
      '--allowed-hosts',
      [
        new URL(server.spec.auth.publicUrl).host,
        `${childName(server)}.${namespace}.svc`,
        `${childName(server)}.${namespace}.svc.${settings.clusterDomain}`,
      ].join(','),
      ...upstreamArgs(server),
      ...upstreamIdentity(server).args,
      ...(identityProviderCaSource(server, settings) ? ['--idp-ca-file', IDP_CA_FILE] : []),
      ...auditArgs(server, settings),
      ...tracingArgs(settings),
    ],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      ...(settings.sidecarNodeOptions ? [{ name: 'NODE_OPTIONS', value: settings.sidecarNodeOptions }] : []),
    ],
    ports: [
      { name: 'mcp', containerPort: settings.sidecarPort, protocol: 'TCP' },
      { name: 'admin', containerPort: settings.adminPort, protocol: 'TCP' },
    ],
    readinessProbe: probe('/readyz'),
    livenessProbe: { ...probe('/healthz'), failureThreshold: 6 },
    resources: server.spec.sidecar?.resources
      ? resourceRequirements(server.spec.sidecar.resources)
      : structuredClone(settings.sidecarResources),
    securityContext: restrictedAs(settings, settings.sidecarUid),
    volumeMounts: [
      { name: 'api-token', mountPath: TOKEN_DIR, readOnly: true },
      ...(upstreamIdentity(server).volumes.length > 0
        ? [{ name: 'upstream-identity', mountPath: UPSTREAM_SECRETS_DIR, readOnly: true }]
        : []),
      ...(identityProviderCaSource(server, settings)
        ? [{ name: 'idp-ca', mountPath: IDP_CA_DIR, readOnly: true }]
        : []),
      ...(server.spec.transport.type === 'Stdio' ? [{ name: 'bridge', mountPath: BRIDGE_DIR }] : []),
      ...(settings.collector
        ? [
            { name: 'audit-wal', mountPath: AUDIT_WAL_DIR },
            { name: 'collector-token', mountPath: COLLECTOR_TOKEN_DIR, readOnly: true },
          ]
        : []),
    ],
  };
}

/** Where the sidecar finds the collector's CA: a ConfigMap the user made, or the one beside the bundle. */
function collectorCaSource(server: McpServer, settings: OperatorSettings): V1ConfigMapProjection | undefined {
  const { collector } = settings;
  if (collector?.caConfigMap)
    return { name: collector.caConfigMap, items: [{ key: 'ca.crt', path: 'ca.crt' }] };
  if (collector?.caBundle) {
    return {
      name: bundleConfigMapName(server.metadata.name),
      items: [{ key: COLLECTOR_CA_KEY, path: 'ca.crt' }],
    };
  }
  return undefined;
}

/** With a collector: the WAL and the shipper. Without one, audit events go to the sidecar's log. */
function auditArgs(server: McpServer, settings: OperatorSettings): string[] {
  const { collector } = settings;
  if (collector === undefined) return [];
  return [
    '--audit-wal',
    AUDIT_WAL_DIR,
    '--audit-wal-max-bytes',
    collector.walMaxBytes,
    '--audit-linger-ms',
    String(collector.shipLingerMs),
    '--collector-url',
    collector.url,
    '--collector-token-file',
    `${COLLECTOR_TOKEN_DIR}/token`,
    ...(collectorCaSource(server, settings) ? ['--collector-ca-file', `${COLLECTOR_TOKEN_DIR}/ca.crt`] : []),
    '--pod-name',
    '$(POD_NAME)',
  ];
}

/** With tracing set: the sidecar exports spans there (the SDK is not loaded otherwise). */
function tracingArgs(settings: OperatorSettings): string[] {
  const { tracing } = settings;
  if (tracing === undefined) return [];
  return ['--otlp-traces-endpoint', tracing.endpoint, '--trace-sample-ratio', String(tracing.sampleRatio)];
}

function auditVolumes(server: McpServer, settings: OperatorSettings): V1Volume[] {
  const { collector } = settings;
  if (collector === undefined) return [];
  const caSource = collectorCaSource(server, settings);
  return [
    { name: 'audit-wal', emptyDir: { sizeLimit: collector.walSizeLimit } },
    {
      name: 'collector-token',
      projected: {
        sources: [
          {
            serviceAccountToken: { path: 'token', audience: COLLECTOR_AUDIENCE, expirationSeconds: 3600 },
          },
          ...(caSource ? [{ configMap: caSource }] : []),
        ],
      },
    },
  ];
}

function volumes(server: McpServer, settings: OperatorSettings): V1Volume[] {
  const tokenVolume: V1Volume = {
    name: 'api-token',
    projected: {
      sources: [
        { serviceAccountToken: { path: 'token', expirationSeconds: 3600 } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  };
  const idpCa = identityProviderCaSource(server, settings);
  return [
    tokenVolume,
    ...upstreamIdentity(server).volumes,
    // Projected, so a rotated CA reaches the sidecar (which re-reads the file) without a restart.
    ...(idpCa ? [{ name: 'idp-ca', projected: { sources: [idpCa] } }] : []),
    ...auditVolumes(server, settings),
    ...egressLockVolumes(settings),
    { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
    ...(server.spec.transport.type === 'Stdio'
      ? [{ name: 'bridge', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } }]
      : []),
  ];
}

/**
 * The egress lock first: if it cannot install its rules the pod stops there, before anything else runs.
 * The bridge binary ships in the Portcullis image; an init container has it install itself into the pod
 * (`portcullis-stdio-bridge install DEST`, an atomic copy of its own executable: the image has no `cp`).
 */
function initContainers(server: McpServer, settings: OperatorSettings): V1Container[] {
  return [
    ...(settings.egressLock === 'Enabled' ? [egressLockContainer(settings)] : []),
    ...(server.spec.transport.type === 'Stdio'
      ? [
          {
            name: 'install-stdio-bridge',
            image: settings.sidecarImage,
            imagePullPolicy: settings.sidecarImagePullPolicy,
            command: [IMAGE_BRIDGE_BINARY, 'install', BRIDGE_BINARY],
            securityContext: RESTRICTED,
            volumeMounts: [{ name: 'bridge', mountPath: BRIDGE_DIR }],
          },
        ]
      : []),
  ];
}

export function buildDeployment(server: McpServer, settings: OperatorSettings): V1Deployment {
  const { workload } = server.spec;
  const init = initContainers(server, settings);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: childMetadata(server, childName(server)),
    spec: {
      replicas: workload.replicas,
      selector: { matchLabels: selectorLabels(server) },
      template: {
        metadata: {
          labels: { ...(workload.podLabels ?? {}), ...commonLabels(server) },
          // Says on every pod whether its server container can bypass the egress proxy (Disabled: it can).
          annotations: { [EGRESS_LOCK_ANNOTATION]: settings.egressLock },
        },
        spec: {
          serviceAccountName: childName(server),
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          // fsGroup: the containers run as different UIDs, and the volumes they share (the stdio bridge's
          // socket, group 0660) or the sidecar alone reads (0400 Secrets, which the kubelet makes group-readable)
          // must be reachable through this group, which the kubelet gives every container of the pod.
          securityContext: {
            runAsNonRoot: true,
            fsGroup: settings.sidecarUid,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          ...(workload.imagePullSecrets
            ? { imagePullSecrets: workload.imagePullSecrets.map((name) => ({ name })) }
            : {}),
          ...(workload.nodeSelector ? { nodeSelector: workload.nodeSelector } : {}),
          ...(init.length > 0 ? { initContainers: init } : {}),
          containers: [serverContainer(server, settings), sidecarContainer(server, settings)],
          volumes: volumes(server, settings),
        },
      },
    },
  };
}
