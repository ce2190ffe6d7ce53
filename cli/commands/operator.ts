import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { KubeClient } from '../../kube/client.ts';
import { loadKubeSource } from '../../kube/load-source.ts';
import { buildLogFields } from '../../lib/build-info.ts';
import { startLeaderElection } from '../../operator/controller/leader-election.ts';
import { startOperator } from '../../operator/manager.ts';
import { createOperatorMetrics } from '../../operator/metrics.ts';
import { operatorSettingsSchema } from '../../operator/settings.ts';
import { readBuildInfo } from '../build-info.ts';
import { EXIT, type CliIo } from '../io.ts';
import { OPERATOR_FLAGS, parseOperatorFlags } from './operator-flags.ts';

export const OPERATOR_HELP = `portcullis operator — reconcile McpServers and ToolPolicies into guarded workloads

Usage:
  portcullis operator [flags]

Flags:
  --kubeconfig FILE     kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config, else the pod's
                        ServiceAccount)
  --context NAME        kubeconfig context
  -n, --namespace NS[,NS...]
                        watch only these namespaces; repeatable (-n a,b -n c). Roles in each of them
                        suffice (default: all namespaces, which needs a ClusterRole)
  --settings FILE       YAML or JSON operator settings (sidecar image, ports, API server CIDRs, collector)
  --workers N           concurrent reconciles (default 4)
  --leader-elect BOOL   take a Lease before reconciling, so only one replica acts (default true)
  --lease-namespace NS  namespace of the Lease (default: $POD_NAMESPACE, else portcullis-system)
  --lease-duration D    how long a Lease holds without renewal; a standby takes over after it
                        (whole seconds, default 15s)
  --lease-renew-deadline D
                        a leader that cannot renew for this long stops (default 10s; < lease duration)
  --lease-retry-period D
                        how often to renew or try to acquire (default 2s; < renew deadline)
  --metrics-listen H:P  /metrics, /healthz and /readyz (default 0.0.0.0:8080)
  --log-level LEVEL     fatal|error|warn|info|debug|trace|silent (default info)
  -h, --help            show this help

Durations: 500ms, 4s, 1m, 1m30s.

Exit codes: 0 stopped cleanly, 1 failed at runtime, 2 invalid flags or settings.
`;

/** The operator's API client, from lean credentials when they suffice (kube/load-source.ts). */
async function kubeClient(
  path: string | undefined,
  context: string | undefined,
  env: CliIo['env'],
): Promise<KubeClient> {
  const source = await loadKubeSource({
    ...(path !== undefined ? { kubeconfig: path } : {}),
    ...(context !== undefined ? { context } : {}),
    env,
  });
  return new KubeClient(source);
}

export async function runOperator(args: readonly string[], io: CliIo): Promise<number> {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPERATOR_FLAGS }>>['values'];
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: OPERATOR_FLAGS,
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.err(`portcullis operator: ${(error as Error).message}\nRun 'portcullis operator --help' for usage.\n`);
    return EXIT.usage;
  }
  if (values.help) {
    io.out(OPERATOR_HELP);
    return EXIT.ok;
  }
  const flags = parseOperatorFlags(values);
  if (!flags.ok) {
    io.err(
      `portcullis operator: invalid flags:\n${flags.message}\nRun 'portcullis operator --help' for usage.\n`,
    );
    return EXIT.usage;
  }
  const { namespaces, workers, lease } = flags.flags;
  let settingsInput: unknown = {};
  if (values.settings) {
    try {
      settingsInput = parseYaml(await readFile(values.settings, 'utf8'));
    } catch (error) {
      io.err(`portcullis operator: cannot read --settings ${values.settings}: ${(error as Error).message}\n`);
      return EXIT.usage;
    }
  }
  const settings = operatorSettingsSchema.safeParse(settingsInput ?? {});
  if (!settings.success) {
    io.err(`portcullis operator: invalid settings:\n${z.prettifyError(settings.error)}\n`);
    return EXIT.usage;
  }
  const log = pino({ level: values['log-level'] ?? 'info' });
  log.info(
    {
      ...buildLogFields(await readBuildInfo({ env: io.env })),
      namespaces: namespaces.length > 0 ? namespaces : 'all',
      workers,
      leaderElect: values['leader-elect'] !== 'false',
    },
    'operator starting',
  );
  let kube: KubeClient;
  try {
    kube = await kubeClient(values.kubeconfig, values.context, io.env);
  } catch (error) {
    io.err(`portcullis operator: cannot load the kubeconfig: ${(error as Error).message}\n`);
    return EXIT.usage;
  }
  const metrics = createOperatorMetrics();
  const [metricsHost, metricsPort] = (values['metrics-listen'] ?? '0.0.0.0:8080').split(/:(?=\d+$)/);
  const metricsServer = createServer((request, response) => {
    const path = request.url?.split('?', 1)[0];
    if (path === '/metrics') {
      void metrics.registry
        .metrics()
        .then((text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text));
    } else if (path === '/healthz' || path === '/readyz') response.writeHead(200).end('ok');
    else response.writeHead(404).end();
  });
  metricsServer.listen(Number(metricsPort), metricsHost);
  const start = () =>
    startOperator({
      kube,
      settings: settings.data,
      namespaces,
      workers,
      log,
      metrics,
    });
  try {
    if (values['leader-elect'] === 'false') {
      const operator = await start();
      await io.untilShutdown();
      await operator.stop();
      metricsServer.close();
      return EXIT.ok;
    }
    // Only the Lease holder reconciles; losing the Lease ends the process so it restarts clean.
    let operator: Awaited<ReturnType<typeof start>> | undefined;
    let lost: (() => void) | undefined;
    const lostLease = new Promise<void>((resolve) => (lost = resolve));
    const elector = startLeaderElection({
      kube,
      namespace: values['lease-namespace'] ?? io.env['POD_NAMESPACE'] ?? 'portcullis-system',
      name: 'portcullis-operator',
      identity: `${hostname()}-${randomBytes(4).toString('hex')}`,
      leaseDurationSeconds: lease.durationSeconds,
      renewDeadlineMs: lease.renewDeadlineMs,
      retryPeriodMs: lease.retryPeriodMs,
      onStartedLeading: () => {
        metrics.leader.set(1);
        log.info({}, 'leading: starting reconcilers');
        void start().then(
          (running) => (operator = running),
          (error: unknown) => log.error({ err: error }, 'operator failed to start'),
        );
      },
      onStoppedLeading: () => {
        metrics.leader.set(0);
        log.error({}, 'lost the Lease: stopping');
        lost?.();
      },
      onError: (error) => log.warn({ err: error }, 'leader election attempt failed'),
    });
    const reason = await Promise.race([
      io.untilShutdown().then(() => 'shutdown' as const),
      lostLease.then(() => 'lost' as const),
    ]);
    await operator?.stop();
    await elector.stop();
    metricsServer.close();
    return reason === 'shutdown' ? EXIT.ok : EXIT.failure;
  } catch (error) {
    io.err(`portcullis operator: ${(error as Error).message}\n`);
    return EXIT.failure;
  }
}
