import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type {
  KubernetesObject,
  V1ConfigMap,
  V1Container,
  V1Deployment,
  V1Secret,
} from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateCrds } from '../../api/crd/definitions.ts';
import { renderCrdFiles } from '../../api/crd/render.ts';
import { runCli, type CliIo } from '../../cli/run.ts';
import { buildDeployment } from '../../operator/builders/deployment.ts';
import { operatorSettingsSchema } from '../../operator/settings.ts';
import { DIST_BUNDLE_ENTRY } from '../../scripts/bundle/bundle.ts';
import { productConfig } from '../../scripts/image/recipe.ts';
import { startCollector, type CollectorUnderTest } from '../harness/collector.ts';
import { CHART_DIR, findObject, renderChart } from '../harness/helm.ts';
import { loadExample } from '../fixtures/examples.ts';

/**
 * The chart's files against their sources: CRDs against the API generator, values.yaml against its
 * documentation, the dashboard against the metrics the code exports, the Dockerfile against what the
 * chart and the operator expect of the image, and the Helm-generated certificate against the collector.
 */
const repoRoot = join(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(repoRoot, path), 'utf8');

describe('chart CRDs', () => {
  it('are the generator output, byte for byte (make crds writes them)', () => {
    const dir = join(CHART_DIR, 'files/crds');
    const expected = renderCrdFiles();
    expect(readdirSync(dir).sort()).toEqual([...expected.keys()].sort());
    for (const [file, text] of expected) expect(readFileSync(join(dir, file), 'utf8'), file).toBe(text);
  });

  it('render to the generated CRDs, plus labels and the keep annotation', async () => {
    const rendered = (await renderChart()).filter((o) => o.kind === 'CustomResourceDefinition');
    const generated = [...generateCrds().values()] as KubernetesObject[];
    expect(rendered).toHaveLength(generated.length);
    for (const crd of generated) {
      const twin = rendered.find((r) => r.metadata?.name === crd.metadata?.name) as
        (KubernetesObject & { spec: unknown }) | undefined;
      expect(twin, crd.metadata?.name).toBeDefined();
      expect(twin!.spec).toEqual(
        JSON.parse(JSON.stringify((crd as KubernetesObject & { spec: unknown }).spec)),
      );
      expect(twin!.metadata?.annotations?.['helm.sh/resource-policy']).toBe('keep');
      expect(twin!.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');
    }
  });
});

describe('values.yaml documentation', () => {
  const valuesText = readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8');
  const values = parseYaml(valuesText) as Record<string, unknown>;

  /** Documented paths: scalars, lists and empty maps (a map with entries is documented by its entries). */
  function leaves(value: unknown, path: string[] = []): [string, unknown][] {
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0)
      return Object.entries(value).flatMap(([key, child]) => leaves(child, [...path, key]));
    return [[path.join('.'), value]];
  }

  it('has a comment above every key', () => {
    const lines = valuesText.split('\n');
    const undocumented = lines
      .map((line, i) => ({ line, i }))
      .filter(({ line }) => /^\s*[A-Za-z_][\w./-]*:(\s|$)/.test(line))
      .filter(({ i }) => !/^\s*#/.test(lines[i - 1] ?? ''))
      .map(({ line, i }) => `${i + 1}: ${line.trim()}`);
    expect(undocumented).toEqual([]);
  });

  it('is tabled in README.md: every key, no other, with its true default', () => {
    const readme = readFileSync(join(CHART_DIR, 'README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| `([^`]+)` \| `([^`]*)` \| (.+) \|$/gm)].map(
      ([, key, fallback, description]) => ({
        key: key!,
        fallback: fallback!,
        description: description!.trim(),
      }),
    );
    const expected = leaves(values);
    expect(rows.map((r) => r.key)).toEqual(expected.map(([key]) => key));
    for (const [key, value] of expected) {
      const row = rows.find((r) => r.key === key)!;
      expect(row.fallback, key).toBe(JSON.stringify(value));
      expect(row.description.length, key).toBeGreaterThan(3);
    }
  });

  it('describes every key in values.schema.json, which refuses unknown ones at every level', () => {
    const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as Schema;
    interface Schema {
      type?: string | string[];
      properties?: Record<string, Schema>;
      additionalProperties?: boolean | Schema;
    }
    const missing: string[] = [];
    const walk = (value: unknown, node: Schema | undefined, path: string) => {
      if (node === undefined) return void missing.push(path);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
      if (node.properties === undefined) return; // a free-form Kubernetes object (affinity, securityContext)
      expect(node.additionalProperties, path).toBe(false);
      for (const [key, child] of Object.entries(value)) walk(child, node.properties[key], `${path}.${key}`);
    };
    walk(values, schema, '');
    expect(missing).toEqual([]);
  });
});

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(join(CHART_DIR, 'files/dashboards/portcullis.json'), 'utf8')) as {
    panels: { type: string; title: string; targets?: { expr: string }[] }[];
  };

  /** Metric names the code registers (prom-client `name:`), and default process metrics under its prefixes. */
  function exportedMetrics(): Set<string> {
    const names = new Set<string>();
    const walk = (dir: string): string[] =>
      readdirSync(join(repoRoot, dir), { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory()
          ? walk(join(dir, entry.name))
          : entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')
            ? [join(dir, entry.name)]
            : [],
      );
    for (const file of ['operator', 'sidecar', 'collector'].flatMap(walk)) {
      const text = read(file);
      for (const [, name] of text.matchAll(/name: '(portcullis_[a-z_]+)'/g)) names.add(name!);
      for (const [, prefix] of text.matchAll(/collectDefaultMetrics\(\{[^}]*prefix: '([a-z_]+)'/g))
        for (const metric of ['process_resident_memory_bytes', 'process_cpu_seconds_total'])
          names.add(`${prefix}${metric}`);
    }
    return names;
  }

  it('queries only metrics the operator, the sidecars and the collector export', () => {
    const exported = exportedMetrics();
    const used = dashboard.panels
      .flatMap((p) => p.targets ?? [])
      .flatMap((t) => [...t.expr.matchAll(/\b(portcullis_[a-z_]+)/g)].map((m) => m[1]!))
      .map((name) => name.replace(/_(bucket|sum|count)$/, ''));
    expect(used.length).toBeGreaterThan(20);
    expect(used.filter((name) => !exported.has(name))).toEqual([]);
    // Each component is on it.
    for (const prefix of ['portcullis_operator_', 'portcullis_collector_', 'portcullis_tool_calls_total'])
      expect(
        used.some((name) => name.startsWith(prefix)),
        prefix,
      ).toBe(true);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const dockerignore = read('.dockerignore');
  const chartObjects = renderChart();

  it('runs the bundled CLI as a fixed non-root user, the UID the chart and the operator expect', async () => {
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "\/app\/dist\/bundle\/portcullis\.js"\]$/m);
    expect(productConfig('24', '0').Entrypoint).toEqual(['node', `/app/dist/bundle/${DIST_BUNDLE_ENTRY}`]);
    const build = JSON.parse(read('tsconfig.build.json')) as {
      compilerOptions: { outDir: string; rootDir: string };
      include: string[];
    };
    expect(build.compilerOptions).toMatchObject({ outDir: 'dist', rootDir: '.' });
    expect(build.include).toContain('cli');
    expect(read('cli/main.ts').length).toBeGreaterThan(0); // -> dist/cli/main.js
    expect(dockerfile).toMatch(/npx tsc -p tsconfig\.build\.json/);

    const user = /^USER (\d+):(\d+)$/m.exec(dockerfile);
    expect(user?.[1]).toBe('65532');
    const chart = parseYaml(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as {
      podSecurityContext: { runAsUser: number };
      operator: { settings: { sidecarUid: number } };
    };
    expect(chart.podSecurityContext.runAsUser).toBe(65532);
    expect(chart.operator.settings.sidecarUid).toBe(operatorSettingsSchema.parse({}).sidecarUid);
    expect(operatorSettingsSchema.parse({}).sidecarUid).toBe(65532);
  });

  it('builds from every source folder tsconfig.build.json compiles, and .dockerignore lets exactly those in', () => {
    const build = JSON.parse(read('tsconfig.build.json')) as { include: string[] };
    const copied = [...dockerfile.matchAll(/^COPY (\w[\w/-]*) \1$/gm)].map((m) => m[1]);
    expect(copied.sort()).toEqual([...build.include].sort());
    const allowed = [...dockerignore.matchAll(/^!([\w/-]+)\/$/gm)].map((m) => m[1]);
    expect(allowed.sort()).toEqual([...build.include, 'stdio-bridge'].sort());
  });

  it('records the commit it is built from as make build does, from a build argument (no .git inside)', () => {
    expect(read('Makefile')).toMatch(/^\tnode scripts\/write-build-info\.ts dist$/m);
    expect(dockerfile).toMatch(/^ARG PORTCULLIS_COMMIT$/m);
    expect(dockerfile).toMatch(/^COPY scripts\/write-build-info\.ts scripts\/$/m);
    expect(dockerignore).toMatch(/^!scripts\/write-build-info\.ts$/m);
    // After the compile (dist/ exists) and before the final stage copies dist/.
    const steps = dockerfile.split('\n');
    const compile = steps.findIndex((line) => /^RUN npx tsc -p tsconfig\.build\.json$/.test(line));
    const record = steps.findIndex((line) => /^RUN node scripts\/write-build-info\.ts dist$/.test(line));
    const finalCopy = steps.findIndex((line) => line.startsWith('COPY --from=build /src/dist'));
    expect(compile).toBeGreaterThan(0);
    expect(record).toBeGreaterThan(compile);
    expect(finalCopy).toBeGreaterThan(record);
  });

  it('bundles dist/ as make build does, after the commit is recorded and before the final stage', () => {
    expect(read('Makefile')).toMatch(/^\tnode scripts\/bundle\/main\.ts dist$/m);
    expect(dockerfile).toMatch(/^COPY scripts\/bundle\/\*\.ts scripts\/bundle\/$/m);
    expect(dockerignore).toMatch(/^!scripts\/bundle\/\*\.ts$/m);
    const steps = dockerfile.split('\n');
    const record = steps.findIndex((line) => /^RUN node scripts\/write-build-info\.ts dist$/.test(line));
    const bundle = steps.findIndex((line) => /^RUN node scripts\/bundle\/main\.ts dist$/.test(line));
    const finalCopy = steps.findIndex((line) => line.startsWith('COPY --from=build /src/dist'));
    expect(bundle).toBeGreaterThan(record);
    expect(finalCopy).toBeGreaterThan(bundle);
  });

  it('ships production dependencies only, Node 24 on Debian slim, and iptables for egress-lock', () => {
    expect(dockerfile).toMatch(/^ARG NODE_VERSION=24$/m);
    expect(dockerfile).toMatch(/^FROM node:\$\{NODE_VERSION\}-bookworm-slim$/m);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/apt-get install -y --no-install-recommends iptables/);
    const goVersion = /^ARG GO_VERSION=(\d+\.\d+)$/m.exec(dockerfile)?.[1];
    const goMod = /^go (\d+\.\d+)/m.exec(read('stdio-bridge/go.mod'))?.[1];
    expect(goVersion).toBe(goMod);
    expect(dockerfile).toMatch(/CGO_ENABLED=0 go build/);
  });

  it('has what the operator puts into server pods: the bridge path and the subcommands it runs', async () => {
    const settings = operatorSettingsSchema.parse({});
    const server = loadExample('stdio-docs.yaml').servers[0]!;
    const deployment = buildDeployment({ ...server, metadata: { ...server.metadata, uid: 'u' } }, settings);
    const pod = deployment.spec!.template.spec!;
    const ours = [...(pod.initContainers ?? []), ...pod.containers].filter(
      (c: V1Container) => c.image === settings.sidecarImage,
    );
    expect(ours.length).toBeGreaterThanOrEqual(2);
    const copiedTo = [...dockerfile.matchAll(/^COPY --from=\w+ \S+ (\S+)$/gm)].map((m) => m[1]);
    const io: CliIo = {
      out: () => undefined,
      err: () => undefined,
      env: {},
      childEnv: {},
      untilShutdown: () => Promise.resolve(),
    };
    for (const container of ours) {
      if (container.command) {
        // A plain command: its file arguments from the image must be files the Dockerfile puts there.
        for (const path of container.command.filter((a) => a.startsWith('/usr/')))
          expect(copiedTo, container.name).toContain(path);
      } else {
        // No command: the image's entry point runs args[0] as a portcullis subcommand.
        expect(await runCli([container.args![0]!, '--help'], io), container.name).toBe(0);
      }
    }
  });

  it('is the image the chart installs and the sidecar image the operator defaults to', async () => {
    const operator = findObject<V1Deployment>(await chartObjects, 'Deployment', '-operator');
    expect(operator.spec!.template.spec!.containers[0]!.image).toBe(
      operatorSettingsSchema.parse({}).sidecarImage,
    );
    expect(dockerfile).toContain(operatorSettingsSchema.parse({}).sidecarImage);
  });
});

describe('the Helm-generated collector certificate', () => {
  let collector: CollectorUnderTest;
  let ca: string;

  beforeAll(async () => {
    const objects = await renderChart({}, { release: 'pc', namespace: 'portcullis-system' });
    const secret = findObject<V1Secret>(objects, 'Secret', '-collector-tls');
    const decode = (key: string) => Buffer.from(secret.data![key]!, 'base64').toString('utf8');
    ca = findObject<V1ConfigMap>(objects, 'ConfigMap', '-collector-ca').data!['ca.crt']!;
    expect(decode('ca.crt').trim()).toBe(ca.trim());
    const dir = mkdtempSync(join(inject('scratchDir'), 'helm-tls-'));
    writeFileSync(join(dir, 'tls.crt'), decode('tls.crt'));
    writeFileSync(join(dir, 'tls.key'), decode('tls.key'));
    collector = await startCollector({
      flags: {
        'query-auth': 'none',
        'tls-cert-file': join(dir, 'tls.crt'),
        'tls-key-file': join(dir, 'tls.key'),
      },
    });
  });

  afterAll(() => collector?.stop());

  /** Whether a TLS client trusting the chart's CA accepts the collector under `name`. */
  const verifies = (name: string) =>
    new Promise<string>((resolve) => {
      const { port } = new URL(collector.url);
      const socket = connect({ host: '127.0.0.1', port: Number(port), ca, servername: name }, () => {
        socket.end();
        resolve('ok');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });

  it('is served by the collector and verifies for the Service names sidecars use, and localhost', async () => {
    expect(await verifies('pc-portcullis-collector.portcullis-system.svc')).toBe('ok');
    expect(await verifies('pc-portcullis-collector.portcullis-system.svc.cluster.local')).toBe('ok');
    expect(await verifies('localhost')).toBe('ok');
    expect(await verifies('evil.example.com')).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });
});
