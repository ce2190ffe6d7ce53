// `make demo-cluster`: the `make demo` story on a real node. A single-node cluster (test/cluster), the chart
// with default values, `kubectl apply -f examples/`, a real OpenID provider and real MCP clients in pods,
// the kill switch with `portcullis kill`, and `portcullis audit`. Each step checks that Portcullis behaved
// as described (exit 1 otherwise). The cluster stays up for exploring; `make cluster-down` removes it.
import { resolve } from 'node:path';
import { runKill } from '../../cli/commands/kill.ts';
import { runRelease } from '../../cli/commands/release.ts';
import type { CliIo } from '../../cli/run.ts';
import { bringUpCluster } from './bring-up.ts';
import { openCollector } from './collector-access.ts';
import { useCluster } from './context.ts';
import { kubectl } from './kube.ts';
import {
  BILLING_NAMESPACE,
  CALLERS,
  ensurePlatform,
  runClient,
  waitForCondition,
  type ClientLine,
} from './platform.ts';

const started = performance.now();
const seconds = (since: number): string => `${((performance.now() - since) / 1000).toFixed(1)} s`;
let failures = 0;

function step(title: string): void {
  console.log(`\n\u001b[1m${title}\u001b[0m`);
}

function check(what: string, ok: boolean, detail = ''): void {
  console.log(`  ${ok ? '\u2713' : '\u2717'} ${what}${detail ? `  (${detail})` : ''}`);
  if (!ok) failures += 1;
}

function cliIo(kubeconfig: string): CliIo {
  return {
    out: (text) => process.stdout.write(`  $ ${text}`),
    err: (text) => process.stderr.write(`  ${text}`),
    env: { KUBECONFIG: kubeconfig },
    childEnv: {},
    untilShutdown: () => new Promise(() => {}),
  };
}

const code = (line: ClientLine | undefined): string | undefined => line?.error?.data?.portcullis?.code;

step(
  '1. A single-node cluster on this machine (containerd, kubelet, CNI, CoreDNS, NetworkPolicy, StorageClass)',
);
const { context, reused, serverUrl } = await bringUpCluster();
useCluster(context);
check(
  `${reused ? 'reusing the cluster' : 'cluster up'} at ${serverUrl}`,
  true,
  `export KUBECONFIG=${context.kubeconfig}`,
);

step(
  '2. helm install portcullis charts/portcullis (default values), an OpenID provider, the billing example',
);
const platformStarted = performance.now();
await ensurePlatform();
check(
  'chart installed, operator and collector Ready; billing Ready behind its sidecar',
  true,
  seconds(platformStarted),
);

step('3. kubectl apply -f examples/');
kubectl(['apply', '-f', resolve(import.meta.dirname, '../../examples')]);
for (const [namespace, name] of [
  ['finance', 'billing'],
  ['knowledge', 'docs-search'],
] as const) {
  await waitForCondition(namespace, `mcpserver/${name}`, 'Ready');
  check(`${namespace}/${name} Ready`, true);
}
console.log(kubectl(['get', 'mcpservers', '-A']).replace(/^/gm, '    '));

step('4. Real MCP calls from a client pod, through the Service, with tokens from the in-cluster provider');
const support = await runClient('demo-support', {
  caller: CALLERS.support,
  mode: 'steps',
  steps: [
    { list: true },
    { tool: 'list_invoices', args: { customer_id: 'globex' } },
    { tool: 'issue_refund', args: { customer_id: 'acme', amount_cents: 100 } },
  ],
});
check(
  'support sees the two read tools, not the refund',
  support.find((l) => l.list)?.list?.join(',') === 'list_invoices,read_invoice',
);
const bound = support.find((l) => l.tool === 'list_invoices');
check(
  "asking for globex's invoices returns acme's (customer_id forced to the caller's tenant)",
  bound?.result?.structuredContent?.['customer_id'] === 'acme',
);
check('issue_refund refused', code(support.find((l) => l.tool === 'issue_refund')) === 'no_matching_rule');

step(`5. portcullis kill mcpserver/billing -n ${BILLING_NAMESPACE}, then release`);
const io = cliIo(context.kubeconfig);
await runKill(
  ['mcpserver/billing', '-n', BILLING_NAMESPACE, '--reason', 'DEMO-1 suspected invoice scraping'],
  io,
);
const killed = await runClient('demo-killed', {
  caller: CALLERS.support,
  mode: 'steps',
  steps: [{ tool: 'list_invoices', args: { customer_id: 'acme' } }],
});
// A killed server refuses even the session's initialize: the client may fail to connect, with the code.
check(
  'every call refused with code killed',
  killed.some((l) => code(l) === 'killed' || (l.failed ?? '').includes('"code":"killed"')),
);
await runRelease(['mcpserver/billing', '-n', BILLING_NAMESPACE, '--reason', 'DEMO-1 closed'], io);
const released = await runClient('demo-released', {
  caller: CALLERS.support,
  mode: 'steps',
  steps: [{ tool: 'list_invoices', args: { customer_id: 'acme' } }],
});
check('released: calls go through again', released.find((l) => l.tool)?.ok === true);

step('6. portcullis audit: who called what (from the collector in the cluster)');
const collector = await openCollector();
try {
  const events = await collector.audit(['-n', BILLING_NAMESPACE, '--since', '10m', '--limit', '20']);
  for (const event of events.slice(0, 8)) {
    const e = event as Record<string, unknown>;
    console.log(
      `    ${String(e['time'])}  ${String(e['tool'] ?? e['kind'])}  ${String(e['agent'] ?? '-')}  ${String(e['tenant'] ?? '-')}  ${String(e['decision'])}  ${String(e['code'] ?? '')}`,
    );
  }
  check(
    'the calls above are in the audit trail',
    events.some((e) => (e as Record<string, unknown>)['decision'] === 'killed'),
  );
} finally {
  collector.close();
}

console.log(
  `\n${failures === 0 ? 'Every step behaved as described' : `${failures} step(s) did not behave as described`} (${seconds(started)}).`,
);
console.log(`The cluster stays up: export KUBECONFIG=${context.kubeconfig}; make cluster-down removes it.`);
process.exit(failures === 0 ? 0 : 1);
